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
import { CounterName, counterKey, decodeCounterValue, encodeCounterValue, inodeKey } from './partition/keys.js';
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
}

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

  constructor(options: MetaPartitionOptions) {
    this.spec = options.spec;
    this.engine = options.engine;
    this.limits = options.limits ?? namespaceLimitsDefault;
    this.#nowMs = options.nowMs ?? Date.now;
    this.stateMachine = {
      apply: (index, command) => this.#apply(index, command),
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

  tick(): void {
    // The first partition's leader makes the root directory once, before anything else.
    if (this.spec.inodeStart !== rootIno || this.#rootRequested || this.#context === null || !this.#context.isLeader()) return;
    if (this.engine.get(inodeKey(rootIno)) !== undefined) return;
    this.#rootRequested = true;
    this.mutate({ case: 'ensureRoot', value: { mode: rootModeDefault } }).catch((error: unknown) => {
      this.#rootRequested = false;
      this.#context?.logger.warn({ err: (error as Error).message }, 'creating the root directory failed; retrying');
    });
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

  /** Replicates one operation with the leader's time; resolves with its result here. */
  async mutate(op: NonNullable<MetaCommand['op']>): Promise<unknown> {
    const context = this.#requireContext();
    if (op.case !== 'ensureRoot' && this.spec.inodeStart === rootIno && this.engine.get(inodeKey(rootIno)) === undefined) {
      throw new AtollError(StatusCode.PARTITION_NOT_READY, `meta partition ${this.partitionId}: the root directory is being created`, { retryAfterMs: 100 });
    }
    const nowMs = this.#nowMs();
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
          ...time,
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
        const args = { ...time, parentIno: op.value.parentIno, name: op.value.name };
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
      default:
        throw new AtollError(StatusCode.INVALID_ARGUMENT, `meta partition ${this.partitionId}: a log entry with no operation`);
    }
  }
}

export type { Dentry, Inode };
