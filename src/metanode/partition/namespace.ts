// The namespace operations of one meta partition as a pure state machine over a KvEngine:
// a mutating operation reads the engine and returns its result with the mutations that
// make it happen, or throws an AtollError and changes nothing; the caller (the Raft apply
// path) writes the mutations with the entry's index. Nothing here reads a clock or random
// source or does I/O: time comes in the arguments, so replaying the same log on the same
// state yields the same mutations. Read-only operations return their result directly.
// Rules and layout: design.md.
import { AtollError, assert, StatusCode } from '../../errors/index.js';
import { Dentry, Inode, InodeType, XattrPresence, type ExtentKey } from '../../proto/generated/metanode.js';
import type { KvEngine } from '../store/kv-engine.js';
import {
  counterKey, CounterName, decodeCounterValue, decodeXattrKey, dentryKey, dentryPrefix, dentryPrefixAll, encodeCounterValue,
  inodeKey, inodePrefix, nameBytes, pendingLinkKey, toFreePrefix, xattrKey, xattrPrefix,
} from './keys.js';
import { extentsBeyond, queueExtentReleases } from './freeing.js';
import { namespaceLimitsDefault, type NamespaceLimits } from './limits.js';
import {
  Changes, decodeInode, dropLink, invalid, refuseReservedName, requireDentry, requireDirectory, requireInode, requireLiveDirectory,
  rootParentSentinel, setCtime, setMtime, touchDirectory, validateId, validateIno, validateMode, validateName, validateRecordTime,
  validateTime, validateTimespec, type InodeRange, type OperationTime, type Outcome, type Timespec,
} from './operation.js';
import { detachDirectory, putInTrash, trashIsOn } from './trash.js';
import { encodePendingLinkValue } from './values.js';
import { queueLinkDrop } from './link-drops.js';

export { modePermissionBitsMax, validateName, type InodeRange, type OperationTime, type Outcome, type Timespec } from './operation.js';

// ---------------------------------------------------------------------------------------
// Create

export interface CreateInodeArgs extends OperationTime {
  readonly type: InodeType;
  /** Permission bits (0..0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Symlinks only: the target, 1..symlinkTargetBytesMax bytes. */
  readonly symlinkTarget?: Uint8Array;
  /** Special files only: the device number. */
  readonly rdev?: number;
  /** The inode's generation, chosen by the creating client (0: none). */
  readonly generation?: number;
  /** The directory to create the entry in; it must be held by this partition. */
  readonly parentIno?: number;
  /** The entry's name; with parentIno, the dentry is created in the same operation. */
  readonly name?: string;
  /**
   * The directory, in another partition, that will hold this inode's dentry (the first
   * step of a two-step create). The inode is written with a pending record `P<ino>` that
   * confirmInodeLinked clears once the dentry exists; if it never does, the orphan sweep
   * frees it. A directory records it as its parent. Not with parentIno.
   */
  readonly remoteParentIno?: number;
}

export interface CreateInodeResult {
  readonly inode: Inode;
  readonly dentry?: Dentry;
  /** With the dentry: its directory as this operation left it (what a client caches). */
  readonly parent?: Inode;
}

/**
 * Allocates the next inode number of the range and creates the inode; with parentIno and
 * name, also the dentry. A directory starts at nlink 2 and adds one to its parent's.
 * With remoteParentIno, the inode waits for its dentry in another partition (`P` record).
 * Without either, a directory is a root: its parentIno is itself.
 */
