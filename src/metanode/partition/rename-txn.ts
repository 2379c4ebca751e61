// A rename between directories held by different partitions, as a transaction coordinated
// by the source partition (presumed abort). Each step is one pure operation on one
// partition; the caller (a client, or a leader finishing what a client left) runs them in
// order:
//
//   1. prepareSource  (source)  the entry exists; record R (prepared) with what it names
//   2. prepareTarget  (target)  the target rules hold; record R (prepared)
//   3. commit         (source)  R becomes committed: the decision
//   4. applyTarget    (target)  the entry appears at the target (replacing what is there); R goes
//   5. applySource    (source)  the entry leaves the source; R goes
//
// Recovery: a source record still prepared after a timeout is aborted (the target's
// record first, then its own); a committed one is finished (4 then 5, both idempotent: a
// missing record means the step was done). A target record left alone asks the source:
// committed -> apply, prepared -> wait, absent -> abort (the source aborts before it
// forgets, and never forgets a commit before the target applied it).
//
// So after any crash and recovery the entry is at exactly one of the two places: no
// orphan, no duplicate. Between steps 4 and 5 both names show the entry for a moment.
import { AtollError, StatusCode } from '../../errors/index.js';
import { Dentry, InodeType, RenameTxnRecord, RenameTxnState } from '../../proto/generated/metanode.js';
import type { KvEngine } from '../store/kv-engine.js';
import { CounterName, decodeRenameTxnKey, dentryKey, renameTxnKey, renameTxnPrefix } from './keys.js';
import { namespaceLimitsDefault, type NamespaceLimits } from './limits.js';
import {
  Changes, dropLink, refuseReservedName, requireDentry, requireDirectory, requireLiveDirectory, setCtime, touchDirectory, validateIno, validateName,
  validateTime, type OperationTime, type Outcome,
} from './operation.js';

const firstTxSeq = 1;

export interface RenameEnds {
  readonly sourcePartitionId: number;
  readonly targetPartitionId: number;
  readonly sourceParentIno: number;
  readonly sourceName: string;
  readonly targetParentIno: number;
  readonly targetName: string;
}

export interface TxId {
  readonly sourcePartitionId: number;
  readonly txSeq: number;
}

function readRecord(changes: Changes, id: TxId): RenameTxnRecord | undefined {
  const bytes = changes.get(renameTxnKey(id.sourcePartitionId, id.txSeq));
  return bytes === undefined ? undefined : RenameTxnRecord.decode(bytes);
}

function writeRecord(changes: Changes, id: TxId, record: RenameTxnRecord): void {
  changes.set(renameTxnKey(id.sourcePartitionId, id.txSeq), RenameTxnRecord.encode(record));
}

function validateEnds(action: string, ends: RenameEnds, limits: NamespaceLimits): void {
  validateIno(action, 'sourcePartitionId', ends.sourcePartitionId);
  validateIno(action, 'targetPartitionId', ends.targetPartitionId);
  if (ends.sourcePartitionId === ends.targetPartitionId) throw new AtollError(StatusCode.INVALID_ARGUMENT, `${action}: source and target are in one partition: use rename`);
  validateIno(action, 'sourceParentIno', ends.sourceParentIno);
  validateIno(action, 'targetParentIno', ends.targetParentIno);
  validateName(action, ends.sourceName, limits);
  validateName(action, ends.targetName, limits);
  refuseReservedName(action, ends.targetParentIno, ends.targetName, limits);
}

/** Entries of this partition that a transaction in progress holds (at most `limit` looked at). */
function holdsEntry(engine: KvEngine, parentIno: number, name: string, limit: number): boolean {
  for (const entry of engine.scan({ prefix: renameTxnPrefix, limit })) {
    const record = RenameTxnRecord.decode(entry.value);
    if (record.isSource ? record.sourceParentIno === parentIno && record.sourceName === name : record.targetParentIno === parentIno && record.targetName === name) return true;
  }
  return false;
}

/**
 * Step 1, at the source: the entry to move exists; the transaction gets its sequence
 * number. A moved directory's inode must live at the source or the target (its parent
 * pointer is updated where it lives); the client checks that with the volume view.
 */
