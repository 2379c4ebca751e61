// One replica of a data partition as the partition host holds it: the extent store on
// the disk chosen at creation, the leader's state of live append streams, the Raft state
// machine of overwrites, the usage the heartbeat reports, and the repair schedule.
// Request handling is in service.ts, the repair protocol in repair-runner.ts.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeDisk } from '../disk/index.js';
import { AtollError, StatusCode, assert } from '../errors/index.js';
import type { HostedPartition, PartitionContext, PartitionSpec, PartitionStateHash, PartitionUsage } from '../nodeagent/index.js';
import { PartitionStatus } from '../proto/generated/master.js';
import type { GroupStateMachine } from '../raftstore/index.js';
import { chooseDisk, type DiskSpace } from './disk-space.js';
import { ExtentStore, hashExtentState, normalExtentIdFirst, punchHoleWithFallocate } from './extent/index.js';
import { decodeOverwrite } from './overwrite-command.js';

/** `<partition dir>/disk.json`: which disk holds the partition's extents. */
export const diskRecordName = 'disk.json';

export interface DataPartitionHooks {
  /** Runs one repair round as leader; resolves when it is over (failures are logged). */
  readonly repairRound: (partition: DataPartition) => Promise<void>;
  readonly repairIntervalMs: number;
  readonly repairIdleMs: number;
  readonly packetBytesMax: number;
  /** A tiny extent takes no file that would end past this. */
  readonly extentBytesMax: number;
}

export class DataPartition implements HostedPartition {
  readonly stateMachine: GroupStateMachine;
  /**
   * This replica holds every extent as the leader last compared it and may serve reads.
   * False after a restart or for a replica joining an existing group, until repair says so.
   */
  caughtUp: boolean;
  #context: PartitionContext | null = null;
  // Leader only: the offset the next packet of each extent must have (packets in flight
  // counted), extents closed to appends after a failed packet, and when each was last
  // appended (repair leaves live streams alone).
  readonly #appendEnds = new Map<number, number>();
  readonly #closed = new Set<number>();
  readonly #lastAppendMs = new Map<number, number>();
  // Leader only: tiny extents that take small files. One opens when a repair round finds
  // it the same size on every replica; a failed write closes it until then (its replicas
  // may differ, and every replica must write each file at the leader's offset).
  readonly #tinyOpen = new Set<number>();
  #tinyNext = 0;
  #overwritesInFlight = 0;
  #lastOverwriteWritten = 0;
  #nextRepairAtMs = 0;
  #repairRunning: Promise<void> | null = null;
  #closedForGood = false;
  readonly #untrack: () => void;

  private constructor(
    readonly spec: PartitionSpec,
    readonly store: ExtentStore,
    readonly disk: string,
    readonly storeDir: string,
    private readonly diskSpace: DiskSpace,
    private readonly hooks: DataPartitionHooks,
    caughtUp: boolean,
  ) {
    this.caughtUp = caughtUp;
    this.#untrack = diskSpace.track(disk, () => this.store.usedBytes());
    this.stateMachine = {
      apply: (index, command) => this.#applyOverwrite(index, command),
      // The extents are the state and live in their own files; a snapshot carries none of
      // it. A replica restored from a snapshot missed overwrites: repair compares every
      // block with the other replicas before it serves again.
      snapshot: () => new Uint8Array(0),
      restore: () => {
        this.caughtUp = false;
      },
    };
  }

  /**
   * Opens the partition in `dir` (the host's partition directory). A new partition goes
   * on the disk with the most room; `disk.json` remembers it.
   */
  static async open(spec: PartitionSpec & { bootstrap?: boolean }, dir: string, diskSpace: DiskSpace, hooks: DataPartitionHooks): Promise<DataPartition> {
    await mkdir(dir, { recursive: true });
    const recordPath = join(dir, diskRecordName);
    let disk: string;
    let existed = false;
    if (existsSync(recordPath)) {
      disk = (JSON.parse(await readFile(recordPath, 'utf8')) as { disk: string }).disk;
      existed = true;
      if (!diskSpace.disks.includes(disk)) throw new AtollError(StatusCode.INTERNAL, `data partition ${spec.partitionId}: its disk ${disk} is not configured any more (disks: ${diskSpace.disks.join(', ')})`);
    } else {
      await diskSpace.refresh();
      disk = chooseDisk(diskSpace.rooms(), 0);
      await writeFile(`${recordPath}.tmp`, `${JSON.stringify({ disk })}\n`, { flush: true });
      await rename(`${recordPath}.tmp`, recordPath);
    }
    const storeDir = join(disk, 'partitions', String(spec.partitionId));
    if (!existed) await rm(storeDir, { recursive: true, force: true }); // leftovers of a deleted replica
    const store = await ExtentStore.open(new NodeDisk(), storeDir, undefined, { punchHole: punchHoleWithFallocate });
    // A replica created with the group (bootstrap) starts complete; a restarted one, or one
    // joining a group that already holds data, must be filled by repair first.
    const caughtUp = !existed && spec.bootstrap === true;
    return new DataPartition(spec, store, disk, storeDir, diskSpace, hooks, caughtUp);
  }

