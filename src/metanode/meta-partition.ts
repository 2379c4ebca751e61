// One replica of a meta partition: the namespace state machine over a key-value engine,
// replicated by the partition's Raft group. Mutations are MetaCommand entries (the
// operation and the time the leader chose for it); every replica applies them in log
// order through the pure operations of partition/namespace.ts and writes the resulting
// mutations with the entry's index, so apply is idempotent against the engine's applied
// index (an LMDB engine that is ahead of the log after a restart skips what it has).
// Reads go through a read index on the leader: a follower never answers from its state.
import { AtollError, assert, StatusCode } from '../errors/index.js';
import type { HostedPartition, PartitionContext, PartitionSpec, PartitionStateHash, PartitionUsage } from '../nodeagent/index.js';
import { NodeTaskKind, PartitionStatus, type NodeTask } from '../proto/generated/master.js';
import { DropRemoteLinksRequest, InodeType, MetaCommand, RenameStep, RenameTxnRequest, RenameTxnState, SetattrField, XattrFlag, type Dentry, type DropRemoteLinksResponse, type Inode, type RenameTxnResponse } from '../proto/generated/metanode.js';
import type { GroupStateMachine } from '../raftstore/index.js';
import { normalExtentIdFirst } from '../datanode/extent/limits.js';
import * as freeing from './partition/freeing.js';
import * as links from './partition/links.js';
import * as linkDrops from './partition/link-drops.js';
import * as renameTxn from './partition/rename-txn.js';
import { CounterName, counterKey, decodeCounterValue, decodeSessionLeaseKey, decodeTrashKey, encodeCounterValue, inodeKey, sessionLeasePrefixAll, trashPrefixAll } from './partition/keys.js';
import * as sessions from './partition/sessions.js';
import * as trash from './partition/trash.js';
import { namespaceLimitsDefault, type NamespaceLimits } from './partition/limits.js';
import * as namespace from './partition/namespace.js';
import type { InodeRange, Outcome } from './partition/namespace.js';
import type { KvEngine, KvMutation } from './store/index.js';
import { decodeKvSnapshot, encodeKvSnapshot, hashKvState } from './store/index.js';

/** The volume's root directory is the first inode of its first meta partition. */
export const rootIno = 1;
const rootModeDefault = 0o755;
const unboundedInodeEnd = Number.MAX_SAFE_INTEGER;

export interface MetaPartitionOptions {
  readonly spec: PartitionSpec;
  readonly engine: KvEngine;
  readonly limits?: NamespaceLimits;
  /** Milliseconds since the epoch: the leader's time for the operations it proposes. */
  readonly nowMs?: () => number;
  /** The volume's trash retention as the masters last said (undefined: not known yet). */
  readonly trashRetentionSec?: () => number | undefined;
  /** How often the leader looks for housekeeping (expired sessions, inodes to free, old trash). */
  readonly housekeepingIntervalMs?: number;
  /**
   * Frees extent ranges on a data partition's replicas (the datanodes' DeleteExtents):
   * normal extents whole (offset and size 0), tiny extent ranges as given. Resolves once
   * the partition's leader did it; deleting again is harmless.
   */
  readonly releaseExtents?: (partitionId: number, ranges: ReadonlyArray<{ extentId: number; offset: number; size: number }>) => Promise<void>;
  /**
   * Looks up an entry in the volume's namespace wherever its directory lives (the orphan
   * sweep asks whether a two-step create got its dentry): the entry's inode, or 0 when the
   * entry does not exist. Throws when the answer is not known (the sweep then waits).
   */
  readonly lookupEntry?: (parentIno: number, name: string) => Promise<number>;
  /** Seconds a two-step create may take before its inode is checked as a possible orphan. */
  readonly orphanGraceSec?: number;
  /** Sends a cross-partition rename step to another partition of the volume (recovery). */
  readonly renameTxnAt?: (request: RenameTxnRequest) => Promise<RenameTxnResponse>;
  /** Seconds a cross-partition rename may take before the leaders finish or roll it back. */
  readonly renameTxnTimeoutSec?: number;
  /** The partition of the volume that holds inode `ino` (where a link owed to it goes). */
  readonly partitionOfIno?: (ino: number) => Promise<number>;
  /** Sends links this partition owes to the partition holding the inodes (DropRemoteLinks). */
  readonly dropRemoteLinksAt?: (request: DropRemoteLinksRequest) => Promise<DropRemoteLinksResponse>;
  /**
   * Runs a function once the current turn of the event loop has done its I/O (default
   * setImmediate): the commands proposed until then go into one Raft entry.
   */
  readonly defer?: (work: () => void) => void;
}

export const renameTxnTimeoutSecDefault = 30;

/** Clients give up a two-step create that took half of this (see meta-client). */
export const orphanGraceSecDefault = 300;

const housekeepingIntervalMsDefault = 1_000;
/** Owed links handed over per run (one page of `K` records). */
const linkDropsPerRound = 1_024;
const sessionsExpiredPerBatch = 64;
const trashExpiredPerBatch = 256;
const extentReleaseRecordsPerRound = 64;

