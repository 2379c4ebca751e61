// The halves of operations whose dentry and inode live in different partitions: the
// partition of the dentry adds or removes the entry only, the partition of the inode adds
// or drops the link only; the caller (the cross-partition create/link/unlink/rename
// transaction) runs both and owns the order. Also the orphan guard of two-step creates:
// an inode created for a dentry elsewhere carries a `P<ino>` record until
// confirmInodeLinked; the sweep (orphanCandidates, freeOrphans) frees those whose dentry
// never came. Rules: design.md. Pure.
import { AtollError, StatusCode } from '../../errors/index.js';
import { Dentry, InodeType, type Inode } from '../../proto/generated/metanode.js';
import type { KvEngine } from '../store/kv-engine.js';
import { decodePendingLinkKey, dentryKey, pendingLinkKey, pendingLinkPrefix, toFreeKey } from './keys.js';
import { namespaceLimitsDefault, type NamespaceLimits } from './limits.js';
import {
  Changes, dropLink, invalid, refuseReservedName, requireDentry, requireDirectory, requireInode, requireLiveDirectory, setCtime,
  touchDirectory, validateBatch, validateIno, validateLimit, validateName, validateRecordTime, validateTime, type OperationTime, type Outcome,
} from './operation.js';
import { decodePendingLinkValue, type PendingLinkRecord } from './values.js';

export interface InodeLinkArgs extends OperationTime {
  readonly ino: number;
}

/**
 * The inode (held here) gains the link of a dentry created in another partition. As
 * link: non-directories only [EACCES], not after nlink 0 [ENOENT], at most linksMax [EMLINK].
 */
