// The key encoding of a meta partition's key-value state (layout in design.md). Every key
// starts with a one-byte ASCII tag naming its record kind; integers are unsigned 64-bit
// big-endian so that byte order is numeric order, and names are raw UTF-8 so that the
// dentries of one directory sort by the bytes of their names. Pure: no I/O.
import { AtollError, StatusCode } from '../../errors/index.js';

export const KeyTag = Object.freeze({
  /** `A<sourcePartitionId u64>`: the highest link-drop sequence of that partition applied here (value: u64 big-endian). */
  remoteDropsApplied: 0x41, // 'A'
  /** `C<name ascii>`: a counter (value: u64 big-endian). */
  counter: 0x43, // 'C'
  /** `D<parentIno u64><name utf8>`: a dentry (value: Dentry). */
  dentry: 0x44, // 'D'
  /** `E<seq u64>`: extent ranges one data partition must release (value: values.ts). */
  extentRelease: 0x45, // 'E'
  /** `F<ino u64>`: an inode at nlink 0 waiting to be freed (value: empty). */
  toFree: 0x46, // 'F'
  /** `I<ino u64>`: an inode (value: Inode). */
  inode: 0x49, // 'I'
  /** `K<seq u64>`: a link this partition owes an inode held by another partition, whose entry went here (value: values.ts). */
  linkDrop: 0x4b, // 'K'
  /** `L<expiresSec u64><sessionId u64>`: a session's lease end, so expiry scans in time order (value: empty). */
  sessionLease: 0x4c, // 'L'
  /** `O<ino u64><sessionId u64>`: the inode is open by the session (value: empty). */
  openBy: 0x4f, // 'O'
  /** `P<ino u64>`: an inode created for a dentry in another partition, not yet confirmed (value: creation time). */
  pendingLink: 0x50, // 'P'
  /** `R<sourcePartitionId u64><txSeq u64>`: a cross-partition rename in progress (value: RenameTxnRecord). */
  renameTxn: 0x52, // 'R'
  /** `S<sessionId u64>`: a client session; `S<sessionId u64><ino u64>`: an inode it holds open (values: values.ts). */
  session: 0x53, // 'S'
  /** `T<hour u64><parentIno u64><ino u64><name utf8>`: a removed entry kept in the trash (value: values.ts). */
  trash: 0x54, // 'T'
  /** `X<ino u64><name utf8>`: an extended attribute (value: the raw attribute bytes). */
  xattr: 0x58, // 'X'
});

/** Counter names (`C<name>`). */
export const CounterName = Object.freeze({
  /** The next inode number to allocate; absent means the partition's inodeStart. */
  inodeCursor: 'inode_cursor',
  /** The exclusive end of the partition's inode range once the master narrowed it (a split); absent: the range it was created with. */
  inodeEnd: 'inode_end',
  /** The next cross-partition rename this partition coordinates; absent means 1. */
  renameTxnCursor: 'rename_txn_cursor',
  /** The next session id to hand out; absent means 1. */
  sessionCursor: 'session_cursor',
  /** The next extent release record's sequence number; absent means 1. */
  extentReleaseCursor: 'extent_release_cursor',
  /** The next link drop record's sequence number; absent means 1. */
  linkDropCursor: 'link_drop_cursor',
});

const u64Bytes = 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function malformed(what: string, key: Uint8Array, reason: string): never {
  throw new AtollError(StatusCode.INVALID_ARGUMENT, `decode ${what}${what.endsWith(' value') ? '' : ' key'}: ${reason}: ${hexOf(key)}`);
}

function hexOf(bytes: Uint8Array): string {
  const shown = bytes.length > 64 ? bytes.subarray(0, 64) : bytes;
  let text = '';
  for (const byte of shown) text += byte.toString(16).padStart(2, '0');
  return bytes.length > 64 ? `${text}…(${bytes.length} bytes)` : text;
}

function checkU64(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, `encode key: ${what} must be a non-negative safe integer: ${value}`);
  }
}

// Writes value as u64 big-endian at offset: high 32 bits then low 32 bits (values are safe
// integers, below 2^53, so the division is exact).
export function writeU64(target: Uint8Array, offset: number, value: number): void {
  const high = Math.floor(value / 0x1_0000_0000);
  const low = value >>> 0;
  // Byte by byte: a DataView per call cost more than the write.
  target[offset] = high >>> 24;
  target[offset + 1] = (high >>> 16) & 0xff;
  target[offset + 2] = (high >>> 8) & 0xff;
  target[offset + 3] = high & 0xff;
  target[offset + 4] = low >>> 24;
  target[offset + 5] = (low >>> 16) & 0xff;
  target[offset + 6] = (low >>> 8) & 0xff;
  target[offset + 7] = low & 0xff;
}

