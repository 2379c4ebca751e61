// The machinery every operation of the partition's state machine shares: argument
// checks, the overlay of one operation's writes over the engine (`Changes`), and the link
// rules. Pure, as everything in this folder (design.md).
import { AtollError, assert, StatusCode } from '../../errors/index.js';
import { Dentry, Inode, InodeType } from '../../proto/generated/metanode.js';
import type { KvEngine, KvMutation } from '../store/kv-engine.js';
import { counterKey, decodeCounterValue, dentryKey, dentryPrefix, encodeCounterValue, inodeKey, pendingLinkKey, toFreeKey, utf8Length } from './keys.js';
import { namespaceLimitsDefault, type NamespaceLimits } from './limits.js';

/** The result of a mutating operation: apply `mutations` atomically to make it so. */
export interface Outcome<T> {
  readonly result: T;
  readonly mutations: KvMutation[];
}

/** The partition's inode numbers: [inodeStart, inodeEnd). */
export interface InodeRange {
  readonly inodeStart: number;
  readonly inodeEnd: number;
}

/** The operation's time, chosen by the proposer and carried in the log entry. */
export interface OperationTime {
  /** Seconds since the epoch. */
  readonly nowSec: number;
  /** Nanoseconds within the second, 0..999999999. */
  readonly nowNsec: number;
}

export interface Timespec {
  readonly sec: number;
  readonly nsec: number;
}

/** Permission bits only; the file type is `InodeType`, never packed into mode. */
export const modePermissionBitsMax = 0o7777;

/** The `parent_ino` of a non-directory, and of a directory detached from the tree (removed or in the trash). */
export const rootParentSentinel = 0;

// ---------------------------------------------------------------------------------------
// Validation

export function invalid(action: string, reason: string): never {
  throw new AtollError(StatusCode.INVALID_ARGUMENT, `${action}: ${reason}`);
}

/**
 * Refuses a name a directory cannot hold: empty, `.`, `..`, containing `/` or NUL
 * (INVALID_ARGUMENT), or longer than nameBytesMax in UTF-8 (NAME_TOO_LONG).
 */
export function validateName(action: string, name: string, limits: NamespaceLimits = namespaceLimitsDefault): void {
  if (typeof name !== 'string' || name.length === 0) invalid(action, 'empty name');
  if (name === '.' || name === '..') invalid(action, `reserved name: ${name}`);
  if (name.includes('/')) invalid(action, `name contains '/': ${JSON.stringify(name)}`);
  if (name.includes('\0')) invalid(action, 'name contains NUL');
  if (!(name as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, 'encode name: not well-formed unicode (lone surrogate)');
  }
  const bytes = utf8Length(name);
  if (bytes > limits.nameBytesMax) {
    throw new AtollError(StatusCode.NAME_TOO_LONG, `${action}: name of ${bytes} bytes, at most ${limits.nameBytesMax}`);
  }
}

export function validateTime(action: string, time: OperationTime): void {
  validateTimespec(action, 'now', { sec: time.nowSec, nsec: time.nowNsec });
}

export function validateTimespec(action: string, what: string, time: Timespec): void {
  if (!Number.isSafeInteger(time.sec)) invalid(action, `${what} seconds must be a safe integer: ${time.sec}`);
  if (!Number.isInteger(time.nsec) || time.nsec < 0 || time.nsec > 999_999_999) {
    invalid(action, `${what} nanoseconds must be in 0..999999999: ${time.nsec}`);
  }
}

export function validateIno(action: string, what: string, ino: number): void {
  if (!Number.isSafeInteger(ino) || ino < 1) invalid(action, `${what} must be a positive safe integer: ${ino}`);
}

export function validateId(action: string, what: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) invalid(action, `${what} must be a uint32: ${value}`);
}

export function validateMode(action: string, mode: number): void {
  if (!Number.isInteger(mode) || mode < 0 || mode > modePermissionBitsMax) {
    invalid(action, `mode must hold permission bits only (0..0o7777): ${mode}`);
  }
}

// ---------------------------------------------------------------------------------------
// Reading and changing state within one operation

export function decodeInode(bytes: Uint8Array): Inode {
  const inode = Inode.decode(bytes);
  // Decoded bytes alias the engine's buffer, which an engine may reuse: own them (a copy as
  // a plain Uint8Array: the engines hand out Buffers, whose slice() is a view, not a copy).
  inode.symlinkTarget = new Uint8Array(inode.symlinkTarget);
  return inode;
}

export function keyId(key: Uint8Array): string {
  // One char per byte (a bijection). Keys are at most kvKeyBytesMax (under 2 KiB) long,
  // well within the arguments a call may take; one call is half the cost of a char loop.
  return String.fromCharCode.apply(null, key as unknown as number[]);
}