export function createInode(engine: KvEngine, range: InodeRange, args: CreateInodeArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<CreateInodeResult> {
  const action = 'create inode';
  validateTime(action, args);
  validateMode(action, args.mode);
  validateId(action, 'uid', args.uid);
  validateId(action, 'gid', args.gid);
  if (args.generation !== undefined) validateId(action, 'generation', args.generation);
  assert(Number.isSafeInteger(range.inodeStart) && range.inodeStart >= 1 && Number.isSafeInteger(range.inodeEnd) && range.inodeEnd > range.inodeStart,
    () => `${action}: bad inode range [${range.inodeStart}, ${range.inodeEnd})`);
  const isDirectory = args.type === InodeType.INODE_DIRECTORY;
  switch (args.type) {
    case InodeType.INODE_FILE:
    case InodeType.INODE_DIRECTORY:
      break;
    case InodeType.INODE_SYMLINK: {
      const bytes = args.symlinkTarget?.length ?? 0;
      if (bytes === 0) invalid(action, 'a symlink needs a target');
      if (bytes > limits.symlinkTargetBytesMax) {
        throw new AtollError(StatusCode.NAME_TOO_LONG, `${action}: symlink target of ${bytes} bytes, at most ${limits.symlinkTargetBytesMax}`);
      }
      break;
    }
    case InodeType.INODE_SPECIAL:
      validateId(action, 'rdev', args.rdev ?? 0);
      break;
    default:
      invalid(action, `unknown inode type ${args.type}`);
  }
  if (args.type !== InodeType.INODE_SYMLINK && args.symlinkTarget !== undefined && args.symlinkTarget.length > 0) invalid(action, 'only a symlink has a target');
  if (args.type !== InodeType.INODE_SPECIAL && (args.rdev ?? 0) !== 0) invalid(action, 'only a special file has rdev');
  if (args.name !== undefined && args.parentIno === undefined && args.remoteParentIno === undefined) invalid(action, 'a name needs a parentIno or remoteParentIno');
  if (args.parentIno !== undefined) validateIno(action, 'parentIno', args.parentIno);
  if (args.remoteParentIno !== undefined) {
    validateIno(action, 'remoteParentIno', args.remoteParentIno);
    if (args.parentIno !== undefined) invalid(action, 'parentIno and remoteParentIno exclude each other');
    // The name the dentry will have there, kept so an orphan sweep can look it up.
    if (args.name !== undefined) validateName(action, args.name, limits);
    validateRecordTime(action, args);
  }

  const changes = new Changes(engine);
  let dentry: Dentry | undefined;
  let parent: Inode | undefined;
  if (args.parentIno !== undefined && args.name !== undefined) {
    validateName(action, args.name, limits);
    refuseReservedName(action, args.parentIno, args.name, limits);
    parent = requireLiveDirectory(changes, action, args.parentIno);
    if (changes.dentry(args.parentIno, args.name) !== undefined) {
      throw new AtollError(StatusCode.EXISTS, `${action}: ${JSON.stringify(args.name)} already exists in directory ${args.parentIno}`);
    }
  }

  const cursorKey = counterKey(CounterName.inodeCursor);
  const cursorBytes = changes.get(cursorKey);
  const ino = cursorBytes === undefined ? range.inodeStart : Math.max(decodeCounterValue(cursorBytes), range.inodeStart);
  if (ino >= range.inodeEnd) {
    throw new AtollError(StatusCode.RANGE_FULL, `${action}: inode range [${range.inodeStart}, ${range.inodeEnd}) is used up`);
  }
  assert(changes.get(inodeKey(ino)) === undefined, () => `${action}: inode ${ino} under the cursor already exists`);
  changes.set(cursorKey, encodeCounterValue(ino + 1));

  const inode = Inode.create({
    ino,
    type: args.type,
    mode: args.mode,
    uid: args.uid,
    gid: args.gid,
    size: args.type === InodeType.INODE_SYMLINK ? args.symlinkTarget!.length : 0,
    nlink: isDirectory ? 2 : 1,
    atimeSec: args.nowSec, atimeNsec: args.nowNsec,
    mtimeSec: args.nowSec, mtimeNsec: args.nowNsec,
    ctimeSec: args.nowSec, ctimeNsec: args.nowNsec,
    symlinkTarget: args.type === InodeType.INODE_SYMLINK ? new Uint8Array(args.symlinkTarget!) : new Uint8Array(0),
    rdev: args.rdev ?? 0,
    generation: args.generation ?? 0,
    parentIno: isDirectory ? args.parentIno ?? args.remoteParentIno ?? ino : rootParentSentinel,
    xattrs: XattrPresence.XATTRS_NONE,
  });
  changes.putInode(inode);
  if (args.remoteParentIno !== undefined) {
    changes.set(pendingLinkKey(ino), encodePendingLinkValue({ createdSec: args.nowSec, createdNsec: args.nowNsec, parentIno: args.remoteParentIno, name: args.name ?? '' }));
  }

  if (args.parentIno !== undefined && args.name !== undefined) {
    // The parent record is not among what this operation wrote since it was read.
    parent = touchDirectory(changes, action, args.parentIno, isDirectory ? 1 : 0, args, limits, parent);
    dentry = Dentry.create({ parentIno: args.parentIno, name: args.name, ino, type: args.type });
    changes.putDentry(dentry);
  }
  return changes.outcome(dentry === undefined ? { inode } : { inode, dentry, parent });
}

// ---------------------------------------------------------------------------------------
// Reads

export function getInode(engine: KvEngine, ino: number): Inode {
  validateIno('get inode', 'ino', ino);
  return requireInode(new Changes(engine), 'get inode', ino);
}

/** The inodes of `inos` held here, in the order asked; absent ones are left out. */
export function batchGetInode(engine: KvEngine, inos: readonly number[], limits: NamespaceLimits = namespaceLimitsDefault): Inode[] {
  const action = 'batch get inode';
  if (inos.length > limits.batchInodesMax) invalid(action, `${inos.length} inodes asked, at most ${limits.batchInodesMax}`);
  const inodes: Inode[] = [];
  for (const ino of inos) {
    validateIno(action, 'ino', ino);
    const bytes = engine.get(inodeKey(ino));
    if (bytes !== undefined) inodes.push(decodeInode(bytes));
  }
  return inodes;
}

/** The inode `ino` if this partition holds it. */
export function findInode(engine: KvEngine, ino: number): Inode | undefined {
  validateIno('find inode', 'ino', ino);
  const bytes = engine.get(inodeKey(ino));
  return bytes === undefined ? undefined : decodeInode(bytes);
}

/** A lookup that also answers the entry's inode when this partition holds it. */
export function lookupPlus(engine: KvEngine, parentIno: number, name: string, limits: NamespaceLimits = namespaceLimitsDefault): { dentry: Dentry; inode?: Inode } {
  const dentry = lookup(engine, parentIno, name, limits);
  const inode = findInode(engine, dentry.ino);
  return inode === undefined ? { dentry } : { dentry, inode };
}

export function lookup(engine: KvEngine, parentIno: number, name: string, limits: NamespaceLimits = namespaceLimitsDefault): Dentry {
  const action = 'lookup';
  validateIno(action, 'parentIno', parentIno);
  validateName(action, name, limits);
  const changes = new Changes(engine);
  requireDirectory(changes, action, parentIno);
  return requireDentry(changes, action, parentIno, name);
}

export interface ReaddirArgs {
  readonly parentIno: number;
  /** Resume after this name (exclusive); absent or empty: from the first entry. */
  readonly after?: string;
  /** Entries in this page, 1..readdirEntriesMax. */
  readonly limit: number;
}

export interface ReaddirPage {
  /** In the byte order of their UTF-8 names. */
  readonly entries: Dentry[];
  /** More entries follow the last one: ask again with `after` its name. */
  readonly more: boolean;
}

export interface ReaddirPlusPage extends ReaddirPage {
  /** The inode of each entry held in this partition, in the order of `entries`. */
  readonly inodes: Inode[];
}

export function readdir(engine: KvEngine, args: ReaddirArgs, limits: NamespaceLimits = namespaceLimitsDefault): ReaddirPage {
  const action = 'readdir';
  validateIno(action, 'parentIno', args.parentIno);
  if (!Number.isInteger(args.limit) || args.limit < 1 || args.limit > limits.readdirEntriesMax) {
    invalid(action, `limit must be in 1..${limits.readdirEntriesMax}: ${args.limit}`);
  }
  requireDirectory(new Changes(engine), action, args.parentIno);
  const after = args.after === undefined || args.after === '' ? undefined : dentryKey(args.parentIno, args.after);
  const scanned = engine.scan({ prefix: dentryPrefix(args.parentIno), after, limit: args.limit + 1 });
  const more = scanned.length > args.limit;
  const entries = scanned.slice(0, args.limit).map((entry) => Dentry.decode(entry.value));
  return { entries, more };
}

export function readdirPlus(engine: KvEngine, args: ReaddirArgs, limits: NamespaceLimits = namespaceLimitsDefault): ReaddirPlusPage {
  const page = readdir(engine, args, limits);
  const inodes: Inode[] = [];
  for (const entry of page.entries) {
    const bytes = engine.get(inodeKey(entry.ino));
    if (bytes !== undefined) inodes.push(decodeInode(bytes));
  }
  return { ...page, inodes };
}

export interface PartitionCounts {
  readonly inodes: number;
  readonly dentries: number;
  /** Inodes at nlink 0 waiting to be freed (still counted in `inodes`). */
  readonly inodesToFree: number;
}

export function statfs(engine: KvEngine): PartitionCounts {
  return { inodes: engine.count(inodePrefix), dentries: engine.count(dentryPrefixAll), inodesToFree: engine.count(toFreePrefix) };
}

// ---------------------------------------------------------------------------------------
// Links

export interface LinkArgs extends OperationTime {
  readonly ino: number;
  readonly parentIno: number;
  readonly name: string;
}

/** A new hard link (parentIno, name) to an existing non-directory inode held here. */
export function link(engine: KvEngine, args: LinkArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<{ inode: Inode; dentry: Dentry }> {
  const action = 'link';
  validateTime(action, args);
  validateIno(action, 'ino', args.ino);
  validateIno(action, 'parentIno', args.parentIno);
  validateName(action, args.name, limits);
  const changes = new Changes(engine);
  const inode = requireInode(changes, action, args.ino);
  if (inode.type === InodeType.INODE_DIRECTORY) {
    throw new AtollError(StatusCode.PERMISSION_DENIED, `${action}: inode ${args.ino} is a directory; directories cannot be hard-linked`);
  }
  if (inode.nlink === 0) throw new AtollError(StatusCode.NOT_FOUND, `${action}: inode ${args.ino} has been unlinked`);
  refuseReservedName(action, args.parentIno, args.name, limits);
  requireLiveDirectory(changes, action, args.parentIno);
  if (changes.dentry(args.parentIno, args.name) !== undefined) {
    throw new AtollError(StatusCode.EXISTS, `${action}: ${JSON.stringify(args.name)} already exists in directory ${args.parentIno}`);
  }
  if (inode.nlink + 1 > limits.linksMax) {
    throw new AtollError(StatusCode.TOO_MANY_LINKS, `${action}: inode ${args.ino} has ${inode.nlink} links, at most ${limits.linksMax}`);
  }
  inode.nlink += 1;
  setCtime(inode, args);
  changes.putInode(inode);
  touchDirectory(changes, action, args.parentIno, 0, args, limits);
  const dentry = Dentry.create({ parentIno: args.parentIno, name: args.name, ino: inode.ino, type: inode.type });
  changes.putDentry(dentry);
  return changes.outcome({ inode, dentry });
}

export interface UnlinkArgs extends OperationTime {
  readonly parentIno: number;
  readonly name: string;
  /**
   * The volume's trash retention; above 0 the entry moves to the trash (a `T` record) and
   * its inode keeps the link until the entry expires (design.md, Trash).
   */
  readonly trashRetentionSec?: number;
}

export interface UnlinkResult {
  /** The entry removed. */
  readonly dentry: Dentry;
  /**
   * The inode after the removal, when held here. Absent (and no `trashKey`): the link its
   * partition must drop is queued here (`linkDropSeq`, link-drops.ts).
   */
  readonly inode?: Inode;
  /** The `K` record queued for an inode held by another partition. */
  readonly linkDropSeq?: number;
  /** The entry went to the trash under this key: its inode kept the link, wherever it lives. */
  readonly trashKey?: Uint8Array;
  /** The entry's directory as this operation left it (what a client caches). */
  readonly parent: Inode;
}

/**
 * Removes the dentry of a live entry (unlink and rmdir share this): either the link goes
 * with it, or, with the trash on, the entry moves to the trash and keeps the link.
 */
function removeEntry(changes: Changes, action: string, args: UnlinkArgs, dentry: Dentry, inode: Inode | undefined, limits: NamespaceLimits): UnlinkResult {
  const isDirectory = dentry.type === InodeType.INODE_DIRECTORY;
  changes.delete(dentryKey(args.parentIno, args.name));
  const parent = touchDirectory(changes, action, args.parentIno, isDirectory ? -1 : 0, args, limits);
  const trashKey = trashIsOn(action, args, args.trashRetentionSec) ? putInTrash(changes, dentry, args) : undefined;
  if (trashKey !== undefined) {
    if (inode === undefined) return { dentry, trashKey, parent };
    if (isDirectory) return { dentry, inode: detachDirectory(changes, inode, args), trashKey, parent };
    setCtime(inode, args);
    changes.putInode(inode);
    return { dentry, inode, trashKey, parent };
  }
  if (inode === undefined) return { dentry, linkDropSeq: queueLinkDrop(changes, dentry.ino, args), parent };
  return { dentry, inode: dropLink(changes, inode, args), parent };
}

/** Removes a non-directory entry; its inode loses a link and at nlink 0 is queued for freeing (or the entry goes to the trash). */
export function unlink(engine: KvEngine, args: UnlinkArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<UnlinkResult> {
  const action = 'unlink';
  validateTime(action, args);
  validateIno(action, 'parentIno', args.parentIno);
  validateName(action, args.name, limits);
  const changes = new Changes(engine);
  requireDirectory(changes, action, args.parentIno);
  const dentry = requireDentry(changes, action, args.parentIno, args.name);
  if (dentry.type === InodeType.INODE_DIRECTORY) {
    throw new AtollError(StatusCode.IS_DIR, `${action}: ${JSON.stringify(args.name)} is a directory; use rmdir`);
  }
  return changes.outcome(removeEntry(changes, action, args, dentry, changes.inode(dentry.ino), limits));
}

/**
 * Removes an empty directory entry: the directory goes to nlink 0 (queued for freeing), or
 * with the trash on it moves to the trash, detached; its parent loses a link either way.
 */
export function rmdir(engine: KvEngine, args: UnlinkArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<UnlinkResult> {
  const action = 'rmdir';
  validateTime(action, args);
  validateIno(action, 'parentIno', args.parentIno);
  validateName(action, args.name, limits);
  const changes = new Changes(engine);
  requireDirectory(changes, action, args.parentIno);
  const dentry = requireDentry(changes, action, args.parentIno, args.name);
  if (dentry.type !== InodeType.INODE_DIRECTORY) {
    throw new AtollError(StatusCode.NOT_DIR, `${action}: ${JSON.stringify(args.name)} is not a directory`);
  }
  const directory = changes.inode(dentry.ino);
  if (directory === undefined) {
    throw new AtollError(StatusCode.NOT_SUPPORTED, `${action}: directory ${dentry.ino} lives in another partition (not built yet)`);
  }
  if (changes.directoryHasEntries(directory.ino)) {
    throw new AtollError(StatusCode.NOT_EMPTY, `${action}: directory ${JSON.stringify(args.name)} (${directory.ino}) is not empty`);
  }
  return changes.outcome(removeEntry(changes, action, args, dentry, directory, limits));
}

// ---------------------------------------------------------------------------------------
// Rename

export interface RenameArgs extends OperationTime {
  readonly sourceParentIno: number;
  readonly sourceName: string;
  readonly targetParentIno: number;
  readonly targetName: string;
}

export interface RenameResult {
  /** The entry at its new place. */
  readonly dentry: Dentry;
  /** The entry that was replaced, if any. */
  readonly replaced?: Dentry;
  /** The replaced entry's inode after losing the link, when held here; absent with `replaced`: the link is queued (`linkDropSeq`). */
  readonly replacedInode?: Inode;
  /** The `K` record queued for a replaced inode held by another partition. */
  readonly linkDropSeq?: number;
}

/**
 * Moves an entry within this partition, atomically. Over an existing file or empty
 * directory it replaces it (the replaced inode loses a link); the usual POSIX refusals
 * apply (design.md). Every directory involved must be held here.
 */
export function rename(engine: KvEngine, args: RenameArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<RenameResult> {
  const action = 'rename';
  validateTime(action, args);
  validateIno(action, 'sourceParentIno', args.sourceParentIno);
  validateIno(action, 'targetParentIno', args.targetParentIno);
  validateName(action, args.sourceName, limits);
  validateName(action, args.targetName, limits);
  refuseReservedName(action, args.targetParentIno, args.targetName, limits);
  const changes = new Changes(engine);
  requireDirectory(changes, action, args.sourceParentIno);
  requireLiveDirectory(changes, action, args.targetParentIno);
  const source = requireDentry(changes, action, args.sourceParentIno, args.sourceName);
  const target = changes.dentry(args.targetParentIno, args.targetName);
  // POSIX: renaming a name onto itself, or onto another link of the same inode, does nothing.
  if (target !== undefined && target.ino === source.ino) return changes.outcome({ dentry: source });

  const sourceIsDirectory = source.type === InodeType.INODE_DIRECTORY;
  let moved: Inode | undefined = changes.inode(source.ino);
  if (sourceIsDirectory) {
    if (moved === undefined) {
      throw new AtollError(StatusCode.NOT_SUPPORTED, `${action}: directory ${source.ino} lives in another partition (not built yet)`);
    }
    refuseMoveIntoOwnSubtree(changes, action, source.ino, args.targetParentIno, limits);
  }

  let replacedInode: Inode | undefined;
  let linkDropSeq: number | undefined;
  if (target !== undefined) {
    const targetIsDirectory = target.type === InodeType.INODE_DIRECTORY;
    if (sourceIsDirectory && !targetIsDirectory) {
      throw new AtollError(StatusCode.NOT_DIR, `${action}: cannot replace non-directory ${JSON.stringify(args.targetName)} with a directory`);
    }
    if (!sourceIsDirectory && targetIsDirectory) {
      throw new AtollError(StatusCode.IS_DIR, `${action}: cannot replace directory ${JSON.stringify(args.targetName)} with a non-directory`);
    }
    const targetInode = changes.inode(target.ino);
    if (targetIsDirectory) {
      if (targetInode === undefined) {
        throw new AtollError(StatusCode.NOT_SUPPORTED, `${action}: directory ${target.ino} lives in another partition (not built yet)`);
      }
      if (changes.directoryHasEntries(target.ino)) {
        throw new AtollError(StatusCode.NOT_EMPTY, `${action}: directory ${JSON.stringify(args.targetName)} (${target.ino}) is not empty`);
      }
      touchDirectory(changes, action, args.targetParentIno, -1, args, limits);
    }
    if (targetInode !== undefined) replacedInode = dropLink(changes, targetInode, args);
    else linkDropSeq = queueLinkDrop(changes, target.ino, args);
  }

  changes.delete(dentryKey(args.sourceParentIno, args.sourceName));
  const dentry = Dentry.create({ parentIno: args.targetParentIno, name: args.targetName, ino: source.ino, type: source.type });
  changes.putDentry(dentry);
  const movesParent = sourceIsDirectory && args.sourceParentIno !== args.targetParentIno;
  touchDirectory(changes, action, args.sourceParentIno, movesParent ? -1 : 0, args, limits);
  touchDirectory(changes, action, args.targetParentIno, movesParent ? 1 : 0, args, limits);
  // Re-read: dropping the replaced entry or touching a parent may have changed it.
  moved = changes.inode(source.ino);
  if (moved !== undefined) {
    if (sourceIsDirectory) moved.parentIno = args.targetParentIno;
    setCtime(moved, args);
    changes.putInode(moved);
  }
  return changes.outcome({
    dentry,
    ...(target === undefined ? {} : { replaced: target }),
    ...(replacedInode === undefined ? {} : { replacedInode }),
    ...(linkDropSeq === undefined ? {} : { linkDropSeq }),
  });
}

/** Walks up from `targetParentIno` by directory parent pointers; refuses if `directoryIno` is met. */
function refuseMoveIntoOwnSubtree(changes: Changes, action: string, directoryIno: number, targetParentIno: number, limits: NamespaceLimits): void {
  let current = targetParentIno;
  for (let depth = 0; depth <= limits.directoryDepthMax; depth++) {
    if (current === directoryIno) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `${action}: cannot move directory ${directoryIno} into its own subtree (under ${targetParentIno})`);
    }
    const inode = changes.inode(current);
    // The walk ends at a root (its own parent) or where the chain leaves this partition.
    if (inode === undefined || inode.parentIno === current || inode.parentIno === rootParentSentinel) return;
    current = inode.parentIno;
  }
  assert(false, () => `${action}: more than ${limits.directoryDepthMax} ancestors above ${targetParentIno}: a parent cycle?`);
}

// ---------------------------------------------------------------------------------------
// Attributes

export interface SetattrArgs extends OperationTime {
  readonly ino: number;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Files only. Shrinking drops the extents beyond the new size from the inode. */
  readonly size?: number;
  readonly atime?: Timespec;
  readonly mtime?: Timespec;
  /**
   * The caller's id for this call, the same on each attempt (0 or absent: none). Found as
   * the inode's lastSetattrId, the call is a repeat of the last one applied: it is answered
   * with the inode as it is, not applied again.
   */
  readonly requestId?: number;
}

/**
 * Changes the given attributes; ctime becomes now, and a size change without mtime sets
 * mtime to now too. A repeat of the last setattr applied to the inode (same requestId)
 * changes nothing: a write between the two stays.
 */
export function setattr(engine: KvEngine, args: SetattrArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<Inode> {
  const action = 'setattr';
  validateTime(action, args);
  validateIno(action, 'ino', args.ino);
  if (args.mode !== undefined) validateMode(action, args.mode);
  if (args.uid !== undefined) validateId(action, 'uid', args.uid);
  if (args.gid !== undefined) validateId(action, 'gid', args.gid);
  if (args.atime !== undefined) validateTimespec(action, 'atime', args.atime);
  if (args.mtime !== undefined) validateTimespec(action, 'mtime', args.mtime);
  if (args.size !== undefined && (!Number.isSafeInteger(args.size) || args.size < 0)) invalid(action, `size must be a non-negative safe integer: ${args.size}`);
  if (args.requestId !== undefined && (!Number.isSafeInteger(args.requestId) || args.requestId < 0)) invalid(action, `requestId must be a non-negative safe integer: ${args.requestId}`);
  const changes = new Changes(engine);
  const inode = requireInode(changes, action, args.ino);
  const requestId = args.requestId ?? 0;
  if (requestId !== 0 && inode.lastSetattrId === requestId) return changes.outcome(inode);
  inode.lastSetattrId = requestId;
  if (args.mode !== undefined) inode.mode = args.mode;
  if (args.uid !== undefined) inode.uid = args.uid;
  if (args.gid !== undefined) inode.gid = args.gid;
  if (args.size !== undefined) {
    if (inode.type === InodeType.INODE_DIRECTORY) throw new AtollError(StatusCode.IS_DIR, `${action}: cannot set the size of directory ${args.ino}`);
    if (inode.type !== InodeType.INODE_FILE) invalid(action, `cannot set the size of non-file ${args.ino}`);
    if (args.size < inode.size) {
      const size = args.size;
      const dropped = extentsBeyond(inode.extents, size);
      inode.extents = inode.extents
        .filter((extent) => extent.fileOffset < size)
        .map((extent) => (extent.fileOffset + extent.size > size ? { ...extent, size: size - extent.fileOffset } : extent));
      // What the file no longer refers to goes to the datanodes for release, durably.
      queueExtentReleases(changes, dropped, limits, inode.extents);
    }
    inode.size = args.size;
    if (args.mtime === undefined) setMtime(inode, args);
  }
  if (args.atime !== undefined) {
    inode.atimeSec = args.atime.sec;
    inode.atimeNsec = args.atime.nsec;
  }
  if (args.mtime !== undefined) {
    inode.mtimeSec = args.mtime.sec;
    inode.mtimeNsec = args.mtime.nsec;
  }
  setCtime(inode, args);
  changes.putInode(inode);
  return changes.outcome(inode);
}

// ---------------------------------------------------------------------------------------
// Extended attributes

function validateXattrName(action: string, name: string, limits: NamespaceLimits): void {
  if (typeof name !== 'string' || name.length === 0) invalid(action, 'empty attribute name');
  if (name.includes('\0')) invalid(action, 'attribute name contains NUL');
  const bytes = nameBytes(name).length;
  if (bytes > limits.xattrNameBytesMax) {
    throw new AtollError(StatusCode.NAME_TOO_LONG, `${action}: attribute name of ${bytes} bytes, at most ${limits.xattrNameBytesMax}`);
  }
}

export function getXattr(engine: KvEngine, ino: number, name: string, limits: NamespaceLimits = namespaceLimitsDefault): Uint8Array {
  const action = 'get xattr';
  validateIno(action, 'ino', ino);
  validateXattrName(action, name, limits);
  const changes = new Changes(engine);
  requireInode(changes, action, ino);
  const value = engine.get(xattrKey(ino, name));
  if (value === undefined) throw new AtollError(StatusCode.NOT_FOUND, `${action}: inode ${ino} has no attribute ${JSON.stringify(name)}`);
  // A copy as a plain Uint8Array: engines hand out Buffers, whose slice() is a view, not a copy.
  return new Uint8Array(value);
}

/** Attribute names of an inode, in the byte order of their UTF-8 names (at most xattrsPerInodeMax). */
export function listXattr(engine: KvEngine, ino: number, limits: NamespaceLimits = namespaceLimitsDefault): string[] {
  const action = 'list xattr';
  validateIno(action, 'ino', ino);
  requireInode(new Changes(engine), action, ino);
  return engine.scan({ prefix: xattrPrefix(ino), limit: limits.xattrsPerInodeMax }).map((entry) => decodeXattrKey(entry.key).name);
}

export interface SetXattrArgs extends OperationTime {
  readonly ino: number;
  readonly name: string;
  readonly value: Uint8Array;
  /** 'create': fail with EXISTS if present (XATTR_CREATE); 'replace': fail with NOT_FOUND if absent (XATTR_REPLACE). */
  readonly flag?: 'create' | 'replace';
}

export function setXattr(engine: KvEngine, args: SetXattrArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<Inode> {
  const action = 'set xattr';
  validateTime(action, args);
  validateIno(action, 'ino', args.ino);
  validateXattrName(action, args.name, limits);
  if (args.value.length > limits.xattrValueBytesMax) {
    throw new AtollError(StatusCode.TOO_LARGE, `${action}: value of ${args.value.length} bytes, at most ${limits.xattrValueBytesMax}`);
  }
  const changes = new Changes(engine);
  const inode = requireInode(changes, action, args.ino);
  const key = xattrKey(args.ino, args.name);
  const exists = changes.get(key) !== undefined;
  if (exists && args.flag === 'create') throw new AtollError(StatusCode.EXISTS, `${action}: inode ${args.ino} already has attribute ${JSON.stringify(args.name)}`);
  if (!exists && args.flag === 'replace') throw new AtollError(StatusCode.NOT_FOUND, `${action}: inode ${args.ino} has no attribute ${JSON.stringify(args.name)}`);
  if (!exists && engine.count(xattrPrefix(args.ino)) >= limits.xattrsPerInodeMax) {
    throw new AtollError(StatusCode.NO_SPACE, `${action}: inode ${args.ino} has ${limits.xattrsPerInodeMax} attributes, the most it may hold`);
  }
  changes.set(key, new Uint8Array(args.value));
  inode.xattrs = XattrPresence.XATTRS_SOME;
  setCtime(inode, args);
  changes.putInode(inode);
  return changes.outcome(inode);
}

export interface RemoveXattrArgs extends OperationTime {
  readonly ino: number;
  readonly name: string;
}

export function removeXattr(engine: KvEngine, args: RemoveXattrArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<Inode> {
  const action = 'remove xattr';
  validateTime(action, args);
  validateIno(action, 'ino', args.ino);
  validateXattrName(action, args.name, limits);
  const changes = new Changes(engine);
  const inode = requireInode(changes, action, args.ino);
  const key = xattrKey(args.ino, args.name);
  if (changes.get(key) === undefined) throw new AtollError(StatusCode.NOT_FOUND, `${action}: inode ${args.ino} has no attribute ${JSON.stringify(args.name)}`);
  // The count is the engine's, before this change: the removed one is still in it.
  inode.xattrs = engine.count(xattrPrefix(args.ino)) > 1 ? XattrPresence.XATTRS_SOME : XattrPresence.XATTRS_NONE;
  changes.delete(key);
  setCtime(inode, args);
  changes.putInode(inode);
  return changes.outcome(inode);
}

// ---------------------------------------------------------------------------------------
// File extents

export interface AppendExtentsArgs extends OperationTime {
  readonly ino: number;
  /** Extents written since the last append, in the order they were written. */
  readonly extents: readonly ExtentKey[];
}

export interface AppendExtentsResult {
  readonly inode: Inode;
  /** Parts of older extents the new ones cover (overwritten bytes): theirs to release. */
  readonly released: ExtentKey[];
}

/**
 * Records extents written to a file. A new extent covers whatever older extents held for
 * its byte range (an overwrite that went to a new extent): those parts are cut out,
 * queued for release on their datanodes (`E` records) and returned as released. The size grows to the end of the last byte written; mtime and
 * ctime become now.
 */
export function appendExtents(engine: KvEngine, args: AppendExtentsArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<AppendExtentsResult> {
  const action = 'append extents';
  validateTime(action, args);
  validateIno(action, 'ino', args.ino);
  if (!Array.isArray(args.extents) || args.extents.length === 0 || args.extents.length > limits.extentKeysPerAppendMax) {
    invalid(action, `1..${limits.extentKeysPerAppendMax} extents per append, got ${Array.isArray(args.extents) ? args.extents.length : 'none'}`);
  }
  for (const extent of args.extents) {
    if (!Number.isSafeInteger(extent.fileOffset) || extent.fileOffset < 0) invalid(action, `fileOffset must be a non-negative safe integer: ${extent.fileOffset}`);
    if (!Number.isSafeInteger(extent.extentOffset) || extent.extentOffset < 0) invalid(action, `extentOffset must be a non-negative safe integer: ${extent.extentOffset}`);
    if (!Number.isInteger(extent.size) || extent.size < 1 || !Number.isSafeInteger(extent.fileOffset + extent.size)) invalid(action, `size must be a positive uint32: ${extent.size}`);
    validateIno(action, 'partitionId', extent.partitionId);
    validateIno(action, 'extentId', extent.extentId);
  }
  const changes = new Changes(engine);
  const inode = requireInode(changes, action, args.ino);
  if (inode.type !== InodeType.INODE_FILE) {
    if (inode.type === InodeType.INODE_DIRECTORY) throw new AtollError(StatusCode.IS_DIR, `${action}: inode ${args.ino} is a directory`);
    invalid(action, `inode ${args.ino} is not a regular file`);
  }
  let extents = inode.extents;
  const released: ExtentKey[] = [];
  for (const added of args.extents) {
    const start = added.fileOffset;
    const end = added.fileOffset + added.size;
    const kept: ExtentKey[] = [];
    for (const extent of extents) {
      const extentEnd = extent.fileOffset + extent.size;
      if (extentEnd <= start || extent.fileOffset >= end) {
        kept.push(extent);
        continue;
      }
      if (extent.fileOffset < start) kept.push({ ...extent, size: start - extent.fileOffset });
      const coveredFrom = Math.max(start, extent.fileOffset);
      const coveredTo = Math.min(end, extentEnd);
      released.push({ ...extent, fileOffset: coveredFrom, extentOffset: extent.extentOffset + (coveredFrom - extent.fileOffset), size: coveredTo - coveredFrom });
      if (extentEnd > end) kept.push({ ...extent, fileOffset: end, extentOffset: extent.extentOffset + (end - extent.fileOffset), size: extentEnd - end });
    }
    kept.push({ ...added });
    kept.sort((left, right) => left.fileOffset - right.fileOffset);
    extents = kept;
    if (end > inode.size) inode.size = end;
  }
  if (extents.length > limits.extentKeysPerInodeMax) {
    throw new AtollError(StatusCode.TOO_LARGE, `${action}: inode ${args.ino} would hold ${extents.length} extent keys, at most ${limits.extentKeysPerInodeMax}`);
  }
  inode.extents = extents;
  setMtime(inode, args);
  setCtime(inode, args);
  changes.putInode(inode);
  // Overwritten bytes go to the datanodes for release, as a truncate's do.
  queueExtentReleases(changes, released, limits, extents);
  return changes.outcome({ inode, released });
}