export function addLinkByIno(engine: KvEngine, args: InodeLinkArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<Inode> {
  const action = 'add link by ino';
  validateTime(action, args);
  validateIno(action, 'ino', args.ino);
  const changes = new Changes(engine);
  const inode = requireInode(changes, action, args.ino);
  if (inode.type === InodeType.INODE_DIRECTORY) {
    throw new AtollError(StatusCode.PERMISSION_DENIED, `${action}: inode ${args.ino} is a directory; directories cannot be hard-linked`);
  }
  if (inode.nlink === 0) throw new AtollError(StatusCode.NOT_FOUND, `${action}: inode ${args.ino} has been unlinked`);
  if (inode.nlink + 1 > limits.linksMax) {
    throw new AtollError(StatusCode.TOO_MANY_LINKS, `${action}: inode ${args.ino} has ${inode.nlink} links, at most ${limits.linksMax}`);
  }
  inode.nlink += 1;
  setCtime(inode, args);
  changes.putInode(inode);
  return changes.outcome(inode);
}

/**
 * The inode (held here) loses the link of a dentry removed in another partition. As
 * unlink and rmdir: a file loses one link; a directory must be empty [ENOTEMPTY] (its
 * entries live here, with it) and goes to nlink 0. At nlink 0: an `F` record.
 */
export function dropLinkByIno(engine: KvEngine, args: InodeLinkArgs): Outcome<Inode> {
  const action = 'drop link by ino';
  validateTime(action, args);
  validateIno(action, 'ino', args.ino);
  const changes = new Changes(engine);
  const inode = requireInode(changes, action, args.ino);
  if (inode.nlink === 0) throw new AtollError(StatusCode.NOT_FOUND, `${action}: inode ${args.ino} has been unlinked`);
  if (inode.type === InodeType.INODE_DIRECTORY && changes.directoryHasEntries(inode.ino)) {
    throw new AtollError(StatusCode.NOT_EMPTY, `${action}: directory ${args.ino} is not empty`);
  }
  return changes.outcome(dropLink(changes, inode, args));
}

export interface DentryOnlyArgs extends OperationTime {
  readonly parentIno: number;
  readonly name: string;
  /** The inode the entry names, held by another partition (or here: then its links are the caller's business). */
  readonly ino: number;
  readonly type: InodeType;
}

/**
 * Creates a dentry whose inode lives elsewhere; the inode's partition counts the link
 * (createInode with remoteParentIno, or addLinkByIno). Parent rules as create: a live
 * directory held here [ENOENT, ENOTDIR], the name valid and free [EINVAL, EEXIST],
 * `.trash` not in the root [EACCES]; a directory entry adds one to the parent's nlink.
 */
export function createDentryOnly(engine: KvEngine, args: DentryOnlyArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<Dentry> {
  const action = 'create dentry';
  validateTime(action, args);
  validateIno(action, 'parentIno', args.parentIno);
  validateIno(action, 'ino', args.ino);
  validateName(action, args.name, limits);
  if (![InodeType.INODE_FILE, InodeType.INODE_DIRECTORY, InodeType.INODE_SYMLINK, InodeType.INODE_SPECIAL].includes(args.type)) {
    invalid(action, `unknown inode type ${args.type}`);
  }
  refuseReservedName(action, args.parentIno, args.name, limits);
  const changes = new Changes(engine);
  requireLiveDirectory(changes, action, args.parentIno);
  if (changes.dentry(args.parentIno, args.name) !== undefined) {
    throw new AtollError(StatusCode.EXISTS, `${action}: ${JSON.stringify(args.name)} already exists in directory ${args.parentIno}`);
  }
  touchDirectory(changes, action, args.parentIno, args.type === InodeType.INODE_DIRECTORY ? 1 : 0, args, limits);
  const dentry = Dentry.create({ parentIno: args.parentIno, name: args.name, ino: args.ino, type: args.type });
  changes.putDentry(dentry);
  return changes.outcome(dentry);
}

export interface RemoveDentryOnlyArgs extends OperationTime {
  readonly parentIno: number;
  readonly name: string;
  /** Remove only if the entry still names this inode [CONFLICT otherwise]: a transaction's guard against a concurrent rename. */
  readonly ino?: number;
}

/**
 * Removes a dentry and nothing else: the inode's partition drops the link
 * (dropLinkByIno, which also checks a directory is empty). A directory entry takes one
 * link from the parent.
 */
export function removeDentryOnly(engine: KvEngine, args: RemoveDentryOnlyArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<Dentry> {
  const action = 'remove dentry';
  validateTime(action, args);
  validateIno(action, 'parentIno', args.parentIno);
  if (args.ino !== undefined) validateIno(action, 'ino', args.ino);
  validateName(action, args.name, limits);
  const changes = new Changes(engine);
  requireDirectory(changes, action, args.parentIno);
  const dentry = requireDentry(changes, action, args.parentIno, args.name);
  if (args.ino !== undefined && dentry.ino !== args.ino) {
    throw new AtollError(StatusCode.CONFLICT, `${action}: ${JSON.stringify(args.name)} in directory ${args.parentIno} names inode ${dentry.ino}, not ${args.ino}`);
  }
  changes.delete(dentryKey(args.parentIno, args.name));
  touchDirectory(changes, action, args.parentIno, dentry.type === InodeType.INODE_DIRECTORY ? -1 : 0, args, limits);
  return changes.outcome(dentry);
}

// ---------------------------------------------------------------------------------------
// Orphan guard of two-step creates

/**
 * The dentry of an inode created with remoteParentIno now exists: its `P` record goes.
 * `confirmed: false` when it was confirmed before (a retry). ENOENT when the inode is gone
 * or unlinked: the sweep took it as an orphan, and the caller must remove the dentry.
 */
export function confirmInodeLinked(engine: KvEngine, args: { readonly ino: number }): Outcome<{ confirmed: boolean }> {
  const action = 'confirm inode linked';
  validateIno(action, 'ino', args.ino);
  const changes = new Changes(engine);
  const inode = changes.inode(args.ino);
  if (inode === undefined || inode.nlink === 0) {
    throw new AtollError(StatusCode.NOT_FOUND, `${action}: inode ${args.ino} was freed as an orphan or unlinked`);
  }
  const key = pendingLinkKey(args.ino);
  if (changes.get(key) === undefined) return changes.outcome({ confirmed: false });
  changes.delete(key);
  return changes.outcome({ confirmed: true });
}

export interface OrphanCandidate extends PendingLinkRecord {
  readonly ino: number;
}

export interface OrphanCandidatesArgs extends OperationTime {
  /** Seconds a two-step create may take before its inode counts as an orphan. */
  readonly graceSec: number;
  /** Resume after this ino. */
  readonly after?: number;
  /** Pending records to look at, 1..recordsScannedPerPageMax. */
  readonly limit: number;
}

/**
 * Pending inodes created at least graceSec before now, in ino order (about creation
 * order: the cursor only moves up). `resumeAfter`: more records follow.
 */
export function orphanCandidates(engine: KvEngine, args: OrphanCandidatesArgs, limits: NamespaceLimits = namespaceLimitsDefault): { orphans: OrphanCandidate[]; resumeAfter?: number } {
  const action = 'orphan candidates';
  validateTime(action, args);
  if (!Number.isSafeInteger(args.graceSec) || args.graceSec < 0) invalid(action, `graceSec must be a non-negative safe integer: ${args.graceSec}`);
  validateLimit(action, args.limit, limits.recordsScannedPerPageMax);
  const entries = engine.scan({ prefix: pendingLinkPrefix, after: args.after === undefined ? undefined : pendingLinkKey(args.after), limit: args.limit });
  const orphans: OrphanCandidate[] = [];
  for (const entry of entries) {
    const record = decodePendingLinkValue(entry.value);
    if (record.createdSec + args.graceSec <= args.nowSec) orphans.push({ ino: decodePendingLinkKey(entry.key), ...record });
  }
  return entries.length < args.limit ? { orphans } : { orphans, resumeAfter: decodePendingLinkKey(entries[entries.length - 1].key) };
}

/**
 * Frees inodes whose dentry never came: each still pending and created at least graceSec
 * before now goes to nlink 0 with an `F` record (freeInodes then takes it) and loses its
 * `P` record. Both conditions are checked again here, as the log applies it: skipped are
 * inodes confirmed meanwhile, younger ones, and a pending directory that got entries (it
 * stays pending; an operator decides).
 */
export function freeOrphans(engine: KvEngine, args: OperationTime & { readonly inos: readonly number[]; readonly graceSec: number }, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<{ freed: number[]; skipped: number[] }> {
  const action = 'free orphans';
  validateRecordTime(action, args);
  if (!Number.isSafeInteger(args.graceSec) || args.graceSec < 0) invalid(action, `graceSec must be a non-negative safe integer: ${args.graceSec}`);
  validateBatch(action, 'inodes', args.inos, limits.inodesFreedPerBatchMax);
  for (const ino of args.inos) validateIno(action, 'ino', ino);
  const changes = new Changes(engine);
  const freed: number[] = [];
  const skipped: number[] = [];
  for (const ino of args.inos) {
    const inode = changes.inode(ino);
    const pendingBytes = changes.get(pendingLinkKey(ino));
    const pending = pendingBytes !== undefined && decodePendingLinkValue(pendingBytes).createdSec + args.graceSec <= args.nowSec;
    if (!pending || inode === undefined || inode.nlink === 0 || (inode.type === InodeType.INODE_DIRECTORY && changes.directoryHasEntries(ino))) {
      skipped.push(ino);
      continue;
    }
    inode.nlink = 0;
    setCtime(inode, args);
    changes.putInode(inode);
    changes.set(toFreeKey(ino), new Uint8Array(0));
    changes.delete(pendingLinkKey(ino));
    freed.push(ino);
  }
  return changes.outcome({ freed, skipped });
}