  get context(): PartitionContext {
    assert(this.#context !== null, () => `data partition ${this.spec.partitionId}: used before the host attached it`);
    return this.#context;
  }

  attach(context: PartitionContext): void {
    this.#context = context;
  }

  get partitionId(): number {
    return this.spec.partitionId;
  }

  usage(): PartitionUsage {
    const extentCount = this.store.list().filter((extent) => !extent.tiny).length;
    // Read-only when a packet no longer fits: the master then stops placing writes here.
    const full = this.diskSpace.roomOf(this.disk) < this.hooks.packetBytesMax;
    return { usedBytes: this.store.usedBytes(), extentCount, ...(full ? { status: PartitionStatus.PARTITION_READ_ONLY } : {}) };
  }

  /** SHA-256 of extent ids, sizes and block CRCs (extent/state-hash.ts), from memory. */
  async stateHash(): Promise<PartitionStateHash> {
    const digest = hashExtentState(this.store.list().map((info) => ({ extentId: info.extentId, size: info.size, blockCrcs: this.store.blockCrcs(info.extentId) })));
    return { hash: digest.hash, extents: digest.extents, bytes: digest.bytes, caughtUp: this.caughtUp };
  }

  /** NO_SPACE unless `bytes` more fit on this partition's disk. */
  checkRoom(action: string, bytes: number): void {
    this.diskSpace.checkRoom(`${action} in data partition ${this.partitionId}`, this.disk, bytes);
  }

  // ------------------------------------------------------------------ leader's append state

  /**
   * Admits a packet of a client's stream: it must start where the previous one ends
   * (packets in flight counted). The caller reports the outcome with appendDone/appendFailed.
   */
  admitAppend(extentId: number, offset: number, bytes: number): void {
    if (extentId < normalExtentIdFirst) throw new AtollError(StatusCode.INVALID_ARGUMENT, `append to extent ${extentId} of data partition ${this.partitionId}: tiny extents take no appends`);
    if (!this.store.hasExtent(extentId)) {
      throw new AtollError(StatusCode.NOT_FOUND, `append to extent ${extentId} of data partition ${this.partitionId}: no such extent${this.store.isDeleted(extentId) ? ' (deleted)' : ''}`);
    }
    if (this.#closed.has(extentId)) {
      throw new AtollError(StatusCode.UNAVAILABLE, `append to extent ${extentId} of data partition ${this.partitionId}: the extent is closed after a failed append; continue on a new extent`);
    }
    const end = this.#appendEnds.get(extentId) ?? this.store.size(extentId);
    if (offset !== end) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `append to extent ${extentId} of data partition ${this.partitionId}: offset ${offset} is not the end of the extent: expected offset ${end}`);
    }
    this.#appendEnds.set(extentId, end + bytes);
  }

  /**
   * Admits a small file of `bytes` for a tiny extent: picks an open one round-robin and
   * the aligned offset after the files in flight. UNAVAILABLE (retryable) when none is
   * open: the client tries another partition or a normal extent.
   */
  admitTiny(bytes: number, nowMs: number): { extentId: number; offset: number } {
    const open = [...this.#tinyOpen].sort((left, right) => left - right);
    for (let tried = 0; tried < open.length; tried++) {
      const extentId = open[(this.#tinyNext + tried) % open.length]!;
      const offset = this.store.tinyEnd(this.#appendEnds.get(extentId) ?? this.store.size(extentId));
      if (offset + bytes > this.hooks.extentBytesMax) continue;
      this.#tinyNext = (this.#tinyNext + tried + 1) % open.length;
      this.#appendEnds.set(extentId, offset + bytes);
      // Busy from admission on: repair must not copy a tail while a file is in flight.
      this.#lastAppendMs.set(extentId, nowMs);
      return { extentId, offset };
    }
    throw new AtollError(
      StatusCode.UNAVAILABLE,
      `write a small file of ${bytes} bytes to data partition ${this.partitionId}: no tiny extent is open here (${open.length} open; they open once repair finds their replicas equal); use a normal extent`,
      { retryAfterMs: 500 },
    );
  }

  /** Tiny extents a repair round found the same on every replica, with nothing to repair. */
  tinyVerified(extentIds: Iterable<number>): void {
    for (const extentId of extentIds) {
      if (this.#tinyOpen.has(extentId)) continue;
      this.#appendEnds.delete(extentId);
      this.#tinyOpen.add(extentId);
    }
  }

  /** The tiny extents open to small files (leader only). */
  openTinyExtents(): number[] {
    return [...this.#tinyOpen].sort((left, right) => left - right);
  }

  appendDone(extentId: number, nowMs: number): void {
    this.#lastAppendMs.set(extentId, nowMs);
  }

  /**
   * Marks extents busy for the idle period, so repair leaves them alone: an overwrite on
   * its way through Raft (proposed, or applied here) or tiny ranges being released have
   * reached some replicas and not yet the others, and the majority's (older) copy is not
   * the truth.
   */
  markBusy(extentIds: Iterable<number>, nowMs: number): void {
    for (const extentId of extentIds) this.#lastAppendMs.set(extentId, nowMs);
  }

  /**
   * A packet failed somewhere: no more appends to this extent (its replicas may differ).
   * A tiny extent opens again once repair has made its replicas equal.
   */
  appendFailed(extentId: number, nowMs: number): void {
    if (extentId < normalExtentIdFirst) this.#tinyOpen.delete(extentId);
    else this.#closed.add(extentId);
    this.#appendEnds.delete(extentId);
    this.#lastAppendMs.set(extentId, nowMs);
  }

  extentCreated(extentId: number, nowMs: number): void {
    this.#appendEnds.set(extentId, 0);
    this.#lastAppendMs.set(extentId, nowMs);
  }

  extentDeleted(extentId: number): void {
    this.#appendEnds.delete(extentId);
    this.#closed.delete(extentId);
    this.#lastAppendMs.delete(extentId);
  }

  /** Extents appended to within the idle period (repair leaves them alone). */
  busyExtents(nowMs: number): Set<number> {
    const busy = new Set<number>();
    for (const [extentId, at] of this.#lastAppendMs) {
      if (nowMs - at < this.hooks.repairIdleMs) busy.add(extentId);
      else this.#lastAppendMs.delete(extentId);
    }
    return busy;
  }

  // ------------------------------------------------------------------ host callbacks

  onLeadershipChange(leading: boolean): void {
    // A new leader learns the streams' ends from its own store; appends of the old
    // leader's streams that are still in flight fail and the clients move on.
    this.#appendEnds.clear();
    // Tiny extents open again only after this leader compared them with every replica.
    this.#tinyOpen.clear();
    if (leading) this.#nextRepairAtMs = 0;
  }

  /** Asks the leader for a repair round at the next tick (a read found a bad block). */
  repairSoon(): void {
    this.#nextRepairAtMs = 0;
  }

  tick(nowMs: number): void {
    this.diskSpace.refreshIfOld(nowMs);
    if (this.#closedForGood || this.#repairRunning !== null || nowMs < this.#nextRepairAtMs) return;
    if (this.#context === null || !this.#context.isLeader()) return;
    this.#nextRepairAtMs = nowMs + this.hooks.repairIntervalMs;
    this.#repairRunning = this.hooks.repairRound(this).finally(() => {
      this.#repairRunning = null;
    });
  }

  async close(): Promise<void> {
    this.#closedForGood = true;
    await this.#repairRunning;
    this.#untrack();
    await this.store.close();
  }

  /** The replica is deleted: its extents go too (the host removes its own directory). */
  async destroy(): Promise<void> {
    await rm(this.storeDir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ Raft apply

  /**
   * The Raft index the block CRCs stand at: every overwrite at or below it is written
   * here (or failed) and none above it. With no overwrite in flight that is the group's
   * applied index; with some, the index of the last one written (the store runs them one
   * at a time, in apply order, and updates the CRCs as each finishes). Replicas at the
   * same index applied the same overwrites: repair compares blocks only between them
   * (repair-plan.ts). A restarted replica replays its log and reaches the others' index
   * once writes pause.
   */
  writtenIndex(): number {
    if (this.#overwritesInFlight > 0) return this.#lastOverwriteWritten;
    return this.#context?.appliedIndex() ?? 0;
  }

  #written(index: number): void {
    assert(index >= this.#lastOverwriteWritten, () => `data partition ${this.partitionId}: overwrite ${index} written after ${this.#lastOverwriteWritten}`);
    this.#lastOverwriteWritten = index;
    this.#overwritesInFlight -= 1;
  }

  #applyOverwrite(index: number, command: Uint8Array): Promise<AtollError | null> {
    const overwrite = decodeOverwrite(command);
    this.markBusy([overwrite.extentId], Date.now());
    this.#overwritesInFlight += 1;
    // Queued in apply order on the store (one operation at a time), so replicas write
    // the same bytes in the same order. Never rejects: a follower's failure has no caller.
    return this.store.overwrite(overwrite.extentId, overwrite.offset, overwrite.bytes).then(
      () => {
        this.#written(index);
        return null;
      },
      (error: unknown) => {
        this.#written(index);
        const failure = error instanceof AtollError ? error : new AtollError(StatusCode.INTERNAL, String(error), { cause: error });
        // The copies differ now; repair compares the blocks and copies the majority's.
        this.#context?.logger.warn({ extentId: overwrite.extentId, offset: overwrite.offset, err: failure.message }, 'overwrite failed on this replica; left to repair');
        this.caughtUp = this.#context?.isLeader() === true ? this.caughtUp : false;
        return failure;
      },
    );
  }
}