/** A command's outcome as apply hands it back to the proposer (refusals are results too). */
type Applied = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: AtollError };
/** A batched entry's outcome: one per command, in the batch's order. */
type AppliedBatch = { readonly batch: readonly Applied[] };

/**
 * Commands the leader gathers into one Raft entry (a `MetaCommandBatch`) at most: the
 * operations proposed in the same turn of its event loop (under load, the requests of one
 * read from each client's socket) share an entry, so the log, the followers and the apply
 * handle one entry instead of many.
 */
export const commandsPerEntryMax = 128;
/** Encoded bytes of the commands of one batched entry at most (a bigger command goes alone). */
export const commandBytesPerEntryMax = 256 * 1024;

interface Gathered {
  readonly command: MetaCommand;
  readonly bytes: number;
  readonly resolve: (applied: Applied | undefined) => void;
  readonly reject: (error: unknown) => void;
}

export class MetaPartition implements HostedPartition {
  readonly spec: PartitionSpec;
  readonly engine: KvEngine;
  readonly limits: NamespaceLimits;
  readonly stateMachine: GroupStateMachine;
  readonly #nowMs: () => number;
  #context: PartitionContext | null = null;
  #rootRequested = false;
  #rootSeen = false;
  readonly #trashRetentionSec: () => number | undefined;
  readonly #housekeepingIntervalMs: number;
  readonly #releaseExtents: MetaPartitionOptions['releaseExtents'];
  readonly #lookupEntry: MetaPartitionOptions['lookupEntry'];
  readonly #orphanGraceSec: number;
  readonly #renameTxnAt: MetaPartitionOptions['renameTxnAt'];
  readonly #renameTxnTimeoutSec: number;
  #housekeepingAtMs = 0;
  #housekeeping = false;
  readonly #partitionOfIno: ((ino: number) => Promise<number>) | undefined;
  readonly #dropRemoteLinksAt: ((request: DropRemoteLinksRequest) => Promise<DropRemoteLinksResponse>) | undefined;
  #linkDropsRunning: Promise<number> | null = null;
  #linkDropsAgain = false;
  readonly #defer: (work: () => void) => void;
  #gathered: Gathered[] = [];
  #gatherScheduled = false;
  #range: InodeRange | null = null;

  constructor(options: MetaPartitionOptions) {
    this.spec = options.spec;
    this.engine = options.engine;
    this.limits = options.limits ?? namespaceLimitsDefault;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#trashRetentionSec = options.trashRetentionSec ?? (() => 0);
    this.#housekeepingIntervalMs = options.housekeepingIntervalMs ?? housekeepingIntervalMsDefault;
    this.#releaseExtents = options.releaseExtents;
    this.#lookupEntry = options.lookupEntry;
    this.#orphanGraceSec = options.orphanGraceSec ?? orphanGraceSecDefault;
    this.#renameTxnAt = options.renameTxnAt;
    this.#renameTxnTimeoutSec = options.renameTxnTimeoutSec ?? renameTxnTimeoutSecDefault;
    this.#partitionOfIno = options.partitionOfIno;
    this.#dropRemoteLinksAt = options.dropRemoteLinksAt;
    this.#defer = options.defer ?? ((work) => setImmediate(work));
    this.stateMachine = {
      apply: (index, command) => this.#apply(index, command),
      // The entries of one Raft cycle go to the engine together (LMDB: one commit).
      applyBatch: (run) => {
        if (this.engine.writeBatch === undefined) run();
        else this.engine.writeBatch(run);
      },
      snapshot: () => {
        const view = this.engine.snapshotView();
        try {
          return encodeKvSnapshot(view.appliedIndex, view.entries());
        } finally {
          view.release();
        }
      },
      restore: (state, index) => {
        // An engine on disk that already holds this index (a restart) keeps its state.
        if (this.engine.appliedIndex >= index && this.engine.kind === 'lmdb') return;
        const content = decodeKvSnapshot(state, `of meta partition ${this.spec.partitionId} at index ${index}`);
        this.#range = null;
        this.engine.replaceAll(Math.max(index, content.appliedIndex), content.entries);
      },
    };
  }

  get partitionId(): number {
    return this.spec.partitionId;
  }

  attach(context: PartitionContext): void {
    this.#context = context;
  }