/** Reads a u64 big-endian at offset; refuses (INVALID_ARGUMENT, naming `what`) one beyond 2^53 - 1. */
export function readU64(what: string, key: Uint8Array, offset: number): number {
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const high = view.getUint32(offset);
  const low = view.getUint32(offset + 4);
  // Above 2^53 - 1 a JS number would round: no key we write holds such a value.
  if (high > 0x1f_ffff) malformed(what, key, 'integer beyond 2^53 - 1');
  return high * 0x1_0000_0000 + low;
}

/** Bytes of a well-formed string in UTF-8, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length) {
      // A surrogate pair: one code point of four bytes.
      bytes += 4;
      index++;
    } else bytes += 3;
  }
  return bytes;
}

/** UTF-8 bytes of a name; refuses strings that are not well-formed UTF-16 (lone surrogates would not round-trip). */
export function nameBytes(name: string): Uint8Array {
  // isWellFormed (Node 20) is the test decode(encode(name)) === name, without the round trip.
  if (!(name as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, 'encode name: not well-formed unicode (lone surrogate)');
  }
  return encoder.encode(name);
}

// Shared default tail: a typed array allocation per key was a tenth of an apply.
const noTail = new Uint8Array(0);

function tagged(tag: number, integers: readonly number[], tail: Uint8Array = noTail): Uint8Array {
  const key = new Uint8Array(1 + integers.length * u64Bytes + tail.length);
  key[0] = tag;
  for (let index = 0; index < integers.length; index++) writeU64(key, 1 + index * u64Bytes, integers[index]!);
  if (tail.length > 0) key.set(tail, 1 + integers.length * u64Bytes);
  return key;
}

function expectTag(what: string, key: Uint8Array, tag: number, minLength: number): void {
  if (key.length < 1 || key[0] !== tag) malformed(what, key, `tag is not '${String.fromCharCode(tag)}'`);
  if (key.length < minLength) malformed(what, key, `shorter than ${minLength} bytes`);
}

function decodeName(what: string, key: Uint8Array, offset: number): string {
  try {
    return decoder.decode(key.subarray(offset));
  } catch {
    return malformed(what, key, 'name is not valid UTF-8');
  }
}

// --- inodes -------------------------------------------------------------------------

export const inodePrefix: Uint8Array = Uint8Array.of(KeyTag.inode);

export function inodeKey(ino: number): Uint8Array {
  checkU64('ino', ino);
  // Written directly: the most frequent key, and tagged() takes an array.
  const key = new Uint8Array(1 + u64Bytes);
  key[0] = KeyTag.inode;
  writeU64(key, 1, ino);
  return key;
}

export function decodeInodeKey(key: Uint8Array): number {
  expectTag('inode', key, KeyTag.inode, 1 + u64Bytes);
  if (key.length !== 1 + u64Bytes) malformed('inode', key, 'trailing bytes');
  return readU64('inode', key, 1);
}

// --- dentries ------------------------------------------------------------------------

export const dentryPrefixAll: Uint8Array = Uint8Array.of(KeyTag.dentry);

/** Prefix of every dentry of one directory (for readdir scans and emptiness checks). */
export function dentryPrefix(parentIno: number): Uint8Array {
  checkU64('parentIno', parentIno);
  return tagged(KeyTag.dentry, [parentIno]);
}

export function dentryKey(parentIno: number, name: string): Uint8Array {
  checkU64('parentIno', parentIno);
  if (!(name as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, 'encode name: not well-formed unicode (lone surrogate)');
  }
  // The name is encoded straight into the key (one allocation, not two and a copy).
  const nameLength = utf8Length(name);
  if (nameLength === 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'encode dentry key: empty name');
  const key = new Uint8Array(1 + u64Bytes + nameLength);
  key[0] = KeyTag.dentry;
  writeU64(key, 1, parentIno);
  if (nameLength === name.length) {
    // ASCII (one byte per UTF-16 unit): copied by hand, without a subarray view and a call
    // into the encoder, which cost more than the copy for names this short.
    for (let index = 0; index < nameLength; index++) key[1 + u64Bytes + index] = name.charCodeAt(index);
  } else {
    encoder.encodeInto(name, key.subarray(1 + u64Bytes));
  }
  return key;
}

export function decodeDentryKey(key: Uint8Array): { parentIno: number; name: string } {
  expectTag('dentry', key, KeyTag.dentry, 1 + u64Bytes + 1);
  return { parentIno: readU64('dentry', key, 1), name: decodeName('dentry', key, 1 + u64Bytes) };
}

// --- extended attributes -------------------------------------------------------------

/** Prefix of every extended attribute of one inode. */
export function xattrPrefix(ino: number): Uint8Array {
  checkU64('ino', ino);
  return tagged(KeyTag.xattr, [ino]);
}