/**
 * Pending writes an operation finds by comparing bytes, one by one, before it indexes them
 * by key id: most operations write a handful of keys (a create four), where a scan is
 * cheaper than building and hashing a string per key; the big ones (freeing, expiry) get
 * the map.
 */
export const pendingScannedMax = 16;

function sameKey(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  for (let index = left.length - 1; index >= 0; index--) if (left[index] !== right[index]) return false;
  return true;
}

/** The operation's writes over the engine's state: reads see earlier writes of the same operation. */
export class Changes {
  readonly #engine: KvEngine;
  // In the order of each key's first write; a later write of the key replaces its mutation.
  readonly #pending: KvMutation[] = [];
  // Position in #pending by keyId, once there are more than pendingScannedMax.
  #positions: Map<string, number> | null = null;

  constructor(engine: KvEngine) {
    this.#engine = engine;
  }

  #find(key: Uint8Array): KvMutation | undefined {
    if (this.#positions !== null) {
      const position = this.#positions.get(keyId(key));
      return position === undefined ? undefined : this.#pending[position];
    }
    for (const mutation of this.#pending) if (sameKey(mutation.key, key)) return mutation;
    return undefined;
  }

  #put(mutation: KvMutation): void {
    if (this.#positions !== null) {
      const id = keyId(mutation.key);
      const position = this.#positions.get(id);
      if (position === undefined) {
        this.#positions.set(id, this.#pending.length);
        this.#pending.push(mutation);
      } else {
        this.#pending[position] = mutation;
      }
      return;
    }
    for (let position = 0; position < this.#pending.length; position++) {
      if (sameKey(this.#pending[position]!.key, mutation.key)) {
        this.#pending[position] = mutation;
        return;
      }
    }
    this.#pending.push(mutation);
    if (this.#pending.length > pendingScannedMax) {
      this.#positions = new Map(this.#pending.map((pending, position) => [keyId(pending.key), position]));
    }
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const pending = this.#find(key);
    if (pending !== undefined) return pending.op === 'set' ? pending.value : undefined;
    return this.#engine.get(key);
  }

  set(key: Uint8Array, value: Uint8Array): void {
    this.#put({ op: 'set', key, value });
  }

  delete(key: Uint8Array): void {
    this.#put({ op: 'delete', key });
  }

  inode(ino: number): Inode | undefined {
    const bytes = this.get(inodeKey(ino));
    return bytes === undefined ? undefined : decodeInode(bytes);
  }

  putInode(inode: Inode): void {
    this.set(inodeKey(inode.ino), Inode.encode(inode));
  }

  dentry(parentIno: number, name: string): Dentry | undefined {
    const bytes = this.get(dentryKey(parentIno, name));
    return bytes === undefined ? undefined : Dentry.decode(bytes);
  }

  putDentry(dentry: Dentry): void {
    this.set(dentryKey(dentry.parentIno, dentry.name), Dentry.encode(dentry));
  }

  /** Whether the directory has any entry: its committed entries, less those deleted here, plus those added here. */
  directoryHasEntries(ino: number): boolean {
    return this.hasKeyWithPrefix(dentryPrefix(ino));
  }

  /** Whether any key starts with the prefix, counting this operation's own writes and deletes. */
  hasKeyWithPrefix(prefix: Uint8Array): boolean {
    for (const mutation of this.#pending) {
      if (mutation.op === 'set' && startsWith(mutation.key, prefix)) return true;
    }
    let after: Uint8Array | undefined;
    // Bounded: each round either returns or skips only keys this operation deleted.
    for (;;) {
      const page = this.#engine.scan({ prefix, after, limit: 16 });
      for (const entry of page) {
        const pending = this.#find(entry.key);
        if (pending === undefined || pending.op === 'set') return true;
      }
      if (page.length < 16) return false;
      after = page[page.length - 1].key;
    }
  }

  /** Takes the counter's value (`first` when absent) and moves it up by one. */
  takeCounter(name: string, first: number): number {
    const key = counterKey(name);
    const bytes = this.get(key);
    const value = bytes === undefined ? first : decodeCounterValue(bytes);
    this.set(key, encodeCounterValue(value + 1));
    return value;
  }

  outcome<T>(result: T): Outcome<T> {
    return { result, mutations: [...this.#pending] };
  }
}

export function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let index = 0; index < prefix.length; index++) if (key[index] !== prefix[index]) return false;
  return true;
}

export function requireInode(changes: Changes, action: string, ino: number): Inode {
  const inode = changes.inode(ino);
  if (inode === undefined) throw new AtollError(StatusCode.NOT_FOUND, `${action}: inode ${ino} not found`);
  return inode;
}

export function requireDirectory(changes: Changes, action: string, ino: number): Inode {
  const inode = requireInode(changes, action, ino);
  if (inode.type !== InodeType.INODE_DIRECTORY) throw new AtollError(StatusCode.NOT_DIR, `${action}: inode ${ino} is not a directory`);
  return inode;
}