  /** The inode range as applied: the master may have narrowed its end (a split). */
  range(): InodeRange {
    // Read once per state: the end changes only by a setInodeEnd or a snapshot installed
    // (both drop the copy), and every create asks for it.
    if (this.#range !== null) return this.#range;
    const stored = this.engine.get(counterKey(CounterName.inodeEnd));
    const end = stored === undefined ? this.spec.inodeEnd : decodeCounterValue(stored);
    this.#range = { inodeStart: this.spec.inodeStart, inodeEnd: end === 0 ? unboundedInodeEnd : end };
    return this.#range;
  }

  inodeCursor(): number {
    const stored = this.engine.get(counterKey(CounterName.inodeCursor));
    return stored === undefined ? this.spec.inodeStart : decodeCounterValue(stored);
  }

  usage(): PartitionUsage {
    const counts = namespace.statfs(this.engine);
    const range = this.range();
    const cursor = this.inodeCursor();
    return {
      inodeCount: counts.inodes,
      dentryCount: counts.dentries,
      inodeCursor: cursor,
      inodeEnd: range.inodeEnd === unboundedInodeEnd ? 0 : range.inodeEnd,
      status: cursor >= range.inodeEnd ? PartitionStatus.PARTITION_READ_ONLY : PartitionStatus.PARTITION_READ_WRITE,
    };
  }

  /** SHA-256 of the records in key order (store/state-hash.ts), taken at the current applied index. */
  async stateHash(): Promise<PartitionStateHash> {
    const digest = await hashKvState(this.engine.snapshotView());
    return { hash: digest.hash, stateIndex: digest.appliedIndex, records: digest.records };
  }

  onLeadershipChange(leading: boolean): void {
    if (leading) this.#rootRequested = false;
  }

  tick(nowMs: number): void {
    if (this.#context === null || !this.#context.isLeader()) return;
    // The first partition's leader makes the root directory once, before anything else.
    if (!this.#rootRequested && this.#waitsForRoot()) {
      this.#rootRequested = true;
      this.mutate({ case: 'ensureRoot', value: { mode: rootModeDefault } }).catch((error: unknown) => {
        this.#rootRequested = false;
        this.#context?.logger.warn({ err: (error as Error).message }, 'creating the root directory failed; retrying');
      });
      return;
    }
    if (this.#housekeeping || nowMs - this.#housekeepingAtMs < this.#housekeepingIntervalMs) return;
    this.#housekeepingAtMs = nowMs;
    this.#housekeeping = true;
    this.housekeep(nowMs)
      .catch((error: unknown) => this.#context?.logger.warn({ err: (error as Error).message }, 'housekeeping failed; retrying at the next round'))
      .finally(() => (this.#housekeeping = false));
  }

  /**
   * The leader's housekeeping, each step one replicated command when there is work: expire
   * sessions whose lease ended (their opens are released), free inodes at nlink 0 that no
   * session holds open (their extents go to `E` records), expire trash entries older than
   * the volume's retention. Returns what it did, for tests.
   */
  async housekeep(nowMs: number): Promise<{ sessionsExpired: number; inodesFreed: number; trashExpired: number; extentRecordsReleased: number; orphansFreed: number; orphansConfirmed: number; renamesRecovered: number; linkDropsSent: number }> {
    const done = { sessionsExpired: 0, inodesFreed: 0, trashExpired: 0, extentRecordsReleased: 0, orphansFreed: 0, orphansConfirmed: 0, renamesRecovered: 0, linkDropsSent: 0 };
    const nowSec = Math.floor(nowMs / 1000);
    const lease = this.engine.scan({ prefix: sessionLeasePrefixAll, limit: 1 })[0];
    if (lease !== undefined && decodeSessionLeaseKey(lease.key).expiresSec <= nowSec) {
      const result = (await this.mutate({ case: 'expireSessions', value: { sessionsPerBatch: sessionsExpiredPerBatch } }, nowMs)) as sessions.ExpireSessionsResult;
      done.sessionsExpired = result.released.length;
    }
    const freeable = freeing.freeableInodes(this.engine, { limit: this.limits.inodesFreedPerBatchMax }, this.limits);
    if (freeable.inos.length > 0) {
      const result = (await this.mutate({ case: 'freeInodes', value: { inos: freeable.inos } }, nowMs)) as freeing.FreeInodesResult;
      done.inodesFreed = result.freed.length;
    }
    const retentionSec = this.#trashRetentionSec();
    const oldest = this.engine.scan({ prefix: trashPrefixAll, limit: 1 })[0];
    if (oldest !== undefined && retentionSec !== undefined && (decodeTrashKey(oldest.key).hour + 1) * 3600 + retentionSec <= nowSec) {
      const result = (await this.mutate({ case: 'expireTrash', value: { retentionSec, limit: trashExpiredPerBatch } }, nowMs)) as trash.ExpireTrashResult;
      done.trashExpired = result.expired.length;
    }
    done.linkDropsSent = await this.sendLinkDrops(nowMs);
    Object.assign(done, await this.#sweepOrphans(nowMs));
    done.renamesRecovered = await this.#recoverRenames(nowMs);
    done.extentRecordsReleased = await this.#releaseQueuedExtents(nowMs);
    return done;
  }

  /**
   * Hands the links this partition owes (`K` records, oldest first) to the partitions
   * holding the inodes, then forgets those they applied. Per target partition the records
   * go in sequence order, as one prefix: a target that does not answer keeps its records,
   * and none of its later ones is sent before them (link-drops.ts). One run at a time;
   * `kickLinkDrops` asks for one at once (after an unlink), housekeeping every second.
   * Returns how many the targets applied.
   */
  async sendLinkDrops(nowMs: number): Promise<number> {
    const send = this.#dropRemoteLinksAt;
    const partitionOfIno = this.#partitionOfIno;
    if (send === undefined || partitionOfIno === undefined) return 0;
    if (this.#linkDropsRunning !== null) {
      this.#linkDropsAgain = true;
      return this.#linkDropsRunning;
    }
    const run = (async () => {
      let sent = 0;
      do {
        this.#linkDropsAgain = false;
        sent += await this.#sendLinkDropsOnce(nowMs, send, partitionOfIno);
      } while (this.#linkDropsAgain && this.#context?.isLeader() === true);
      return sent;
    })();
    this.#linkDropsRunning = run;
    try {
      return await run;
    } finally {
      this.#linkDropsRunning = null;
    }
  }

  /** After an operation queued a link drop: send it now rather than at the next housekeeping. */
  kickLinkDrops(): void {
    if (this.#context?.isLeader() !== true) return;
    this.sendLinkDrops(this.#nowMs()).catch((error: unknown) => this.#context?.logger.warn({ err: (error as Error).message }, 'sending owed links failed; retrying at the next housekeeping'));
  }

  async #sendLinkDropsOnce(nowMs: number, send: (request: DropRemoteLinksRequest) => Promise<DropRemoteLinksResponse>, partitionOfIno: (ino: number) => Promise<number>): Promise<number> {
    const pending = linkDrops.pendingLinkDrops(this.engine, { limit: linkDropsPerRound }, this.limits);
    if (pending.length === 0) return 0;
    const byTarget = new Map<number, linkDrops.PendingLinkDrop[]>();
    for (const drop of pending) {
      let target: number;
      try {
        target = await partitionOfIno(drop.ino);
      } catch (error) {
        this.#context?.logger.warn({ ino: drop.ino, err: (error as Error).message }, 'owed link: the inode\'s partition is not known; retrying later');
        break; // later records may be for the same target: keep the order
      }
      const list = byTarget.get(target) ?? [];
      list.push(drop);
      byTarget.set(target, list);
    }
    const forget: number[] = [];
    await Promise.all(
      [...byTarget].map(async ([target, drops]) => {
        try {
          const answer = await send(DropRemoteLinksRequest.create({ partitionId: target, sourcePartitionId: this.partitionId, drops: drops.map((drop) => ({ ...drop })) }));
          for (const drop of drops) if (drop.seq <= answer.appliedThrough) forget.push(drop.seq);
        } catch (error) {
          this.#context?.logger.warn({ target, drops: drops.length, err: (error as Error).message }, 'owed links not handed over; retrying later');
        }
      }),
    );
    if (forget.length === 0) return 0;
    forget.sort((left, right) => left - right);
    await this.mutate({ case: 'forgetLinkDrops', value: { seqs: forget } }, nowMs);
    return forget.length;
  }

  /**
   * Inodes of two-step creates still waiting for their dentry after the grace time: the
   * dentry is looked up where it should be; found (naming this inode), the inode is
   * confirmed; absent, it is an orphan (the client died between the steps) and is freed.
   */
  async #sweepOrphans(nowMs: number): Promise<{ orphansFreed: number; orphansConfirmed: number }> {
    const result = { orphansFreed: 0, orphansConfirmed: 0 };
    const lookup = this.#lookupEntry;
    if (lookup === undefined) return result;
    const nowSec = Math.floor(nowMs / 1000);
    const { orphans } = links.orphanCandidates(this.engine, { nowSec, nowNsec: 0, graceSec: this.#orphanGraceSec, limit: this.limits.inodesFreedPerBatchMax }, this.limits);
    const orphaned: number[] = [];
    for (const candidate of orphans) {
      let found: number;
      try {
        found = candidate.name === '' ? 0 : await lookup(candidate.parentIno, candidate.name);
      } catch (error) {
        this.#context?.logger.warn({ ino: candidate.ino, parentIno: candidate.parentIno, err: (error as Error).message }, 'orphan check: the dentry lookup failed; checking again later');
        continue;
      }
      if (found === candidate.ino) {
        await this.mutate({ case: 'confirmLinked', value: { partitionId: this.partitionId, ino: candidate.ino } }, nowMs);
        result.orphansConfirmed += 1;
      } else {
        orphaned.push(candidate.ino);
      }
    }
    if (orphaned.length > 0) {
      const freed = (await this.mutate({ case: 'freeOrphans', value: { inos: orphaned, graceSec: this.#orphanGraceSec } }, nowMs)) as { freed: number[] };
      result.orphansFreed = freed.freed.length;
    }
    return result;
  }

  /**
   * Cross-partition renames a client left unfinished: at the source, a prepared one past
   * the timeout is rolled back (the target's record first) and a committed one finished;
   * at the target, an old record asks the source for the decision.
   */
  async #recoverRenames(nowMs: number): Promise<number> {
    const remote = this.#renameTxnAt;
    if (remote === undefined) return 0;
    const nowSec = Math.floor(nowMs / 1000);
    let recovered = 0;
    for (const { record, ...id } of renameTxn.listTransactions(this.engine, this.limits.recordsScannedPerPageMax)) {
      const plan = renameTxn.recoveryPlan(record, nowSec, this.#renameTxnTimeoutSec);
      if (plan.kind === 'wait') continue;
      const at = (partitionId: number, step: RenameStep): Promise<RenameTxnResponse> => remote(RenameTxnRequest.create({ partitionId, step, ...id }));
      const local = (step: RenameStep): Promise<unknown> => this.mutate({ case: 'renameTxn', value: RenameTxnRequest.create({ partitionId: this.partitionId, step, ...id }) }, nowMs);
      try {
        if (plan.kind === 'abort') {
          await at(record.targetPartitionId, RenameStep.RENAME_ABORT_TARGET);
          await local(RenameStep.RENAME_ABORT_SOURCE);
        } else if (plan.kind === 'finish') {
          await at(record.targetPartitionId, RenameStep.RENAME_APPLY_TARGET);
          await local(RenameStep.RENAME_APPLY_SOURCE);
        } else {
          const answer = await at(record.sourcePartitionId, RenameStep.RENAME_STATUS);
          if (answer.state === RenameTxnState.RENAME_TXN_COMMITTED) await local(RenameStep.RENAME_APPLY_TARGET);
          else if (answer.state === RenameTxnState.RENAME_TXN_ABSENT) await local(RenameStep.RENAME_ABORT_TARGET);
          else continue;
        }
        recovered += 1;
      } catch (error) {
        this.#context?.logger.warn({ tx: `${id.sourcePartitionId}/${id.txSeq}`, plan: plan.kind, err: (error as Error).message }, 'rename recovery step failed; retrying later');
      }
    }
    return recovered;
  }

  /**
   * Hands the queued extent releases (`E` records) to the datanodes, then removes the
   * records of those that were done. A record whose partition does not answer stays for
   * the next round; a restart resumes from the records.
   */
  async #releaseQueuedExtents(nowMs: number): Promise<number> {
    const release = this.#releaseExtents;
    if (release === undefined) return 0;
    const { releases } = freeing.pendingExtentReleases(this.engine, { limit: extentReleaseRecordsPerRound }, this.limits);
    if (releases.length === 0) return 0;
    const done: number[] = [];
    for (const record of releases) {
      const normal = new Set<number>();
      const ranges: Array<{ extentId: number; offset: number; size: number }> = [];
      for (const range of record.ranges) {
        if (range.extentId >= normalExtentIdFirst) {
          if (!normal.has(range.extentId)) ranges.push({ extentId: range.extentId, offset: 0, size: 0 });
          normal.add(range.extentId);
        } else {
          ranges.push({ extentId: range.extentId, offset: range.extentOffset, size: range.size });
        }
      }
      try {
        await release(record.partitionId, ranges);
        done.push(record.seq);
      } catch (error) {
        this.#context?.logger.warn({ dataPartition: record.partitionId, err: (error as Error).message }, 'releasing extents failed; retrying at the next round');
      }
    }
    if (done.length > 0) await this.mutate({ case: 'ackExtentReleases', value: { seqs: done } }, nowMs);
    return done.length;
  }

  async handleTask(task: NodeTask): Promise<void> {
    if (task.kind !== NodeTaskKind.TASK_SET_INODE_END || this.#context === null || !this.#context.isLeader()) return;
    const current = this.range().inodeEnd;
    if (current === task.inodeEnd || task.inodeEnd === 0) return;
    await this.mutate({ case: 'setInodeEnd', value: { inodeEnd: task.inodeEnd } });
  }

  async close(): Promise<void> {
    await this.engine.close();
  }

  // ------------------------------------------------------------------ proposing and reading

  /** Replicates one operation with the leader's time (or the given one); resolves with its result here. */
  async mutate(op: NonNullable<MetaCommand['op']>, nowMs = this.#nowMs()): Promise<unknown> {
    const context = this.#requireContext();
    if (op.case !== 'ensureRoot' && this.#waitsForRoot()) {
      throw new AtollError(StatusCode.PARTITION_NOT_READY, `meta partition ${this.partitionId}: the root directory is being created`, { retryAfterMs: 100 });
    }
    // Whether a removal goes to the trash is the volume's setting, not the caller's.
    if (op.case === 'unlink') {
      const retentionSec = this.#trashRetentionSec();
      if (retentionSec === undefined) throw new AtollError(StatusCode.PARTITION_NOT_READY, `meta partition ${this.partitionId}: the volume's trash setting is not known yet (asking the masters)`, { retryAfterMs: 200 });
      op = { case: 'unlink', value: { ...op.value, trashRetentionSec: retentionSec } };
    }
    const command = MetaCommand.create({ nowSec: Math.floor(nowMs / 1000), nowNsec: (nowMs % 1000) * 1_000_000, op });
    // Measured here, so a command that cannot be encoded fails its own caller only.
    const bytes = MetaCommand.encodedSize(command);
    const applied = await new Promise<Applied | undefined>((resolve, reject) => {
      this.#gathered.push({ command, bytes, resolve, reject });
      if (this.#gatherScheduled) return;
      this.#gatherScheduled = true;
      this.#defer(() => this.#proposeGathered(context));
    });
    if (applied === undefined) throw new AtollError(StatusCode.INTERNAL, `meta partition ${this.partitionId}: the command was applied before this run and its result is gone`);
    if (!applied.ok) throw applied.error;
    return applied.value;
  }

  // Proposes the commands gathered since the last turn: alone when one, else as batched
  // entries of at most commandsPerEntryMax commands and commandBytesPerEntryMax bytes.
  #proposeGathered(context: PartitionContext): void {
    this.#gatherScheduled = false;
    const gathered = this.#gathered;
    this.#gathered = [];
    const propose = (bytes: Uint8Array): Promise<unknown> => {
      try {
        return context.propose(bytes);
      } catch (error) {
        return Promise.reject(error);
      }
    };
    let start = 0;
    while (start < gathered.length) {
      let end = start + 1;
      let bytes = gathered[start]!.bytes;
      while (end < gathered.length && end - start < commandsPerEntryMax && bytes + gathered[end]!.bytes <= commandBytesPerEntryMax) {
        bytes += gathered[end]!.bytes;
        end += 1;
      }
      const entry = gathered.slice(start, end);
      start = end;
      if (entry.length === 1) {
        const only = entry[0]!;
        propose(MetaCommand.encode(only.command)).then((applied) => only.resolve(applied as Applied | undefined), only.reject);
        continue;
      }
      const batch = MetaCommand.create({ op: { case: 'batch', value: { commands: entry.map((item) => item.command) } } });
      propose(MetaCommand.encode(batch)).then(
        (applied) => {
          const results = (applied as AppliedBatch | undefined)?.batch;
          assert(results === undefined || results.length === entry.length, () => `meta partition ${this.partitionId}: a batch of ${entry.length} commands gave ${results?.length} results`);
          entry.forEach((item, position) => item.resolve(results?.[position]));
        },
        (error: unknown) => {
          for (const item of entry) item.reject(error);
        },
      );
    }
  }

  /** Runs a read on the leader after a read index: linearizable, never a follower's state. */
  async read<T>(reader: (engine: KvEngine) => T): Promise<T> {
    await this.#requireContext().readIndex();
    return reader(this.engine);
  }

  // The first partition of a volume serves nothing before its root directory exists. Once
  // it does, it always will (the root is never freed), so the lookup stops.
  #waitsForRoot(): boolean {
    if (this.#rootSeen || this.spec.inodeStart !== rootIno) return false;
    this.#rootSeen = this.engine.get(inodeKey(rootIno)) !== undefined;
    return !this.#rootSeen;
  }

  #requireContext(): PartitionContext {
    if (this.#context === null) throw new AtollError(StatusCode.PARTITION_NOT_READY, `meta partition ${this.partitionId} is loading`, { retryAfterMs: 200 });
    return this.#context;
  }

  // ------------------------------------------------------------------ apply

  #apply(index: number, bytes: Uint8Array): Applied | AppliedBatch | undefined {
    // Already in the engine (an engine on disk ahead of the replayed log): skip.
    if (index <= this.engine.appliedIndex) return undefined;
    const command = MetaCommand.decode(bytes);
    if (command.op?.case !== 'batch') return this.#applyCommand(index, command, false);
    // A batched entry: each command on the state the ones before it left, each with its
    // own outcome. Apply runs inside the state machine's applyBatch (raft-group does), so
    // on LMDB the steps of the entry commit together or not at all.
    const { commands } = command.op.value;
    if (commands.length === 0) this.engine.write(index, []);
    return { batch: commands.map((step, position) => this.#applyCommand(index, step, position > 0)) };
  }

  // Runs one command and writes its mutations with the entry's index (`sameEntry`: a
  // further command of the entry, whose index is already written).
  #applyCommand(index: number, command: MetaCommand, sameEntry: boolean): Applied {
    let outcome: Outcome<unknown>;
    try {
      outcome = this.#run(command);
    } catch (error) {
      if (!(error instanceof AtollError)) throw error;
      // A refused operation changes nothing but still moves the applied index.
      if (!sameEntry) this.engine.write(index, []);
      return { ok: false, error };
    }
    if (command.op?.case === 'setInodeEnd') this.#range = null;
    this.engine.write(index, outcome.mutations, sameEntry);
    return { ok: true, value: outcome.result };
  }

  #renameStep(request: RenameTxnRequest, time: { nowSec: number; nowNsec: number }): Outcome<unknown> {
    const id = { sourcePartitionId: request.sourcePartitionId, txSeq: request.txSeq };
    const ends = {
      sourcePartitionId: request.sourcePartitionId,
      targetPartitionId: request.targetPartitionId,
      sourceParentIno: request.sourceParentIno,
      sourceName: request.sourceName,
      targetParentIno: request.targetParentIno,
      targetName: request.targetName,
    };
    switch (request.step) {
      case RenameStep.RENAME_PREPARE_SOURCE:
        if (request.sourcePartitionId !== this.partitionId) throw new AtollError(StatusCode.INVALID_ARGUMENT, `rename prepare source: partition ${this.partitionId} is not the source ${request.sourcePartitionId}`);
        return renameTxn.prepareSource(this.engine, { ...ends, ...time }, this.limits);
      case RenameStep.RENAME_PREPARE_TARGET:
        if (request.targetPartitionId !== this.partitionId) throw new AtollError(StatusCode.INVALID_ARGUMENT, `rename prepare target: partition ${this.partitionId} is not the target ${request.targetPartitionId}`);
        return renameTxn.prepareTarget(this.engine, { ...ends, ...id, ...time, ino: request.ino, type: request.type }, this.limits);
      case RenameStep.RENAME_COMMIT:
        return renameTxn.commit(this.engine, id);
      case RenameStep.RENAME_APPLY_TARGET:
        return renameTxn.applyTarget(this.engine, { ...id, ...time }, this.limits);
      case RenameStep.RENAME_APPLY_SOURCE:
        return renameTxn.applySource(this.engine, { ...id, ...time }, this.limits);
      case RenameStep.RENAME_ABORT_SOURCE:
        return renameTxn.abortSource(this.engine, id);
      case RenameStep.RENAME_ABORT_TARGET:
        return renameTxn.abortTarget(this.engine, id);
      default:
        throw new AtollError(StatusCode.INVALID_ARGUMENT, `rename transaction: step ${request.step} is not a replicated step`);
    }
  }

  #run(command: MetaCommand): Outcome<unknown> {
    const time = { nowSec: command.nowSec, nowNsec: command.nowNsec };
    const op = command.op;
    const limits = this.limits;
    switch (op?.case) {
      case 'createInode': {
        const request = op.value;
        return namespace.createInode(this.engine, this.range(), {
          nowSec: time.nowSec,
          nowNsec: time.nowNsec,
          type: request.type,
          mode: request.mode,
          uid: request.uid,
          gid: request.gid,
          symlinkTarget: request.type === InodeType.INODE_SYMLINK ? request.symlinkTarget : undefined,
          rdev: request.type === InodeType.INODE_SPECIAL ? request.rdev : undefined,
          parentIno: request.parentIno === 0 ? undefined : request.parentIno,
          remoteParentIno: request.remoteParentIno === 0 ? undefined : request.remoteParentIno,
          generation: request.generation,
          name: request.parentIno === 0 && request.remoteParentIno === 0 ? undefined : request.name,
        }, limits);
      }
      case 'ensureRoot': {
        if (this.engine.get(inodeKey(rootIno)) !== undefined) return { result: null, mutations: [] };
        if (this.inodeCursor() !== rootIno) throw new AtollError(StatusCode.INTERNAL, `meta partition ${this.partitionId}: the root directory is missing but inodes were allocated`);
        return namespace.createInode(this.engine, this.range(), { ...time, type: InodeType.INODE_DIRECTORY, mode: op.value.mode, uid: 0, gid: 0 }, limits);
      }
      case 'link':
        return namespace.link(this.engine, { ...time, ino: op.value.ino, parentIno: op.value.parentIno, name: op.value.name }, limits);
      case 'unlink': {
        const args = { nowSec: time.nowSec, nowNsec: time.nowNsec, parentIno: op.value.parentIno, name: op.value.name, trashRetentionSec: op.value.trashRetentionSec };
        return op.value.isDir ? namespace.rmdir(this.engine, args, limits) : namespace.unlink(this.engine, args, limits);
      }
      case 'rename':
        return namespace.rename(this.engine, {
          ...time,
          sourceParentIno: op.value.sourceParentIno,
          sourceName: op.value.sourceName,
          targetParentIno: op.value.targetParentIno,
          targetName: op.value.targetName,
        }, limits);
      case 'setattr': {
        const request = op.value;
        const valid = request.valid;
        return namespace.setattr(this.engine, {
          ...time,
          ino: request.ino,
          mode: (valid & SetattrField.SETATTR_MODE) !== 0 ? request.mode : undefined,
          uid: (valid & SetattrField.SETATTR_UID) !== 0 ? request.uid : undefined,
          gid: (valid & SetattrField.SETATTR_GID) !== 0 ? request.gid : undefined,
          size: (valid & SetattrField.SETATTR_SIZE) !== 0 ? request.size : undefined,
          atime: (valid & SetattrField.SETATTR_ATIME) !== 0 ? { sec: request.atimeSec, nsec: request.atimeNsec } : undefined,
          mtime: (valid & SetattrField.SETATTR_MTIME) !== 0 ? { sec: request.mtimeSec, nsec: request.mtimeNsec } : undefined,
          requestId: request.requestId,
        });
      }
      case 'setXattr': {
        const request = op.value;
        const flag = request.flag === XattrFlag.XATTR_CREATE ? 'create' : request.flag === XattrFlag.XATTR_REPLACE ? 'replace' : undefined;
        return namespace.setXattr(this.engine, { ...time, ino: request.ino, name: request.name, value: request.value, flag }, limits);
      }
      case 'removeXattr':
        return namespace.removeXattr(this.engine, { ...time, ino: op.value.ino, name: op.value.name }, limits);
      case 'appendExtents':
        return namespace.appendExtents(this.engine, { ...time, ino: op.value.ino, extents: op.value.extents }, limits);
      case 'setInodeEnd': {
        const end = op.value.inodeEnd;
        const cursor = this.inodeCursor();
        if (!Number.isSafeInteger(end) || end <= this.spec.inodeStart) throw new AtollError(StatusCode.INVALID_ARGUMENT, `set inode end: ${end} is not above the range start ${this.spec.inodeStart}`);
        // Inodes already handed out stay valid: the end never moves below the cursor.
        const mutations: KvMutation[] = [{ op: 'set', key: counterKey(CounterName.inodeEnd), value: encodeCounterValue(Math.max(end, cursor)) }];
        return { result: Math.max(end, cursor), mutations };
      }
      case 'openSession':
        return sessions.openSession(this.engine, { ...time, leaseSec: op.value.leaseSec, clientInfo: op.value.clientInfo }, limits);
      case 'renewSession':
        return sessions.renewSession(this.engine, { ...time, sessionId: op.value.sessionId, leaseSec: op.value.leaseSec === 0 ? undefined : op.value.leaseSec }, limits);
      case 'closeSession':
        return sessions.closeSession(this.engine, { sessionId: op.value.sessionId });
      case 'recordOpen':
        return sessions.recordOpen(this.engine, { sessionId: op.value.sessionId, ino: op.value.ino }, limits);
      case 'recordClose':
        return sessions.recordClose(this.engine, { sessionId: op.value.sessionId, ino: op.value.ino });
      case 'restoreTrash':
        return trash.restoreFromTrash(this.engine, {
          ...time,
          key: trash.trashKeyOfName(op.value.name),
          targetParentIno: op.value.targetParentIno === 0 ? undefined : op.value.targetParentIno,
          targetName: op.value.targetName === '' ? undefined : op.value.targetName,
        }, limits);
      case 'expireSessions':
        return sessions.expireSessions(this.engine, { ...time, sessionsPerBatch: op.value.sessionsPerBatch }, limits);
      case 'freeInodes':
        return freeing.freeInodes(this.engine, { inos: op.value.inos }, limits);
      case 'expireTrash':
        return trash.expireTrash(this.engine, { ...time, retentionSec: op.value.retentionSec, limit: op.value.limit }, limits);
      case 'ackExtentReleases':
        return freeing.ackExtentReleases(this.engine, { seqs: op.value.seqs }, limits);
      case 'createDentry':
        return links.createDentryOnly(this.engine, { ...time, parentIno: op.value.parentIno, name: op.value.name, ino: op.value.ino, type: op.value.type }, limits);
      case 'removeDentry':
        return links.removeDentryOnly(this.engine, { ...time, parentIno: op.value.parentIno, name: op.value.name, ino: op.value.ino === 0 ? undefined : op.value.ino }, limits);
      case 'confirmLinked':
        return links.confirmInodeLinked(this.engine, { ino: op.value.ino });
      case 'addLink':
        return links.addLinkByIno(this.engine, { ...time, ino: op.value.ino }, limits);
      case 'dropLink':
        return links.dropLinkByIno(this.engine, { ...time, ino: op.value.ino });
      case 'renameTxn':
        return this.#renameStep(op.value, time);
      case 'freeOrphans':
        return links.freeOrphans(this.engine, { ...time, inos: op.value.inos, graceSec: op.value.graceSec }, limits);
      case 'dropRemoteLinks':
        return linkDrops.dropRemoteLinks(this.engine, { ...time, sourcePartitionId: op.value.sourcePartitionId, drops: op.value.drops }, limits);
      case 'forgetLinkDrops':
        return linkDrops.forgetLinkDrops(this.engine, { seqs: op.value.seqs }, limits);
      case 'batch':
        throw new AtollError(StatusCode.INVALID_ARGUMENT, `meta partition ${this.partitionId}: a batch inside a batch`);
      default:
        throw new AtollError(StatusCode.INVALID_ARGUMENT, `meta partition ${this.partitionId}: a log entry with no operation`);
    }
  }
}

export type { Dentry, Inode };