export function prepareSource(engine: KvEngine, args: RenameEnds & OperationTime, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<{ txSeq: number; ino: number; type: InodeType }> {
  const action = 'rename prepare source';
  validateTime(action, args);
  validateEnds(action, args, limits);
  const changes = new Changes(engine);
  requireDirectory(changes, action, args.sourceParentIno);
  const source = requireDentry(changes, action, args.sourceParentIno, args.sourceName);
  if (holdsEntry(engine, args.sourceParentIno, args.sourceName, limits.recordsScannedPerPageMax)) {
    throw new AtollError(StatusCode.CONFLICT, `${action}: ${JSON.stringify(args.sourceName)} in directory ${args.sourceParentIno} is being renamed already`, { retryAfterMs: 200 });
  }
  const txSeq = changes.takeCounter(CounterName.renameTxnCursor, firstTxSeq);
  writeRecord(changes, { sourcePartitionId: args.sourcePartitionId, txSeq }, RenameTxnRecord.create({
    isSource: true,
    state: RenameTxnState.RENAME_TXN_PREPARED,
    ...ends(args),
    ino: source.ino,
    type: source.type,
    createdSec: args.nowSec,
  }));
  return changes.outcome({ txSeq, ino: source.ino, type: source.type });
}

function ends(args: RenameEnds): RenameEnds {
  return {
    sourcePartitionId: args.sourcePartitionId,
    targetPartitionId: args.targetPartitionId,
    sourceParentIno: args.sourceParentIno,
    sourceName: args.sourceName,
    targetParentIno: args.targetParentIno,
    targetName: args.targetName,
  };
}

/**
 * Step 2, at the target: the rename's rules at the target (directory over non-directory
 * ENOTDIR, non-directory over directory EISDIR, over a non-empty directory ENOTEMPTY); a
 * replaced entry's inode must be held here. Repeating it is harmless.
 */
export function prepareTarget(engine: KvEngine, args: RenameEnds & TxId & OperationTime & { readonly ino: number; readonly type: InodeType }, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<{ txSeq: number }> {
  const action = 'rename prepare target';
  validateTime(action, args);
  validateEnds(action, args, limits);
  validateIno(action, 'ino', args.ino);
  const changes = new Changes(engine);
  const id = { sourcePartitionId: args.sourcePartitionId, txSeq: args.txSeq };
  if (readRecord(changes, id) !== undefined) return changes.outcome({ txSeq: args.txSeq });
  requireLiveDirectory(changes, action, args.targetParentIno);
  checkTargetRules(changes, action, args.targetParentIno, args.targetName, args.ino, args.type);
  if (holdsEntry(engine, args.targetParentIno, args.targetName, limits.recordsScannedPerPageMax)) {
    throw new AtollError(StatusCode.CONFLICT, `${action}: ${JSON.stringify(args.targetName)} in directory ${args.targetParentIno} is the target of another rename`, { retryAfterMs: 200 });
  }
  writeRecord(changes, id, RenameTxnRecord.create({ isSource: false, state: RenameTxnState.RENAME_TXN_PREPARED, ...ends(args), ino: args.ino, type: args.type, createdSec: args.nowSec }));
  return changes.outcome({ txSeq: args.txSeq });
}

/** Whether the entry (ino, type) may replace what the target name holds now; throws the POSIX refusal if not. */
function checkTargetRules(changes: Changes, action: string, parentIno: number, name: string, ino: number, type: InodeType): Dentry | undefined {
  const existing = changes.dentry(parentIno, name);
  if (existing === undefined) return undefined;
  if (existing.ino === ino) throw new AtollError(StatusCode.NOT_SUPPORTED, `${action}: the target is another link of the same inode`);
  const movingDirectory = type === InodeType.INODE_DIRECTORY;
  const replacingDirectory = existing.type === InodeType.INODE_DIRECTORY;
  if (movingDirectory && !replacingDirectory) throw new AtollError(StatusCode.NOT_DIR, `${action}: cannot replace non-directory ${JSON.stringify(name)} with a directory`);
  if (!movingDirectory && replacingDirectory) throw new AtollError(StatusCode.IS_DIR, `${action}: cannot replace directory ${JSON.stringify(name)} with a non-directory`);
  if (changes.inode(existing.ino) === undefined) throw new AtollError(StatusCode.NOT_SUPPORTED, `${action}: the replaced entry's inode ${existing.ino} lives in another partition (not built yet)`);
  if (replacingDirectory && changes.directoryHasEntries(existing.ino)) throw new AtollError(StatusCode.NOT_EMPTY, `${action}: directory ${JSON.stringify(name)} (${existing.ino}) is not empty`);
  return existing;
}

/** Step 3, at the source: the decision. CONFLICT if the transaction was aborted meanwhile. */
export function commit(engine: KvEngine, args: TxId): Outcome<{ state: RenameTxnState }> {
  const changes = new Changes(engine);
  const record = readRecord(changes, args);
  if (record === undefined || !record.isSource) throw new AtollError(StatusCode.CONFLICT, `rename commit: transaction ${args.sourcePartitionId}/${args.txSeq} is not prepared here (aborted)`);
  if (record.state === RenameTxnState.RENAME_TXN_PREPARED) {
    record.state = RenameTxnState.RENAME_TXN_COMMITTED;
    writeRecord(changes, args, record);
  }
  return changes.outcome({ state: RenameTxnState.RENAME_TXN_COMMITTED });
}

/**
 * Step 4, at the target: the entry appears at the target name, replacing what is there
 * (the replaced inode loses its link). If an entry the move may not replace took the name
 * after the prepare, the entry goes under `<name>.rename-<source>-<seq>` instead: the
 * decision is made and the entry must land somewhere. Done before: `applied: false`.
 */
export function applyTarget(engine: KvEngine, args: TxId & OperationTime, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<{ applied: boolean; targetName: string }> {
  const action = 'rename apply target';
  validateTime(action, args);
  const changes = new Changes(engine);
  const record = readRecord(changes, args);
  if (record === undefined) return changes.outcome({ applied: false, targetName: '' });
  if (record.isSource) throw new AtollError(StatusCode.INVALID_ARGUMENT, `${action}: transaction ${args.sourcePartitionId}/${args.txSeq} is coordinated here; apply its target at partition ${record.targetPartitionId}`);
  let name = record.targetName;
  let replaced: Dentry | undefined;
  try {
    replaced = checkTargetRules(changes, action, record.targetParentIno, name, record.ino, record.type);
  } catch (error) {
    if (!(error instanceof AtollError)) throw error;
    name = `${record.targetName}.rename-${args.sourcePartitionId}-${args.txSeq}`.slice(-limits.nameBytesMax);
    replaced = undefined;
  }
  const movingDirectory = record.type === InodeType.INODE_DIRECTORY;
  let delta = movingDirectory ? 1 : 0;
  if (replaced !== undefined) {
    if (replaced.type === InodeType.INODE_DIRECTORY) delta -= 1;
    dropLink(changes, changes.inode(replaced.ino)!, args);
  }
  changes.putDentry(Dentry.create({ parentIno: record.targetParentIno, name, ino: record.ino, type: record.type }));
  touchDirectory(changes, action, record.targetParentIno, delta, args, limits);
  // A moved directory whose inode lives here gets its new parent here (else at the source).
  const moved = changes.inode(record.ino);
  if (moved !== undefined && movingDirectory) {
    moved.parentIno = record.targetParentIno;
    setCtime(moved, args);
    changes.putInode(moved);
  }
  changes.delete(renameTxnKey(args.sourcePartitionId, args.txSeq));
  return changes.outcome({ applied: true, targetName: name });
}

/** Step 5, at the source: the entry leaves the source name; the transaction ends. */
export function applySource(engine: KvEngine, args: TxId & OperationTime, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<{ applied: boolean }> {
  const action = 'rename apply source';
  validateTime(action, args);
  const changes = new Changes(engine);
  const record = readRecord(changes, args);
  if (record === undefined) return changes.outcome({ applied: false });
  if (!record.isSource || record.state !== RenameTxnState.RENAME_TXN_COMMITTED) {
    throw new AtollError(StatusCode.CONFLICT, `${action}: transaction ${args.sourcePartitionId}/${args.txSeq} is not committed`);
  }
  const movingDirectory = record.type === InodeType.INODE_DIRECTORY;
  const entry = changes.dentry(record.sourceParentIno, record.sourceName);
  if (entry !== undefined && entry.ino === record.ino) {
    changes.delete(dentryKey(record.sourceParentIno, record.sourceName));
    touchDirectory(changes, action, record.sourceParentIno, movingDirectory ? -1 : 0, args, limits);
  }
  const moved = changes.inode(record.ino);
  if (moved !== undefined) {
    if (movingDirectory) moved.parentIno = record.targetParentIno;
    setCtime(moved, args);
    changes.putInode(moved);
  }
  changes.delete(renameTxnKey(args.sourcePartitionId, args.txSeq));
  return changes.outcome({ applied: true });
}

/** Abort at the source: only while prepared (CONFLICT once committed). Absent: done before. */
export function abortSource(engine: KvEngine, args: TxId): Outcome<{ aborted: boolean }> {
  const changes = new Changes(engine);
  const record = readRecord(changes, args);
  if (record === undefined) return changes.outcome({ aborted: false });
  if (record.state === RenameTxnState.RENAME_TXN_COMMITTED) throw new AtollError(StatusCode.CONFLICT, `rename abort: transaction ${args.sourcePartitionId}/${args.txSeq} is committed; it is finished, not aborted`);
  changes.delete(renameTxnKey(args.sourcePartitionId, args.txSeq));
  return changes.outcome({ aborted: true });
}

/** Abort at the target: forgets the prepared record (nothing else was changed there). */
export function abortTarget(engine: KvEngine, args: TxId): Outcome<{ aborted: boolean }> {
  const changes = new Changes(engine);
  const record = readRecord(changes, args);
  if (record === undefined) return changes.outcome({ aborted: false });
  if (record.isSource) throw new AtollError(StatusCode.INVALID_ARGUMENT, `rename abort target: transaction ${args.sourcePartitionId}/${args.txSeq} is coordinated here`);
  changes.delete(renameTxnKey(args.sourcePartitionId, args.txSeq));
  return changes.outcome({ aborted: true });
}

/** The transaction's state as this partition records it. */
export function status(engine: KvEngine, args: TxId): RenameTxnState {
  const bytes = engine.get(renameTxnKey(args.sourcePartitionId, args.txSeq));
  return bytes === undefined ? RenameTxnState.RENAME_TXN_ABSENT : RenameTxnRecord.decode(bytes).state;
}

/** Transactions recorded here, oldest key first (recovery looks at those older than its timeout). */
export function listTransactions(engine: KvEngine, limit: number): Array<TxId & { record: RenameTxnRecord }> {
  return engine.scan({ prefix: renameTxnPrefix, limit }).map((entry) => {
    const record = RenameTxnRecord.decode(entry.value);
    return { ...decodeRenameTxnKey(entry.key), record };
  });
}

/** What a leader does about a transaction record found during housekeeping. */
export type RecoveryPlan =
  | { readonly kind: 'wait' }
  /** At the source, still prepared after the timeout: abort the target's record, then this one. */
  | { readonly kind: 'abort' }
  /** At the source, committed: apply the target (idempotent), then the source. */
  | { readonly kind: 'finish' }
  /** At the target, left for twice the timeout: ask the source (committed: apply; prepared: wait; absent: abort). */
  | { readonly kind: 'ask-source' };

export function recoveryPlan(record: RenameTxnRecord, nowSec: number, timeoutSec: number): RecoveryPlan {
  if (record.isSource) {
    if (record.state === RenameTxnState.RENAME_TXN_COMMITTED) return nowSec - record.createdSec >= timeoutSec ? { kind: 'finish' } : { kind: 'wait' };
    return nowSec - record.createdSec >= timeoutSec ? { kind: 'abort' } : { kind: 'wait' };
  }
  return nowSec - record.createdSec >= 2 * timeoutSec ? { kind: 'ask-source' } : { kind: 'wait' };
}