export function xattrKey(ino: number, name: string): Uint8Array {
  checkU64('ino', ino);
  const bytes = nameBytes(name);
  if (bytes.length === 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'encode xattr key: empty name');
  return tagged(KeyTag.xattr, [ino], bytes);
}

export function decodeXattrKey(key: Uint8Array): { ino: number; name: string } {
  expectTag('xattr', key, KeyTag.xattr, 1 + u64Bytes + 1);
  return { ino: readU64('xattr', key, 1), name: decodeName('xattr', key, 1 + u64Bytes) };
}

// --- inodes to free ------------------------------------------------------------------

export const toFreePrefix: Uint8Array = Uint8Array.of(KeyTag.toFree);

export function toFreeKey(ino: number): Uint8Array {
  checkU64('ino', ino);
  return tagged(KeyTag.toFree, [ino]);
}

export function decodeToFreeKey(key: Uint8Array): number {
  expectTag('to-free', key, KeyTag.toFree, 1 + u64Bytes);
  if (key.length !== 1 + u64Bytes) malformed('to-free', key, 'trailing bytes');
  return readU64('to-free', key, 1);
}

// --- counters ------------------------------------------------------------------------

// Counter keys are few and read on every create: each is built once (callers get a copy).
const counterKeys = new Map<string, Uint8Array>();

export function counterKey(name: string): Uint8Array {
  const known = counterKeys.get(name);
  if (known !== undefined) return known.slice();
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new AtollError(StatusCode.INVALID_ARGUMENT, `encode counter key: bad name: ${name}`);
  const key = tagged(KeyTag.counter, [], encoder.encode(name));
  if (counterKeys.size < 64) counterKeys.set(name, key.slice());
  return key;
}

export function decodeCounterKey(key: Uint8Array): string {
  expectTag('counter', key, KeyTag.counter, 2);
  const name = decodeName('counter', key, 1);
  if (!/^[a-z][a-z0-9_]*$/.test(name)) malformed('counter', key, 'bad counter name');
  return name;
}

/** A counter's value: u64 big-endian, 8 bytes. */
export function encodeCounterValue(value: number): Uint8Array {
  checkU64('counter value', value);
  const bytes = new Uint8Array(u64Bytes);
  writeU64(bytes, 0, value);
  return bytes;
}

export function decodeCounterValue(bytes: Uint8Array): number {
  if (bytes.length !== u64Bytes) malformed('counter value', bytes, `length ${bytes.length}, expected 8`);
  return readU64('counter value', bytes, 0);
}

// --- sessions and open files --------------------------------------------------------

export const sessionPrefixAll: Uint8Array = Uint8Array.of(KeyTag.session);

/** `S<sessionId>`: one client session. Its open inodes follow it in key order. */
export function sessionKey(sessionId: number): Uint8Array {
  checkU64('sessionId', sessionId);
  return tagged(KeyTag.session, [sessionId]);
}

/** `S<sessionId><ino>`: an inode the session holds open. `sessionKey(id)` is the prefix of the session and its opens. */
export function sessionOpenInodeKey(sessionId: number, ino: number): Uint8Array {
  checkU64('sessionId', sessionId);
  checkU64('ino', ino);
  return tagged(KeyTag.session, [sessionId, ino]);
}

/** Either kind of `S` key: a session (`ino` absent) or one of its open inodes. */
export function decodeSessionKey(key: Uint8Array): { sessionId: number; ino?: number } {
  expectTag('session', key, KeyTag.session, 1 + u64Bytes);
  if (key.length === 1 + u64Bytes) return { sessionId: readU64('session', key, 1) };
  if (key.length !== 1 + 2 * u64Bytes) malformed('session', key, 'length is neither 9 nor 17 bytes');
  return { sessionId: readU64('session', key, 1), ino: readU64('session', key, 1 + u64Bytes) };
}

export const sessionLeasePrefixAll: Uint8Array = Uint8Array.of(KeyTag.sessionLease);

/** `L<expiresSec><sessionId>`: the session expires at expiresSec unless renewed. */
export function sessionLeaseKey(expiresSec: number, sessionId: number): Uint8Array {
  checkU64('expiresSec', expiresSec);
  checkU64('sessionId', sessionId);
  return tagged(KeyTag.sessionLease, [expiresSec, sessionId]);
}

export function decodeSessionLeaseKey(key: Uint8Array): { expiresSec: number; sessionId: number } {
  expectTag('session lease', key, KeyTag.sessionLease, 1 + 2 * u64Bytes);
  if (key.length !== 1 + 2 * u64Bytes) malformed('session lease', key, 'trailing bytes');
  return { expiresSec: readU64('session lease', key, 1), sessionId: readU64('session lease', key, 1 + u64Bytes) };
}