export function requireDentry(changes: Changes, action: string, parentIno: number, name: string): Dentry {
  const dentry = changes.dentry(parentIno, name);
  if (dentry === undefined) throw new AtollError(StatusCode.NOT_FOUND, `${action}: no entry ${JSON.stringify(name)} in directory ${parentIno}`);
  return dentry;
}

export function setCtime(inode: Inode, time: OperationTime): void {
  inode.ctimeSec = time.nowSec;
  inode.ctimeNsec = time.nowNsec;
}

export function setMtime(inode: Inode, time: OperationTime): void {
  inode.mtimeSec = time.nowSec;
  inode.mtimeNsec = time.nowNsec;
}

/** A directory whose entries changed: mtime and ctime move, nlink by `subdirectoryDelta`. */
/**
 * `read` is the directory as this operation already decoded it, when it has not changed
 * it since (saves decoding the same record twice on the create path).
 */
export function touchDirectory(changes: Changes, action: string, ino: number, subdirectoryDelta: number, time: OperationTime, limits: NamespaceLimits, read?: Inode): Inode {
  assert(read === undefined || (read.ino === ino && read.type === InodeType.INODE_DIRECTORY), () => `${action}: directory ${ino} passed as read is inode ${read?.ino}`);
  const directory = read ?? requireDirectory(changes, action, ino);
  const nlink = directory.nlink + subdirectoryDelta;
  if (nlink > limits.linksMax) {
    throw new AtollError(StatusCode.TOO_MANY_LINKS, `${action}: directory ${ino} would have ${nlink} links, at most ${limits.linksMax}`);
  }
  assert(nlink >= 2, () => `${action}: directory ${ino} nlink would drop to ${nlink}`);
  directory.nlink = nlink;
  setMtime(directory, time);
  setCtime(directory, time);
  changes.putInode(directory);
  return directory;
}

/**
 * Drops one link of an inode held here. At nlink 0 the inode record stays (an open file
 * may still be read; sessions will decide) and an `F<ino>` record queues it for freeing.
 * Returns the inode after the drop.
 */
export function dropLink(changes: Changes, inode: Inode, time: OperationTime): Inode {
  assert(inode.nlink >= 1, () => `drop link: inode ${inode.ino} already at nlink 0`);
  // A directory loses its entry and its own `.` together: it never has exactly one link.
  inode.nlink = inode.type === InodeType.INODE_DIRECTORY ? 0 : inode.nlink - 1;
  setCtime(inode, time);
  changes.putInode(inode);
  if (inode.nlink === 0) {
    changes.set(toFreeKey(inode.ino), new Uint8Array(0));
    // An inode waiting for its dentry elsewhere that loses its link is no orphan to sweep.
    if (changes.get(pendingLinkKey(inode.ino)) !== undefined) changes.delete(pendingLinkKey(inode.ino));
  }
  return inode;
}


/** The name the trash is shown under in the volume's root: ordinary operations may not create it. */
export const trashDirectoryName = '.trash';

/** Refuses (PERMISSION_DENIED) an entry named `.trash` in the volume's root. */
export function refuseReservedName(action: string, parentIno: number, name: string, limits: NamespaceLimits): void {
  if (parentIno === limits.rootIno && name === trashDirectoryName) {
    throw new AtollError(StatusCode.PERMISSION_DENIED, `${action}: ${trashDirectoryName} in the root directory is reserved for the trash`);
  }
}

/**
 * The directory a new entry goes into: it must exist, be a directory [ENOENT, ENOTDIR] and
 * still be in the tree: a removed directory (nlink 0) or one in the trash (detached: its
 * parent_ino is 0) takes no new entries [ENOENT], as Linux refuses creating in a deleted
 * working directory.
 */
export function requireLiveDirectory(changes: Changes, action: string, ino: number): Inode {
  const directory = requireDirectory(changes, action, ino);
  if (directory.nlink === 0 || directory.parentIno === rootParentSentinel) {
    throw new AtollError(StatusCode.NOT_FOUND, `${action}: directory ${ino} has been removed`);
  }
  return directory;
}

/** Like validateTime, and the seconds may not be negative (they go into u64 keys and records). */
export function validateRecordTime(action: string, time: OperationTime): void {
  validateTime(action, time);
  if (time.nowSec < 0) invalid(action, `now must not be before 1970 for this operation: ${time.nowSec}`);
}

/** A list argument of at most `max` items. */
export function validateBatch(action: string, what: string, items: readonly unknown[], max: number): void {
  if (!Array.isArray(items)) invalid(action, `${what} must be an array`);
  if (items.length > max) invalid(action, `${items.length} ${what}, at most ${max}`);
}

/** A page size in 1..max. */
export function validateLimit(action: string, limit: number, max: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) invalid(action, `limit must be in 1..${max}: ${limit}`);
}
