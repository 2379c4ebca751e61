// One replica of a meta partition: the namespace state machine over a key-value engine,
// replicated by the partition's Raft group. Mutations are MetaCommand entries (the
// operation and the time the leader chose for it); every replica applies them in log
// order through the pure operations of partition/namespace.ts and writes the resulting
// mutations with the entry's index, so apply is idempotent against the engine's applied
// index (an LMDB engine that is ahead of the log after a restart skips what it has).
// Reads go through a read index on the leader: a follower never answers from its state.
import { AtollError, StatusCode } from '../errors/index.js';
import type { HostedPartition, PartitionContext, PartitionSpec, PartitionUsage } from '../nodeagent/index.js';
import { NodeTaskKind, PartitionStatus, type NodeTask } from '../proto/generated/master.js';
import { InodeType, MetaCommand, SetattrField, XattrFlag, type Dentry, type Inode } from '../proto/generated/metanode.js';
import type { GroupStateMachine } from '../raftstore/index.js';
import * as freeing from './partition/freeing.js';
import { CounterName, counterKey, decodeCounterValue, decodeSessionLeaseKey, decodeTrashKey, encodeCounterValue, inodeKey, sessionLeasePrefixAll, trashPrefixAll } from './partition/keys.js';
import * as sessions from './partition/sessions.js';
import * as trash from './partition/trash.js';
import { namespaceLimitsDefault, type NamespaceLimits } from './partition/limits.js';
import * as namespace from './partition/namespace.js';
import type { InodeRange, Outcome } from './partition/namespace.js';
import type { KvEngine, KvMutation } from './store/index.js';
import { decodeKvSnapshot, encodeKvSnapshot } from './store/index.js';

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
}

const housekeepingIntervalMsDefault = 1_000;
const sessionsExpiredPerBatch = 64;
const trashExpiredPerBatch = 256;

/** A command's outcome as apply hands it back to the proposer (refusals are results too). */
type Applied = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: AtollError };

export class MetaPartition implements HostedPartition {
  readonly spec: PartitionSpec;
  readonly engine: KvEngine;
  readonly limits: NamespaceLimits;
  readonly stateMachine: GroupStateMachine;
  readonly #nowMs: () => number;
  #context: PartitionContext | null = null;
  #rootRequested = false;
  readonly #trashRetentionSec: () => number | undefined;
  readonly #housekeepingIntervalMs: number;
  #housekeepingAtMs = 0;
  #housekeeping = false;

  constructor(options: MetaPartitionOptions) {
    this.spec = options.spec;
    this.engine = options.engine;
    this.limits = options.limits ?? namespaceLimitsDefault;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#trashRetentionSec = options.trashRetentionSec ?? (() => 0);
    this.#housekeepingIntervalMs = options.housekeepingIntervalMs ?? housekeepingIntervalMsDefault;
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
    const stored = this.engine.get(counterKey(CounterName.inodeEnd));
    const end = stored === undefined ? this.spec.inodeEnd : decodeCounterValue(stored);
    return { inodeStart: this.spec.inodeStart, inodeEnd: end === 0 ? unboundedInodeEnd : end };
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

  onLeadershipChange(leading: boolean): void {
    if (leading) this.#rootRequested = false;
  }

  tick(nowMs: number): void {
    if (this.#context === null || !this.#context.isLeader()) return;
    // The first partition's leader makes the root directory once, before anything else.
    if (this.spec.inodeStart === rootIno && !this.#rootRequested && this.engine.get(inodeKey(rootIno)) === undefined) {
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
  async housekeep(nowMs: number): Promise<{ sessionsExpired: number; inodesFreed: number; trashExpired: number }> {
    const done = { sessionsExpired: 0, inodesFreed: 0, trashExpired: 0 };
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
    return done;
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
    if (op.case !== 'ensureRoot' && this.spec.inodeStart === rootIno && this.engine.get(inodeKey(rootIno)) === undefined) {
      throw new AtollError(StatusCode.PARTITION_NOT_READY, `meta partition ${this.partitionId}: the root directory is being created`, { retryAfterMs: 100 });
    }
    // Whether a removal goes to the trash is the volume's setting, not the caller's.
    if (op.case === 'unlink') {
      const retentionSec = this.#trashRetentionSec();
      if (retentionSec === undefined) throw new AtollError(StatusCode.PARTITION_NOT_READY, `meta partition ${this.partitionId}: the volume's trash setting is not known yet (asking the masters)`, { retryAfterMs: 200 });
      op = { case: 'unlink', value: { ...op.value, trashRetentionSec: retentionSec } };
    }
    const command = MetaCommand.encode(MetaCommand.create({ nowSec: Math.floor(nowMs / 1000), nowNsec: (nowMs % 1000) * 1_000_000, op }));
    const applied = (await context.propose(command)) as Applied | undefined;
    if (applied === undefined) throw new AtollError(StatusCode.INTERNAL, `meta partition ${this.partitionId}: the command was applied before this run and its result is gone`);
    if (!applied.ok) throw applied.error;
    return applied.value;
  }

  /** Runs a read on the leader after a read index: linearizable, never a follower's state. */
  async read<T>(reader: (engine: KvEngine) => T): Promise<T> {
    await this.#requireContext().readIndex();
    return reader(this.engine);
  }

  #requireContext(): PartitionContext {
    if (this.#context === null) throw new AtollError(StatusCode.PARTITION_NOT_READY, `meta partition ${this.partitionId} is loading`, { retryAfterMs: 200 });
    return this.#context;
  }

  // ------------------------------------------------------------------ apply

  #apply(index: number, bytes: Uint8Array): Applied | undefined {
    // Already in the engine (an engine on disk ahead of the replayed log): skip.
    if (index <= this.engine.appliedIndex) return undefined;
    let outcome: Outcome<unknown>;
    try {
      outcome = this.#run(MetaCommand.decode(bytes));
    } catch (error) {
      if (!(error instanceof AtollError)) throw error;
      // A refused operation changes nothing but still moves the applied index.
      this.engine.write(index, []);
      return { ok: false, error };
    }
    this.engine.write(index, outcome.mutations);
    return { ok: true, value: outcome.result };
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
          name: request.parentIno === 0 ? undefined : request.name,
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
      default:
        throw new AtollError(StatusCode.INVALID_ARGUMENT, `meta partition ${this.partitionId}: a log entry with no operation`);
    }
  }
}

export type { Dentry, Inode };