/** Prefix of every `O` record of one inode: one bounded scan tells whether anyone holds it open. */
export function openByPrefix(ino: number): Uint8Array {
  checkU64('ino', ino);
  return tagged(KeyTag.openBy, [ino]);
}

export function openByKey(ino: number, sessionId: number): Uint8Array {
  checkU64('ino', ino);
  checkU64('sessionId', sessionId);
  return tagged(KeyTag.openBy, [ino, sessionId]);
}

export function decodeOpenByKey(key: Uint8Array): { ino: number; sessionId: number } {
  expectTag('open-by', key, KeyTag.openBy, 1 + 2 * u64Bytes);
  if (key.length !== 1 + 2 * u64Bytes) malformed('open-by', key, 'trailing bytes');
  return { ino: readU64('open-by', key, 1), sessionId: readU64('open-by', key, 1 + u64Bytes) };
}

// --- extent releases -----------------------------------------------------------------

export const extentReleasePrefix: Uint8Array = Uint8Array.of(KeyTag.extentRelease);

export function extentReleaseKey(seq: number): Uint8Array {
  checkU64('seq', seq);
  return tagged(KeyTag.extentRelease, [seq]);
}

export function decodeExtentReleaseKey(key: Uint8Array): number {
  expectTag('extent release', key, KeyTag.extentRelease, 1 + u64Bytes);
  if (key.length !== 1 + u64Bytes) malformed('extent release', key, 'trailing bytes');
  return readU64('extent release', key, 1);
}

// --- links owed to inodes of other partitions -----------------------------------------

export const linkDropPrefix: Uint8Array = Uint8Array.of(KeyTag.linkDrop);

export function linkDropKey(seq: number): Uint8Array {
  checkU64('seq', seq);
  return tagged(KeyTag.linkDrop, [seq]);
}

export function decodeLinkDropKey(key: Uint8Array): number {
  expectTag('link drop', key, KeyTag.linkDrop, 1 + u64Bytes);
  if (key.length !== 1 + u64Bytes) malformed('link drop', key, 'trailing bytes');
  return readU64('link drop', key, 1);
}

export function remoteDropsAppliedKey(sourcePartitionId: number): Uint8Array {
  checkU64('sourcePartitionId', sourcePartitionId);
  return tagged(KeyTag.remoteDropsApplied, [sourcePartitionId]);
}

// --- inodes waiting for their dentry in another partition ----------------------------

export const pendingLinkPrefix: Uint8Array = Uint8Array.of(KeyTag.pendingLink);

export function pendingLinkKey(ino: number): Uint8Array {
  checkU64('ino', ino);
  return tagged(KeyTag.pendingLink, [ino]);
}

export function decodePendingLinkKey(key: Uint8Array): number {
  expectTag('pending link', key, KeyTag.pendingLink, 1 + u64Bytes);
  if (key.length !== 1 + u64Bytes) malformed('pending link', key, 'trailing bytes');
  return readU64('pending link', key, 1);
}

// --- trash ---------------------------------------------------------------------------

export const trashPrefixAll: Uint8Array = Uint8Array.of(KeyTag.trash);

/** `T<hour><parentIno><ino><name>`: an entry moved to the trash in that hour since the epoch. */
export function trashKey(hour: number, parentIno: number, ino: number, name: string): Uint8Array {
  checkU64('hour', hour);
  checkU64('parentIno', parentIno);
  checkU64('ino', ino);
  return tagged(KeyTag.trash, [hour, parentIno, ino], nameBytes(name));
}

export function decodeTrashKey(key: Uint8Array): { hour: number; parentIno: number; ino: number; name: string } {
  expectTag('trash', key, KeyTag.trash, 1 + 3 * u64Bytes + 1);
  return {
    hour: readU64('trash', key, 1),
    parentIno: readU64('trash', key, 1 + u64Bytes),
    ino: readU64('trash', key, 1 + 2 * u64Bytes),
    name: decodeName('trash', key, 1 + 3 * u64Bytes),
  };
}

export const renameTxnPrefix: Uint8Array = Uint8Array.of(KeyTag.renameTxn);

export function renameTxnKey(sourcePartitionId: number, txSeq: number): Uint8Array {
  checkU64('sourcePartitionId', sourcePartitionId);
  checkU64('txSeq', txSeq);
  return tagged(KeyTag.renameTxn, [sourcePartitionId, txSeq]);
}

export function decodeRenameTxnKey(key: Uint8Array): { sourcePartitionId: number; txSeq: number } {
  expectTag('rename transaction', key, KeyTag.renameTxn, 1 + 2 * u64Bytes);
  if (key.length !== 1 + 2 * u64Bytes) malformed('rename transaction', key, 'trailing bytes');
  return { sourcePartitionId: readU64('rename transaction', key, 1), txSeq: readU64('rename transaction', key, 1 + u64Bytes) };
}
