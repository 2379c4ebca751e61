// The key encoding of a meta partition's key-value state (layout in design.md). Every key
// starts with a one-byte ASCII tag naming its record kind; integers are unsigned 64-bit
// big-endian so that byte order is numeric order, and names are raw UTF-8 so that the
// dentries of one directory sort by the bytes of their names. Pure: no I/O.
import { AtollError, StatusCode } from '../../errors/index.js';

export const KeyTag = Object.freeze({
  /** `C<name ascii>`: a counter (value: u64 big-endian). */
  counter: 0x43, // 'C'
  /** `D<parentIno u64><name utf8>`: a dentry (value: Dentry). */
  dentry: 0x44, // 'D'
  /** `F<ino u64>`: an inode at nlink 0 waiting to be freed (value: empty). */
  toFree: 0x46, // 'F'
  /** `I<ino u64>`: an inode (value: Inode). */
  inode: 0x49, // 'I'
  /** `S<sessionId u64>[<ino u64>]`: reserved for client sessions and their open inodes. */
  session: 0x53, // 'S'
  /** `T<hour u64><parentIno u64><ino u64><name utf8>`: reserved for trash entries. */
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
});

const u64Bytes = 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function malformed(what: string, key: Uint8Array, reason: string): never {
  throw new AtollError(StatusCode.INVALID_ARGUMENT, `decode ${what} key: ${reason}: ${hexOf(key)}`);
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
function writeU64(target: Uint8Array, offset: number, value: number): void {
  const high = Math.floor(value / 0x1_0000_0000);
  const low = value >>> 0;
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint32(offset, high);
  view.setUint32(offset + 4, low);
}

function readU64(what: string, key: Uint8Array, offset: number): number {
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const high = view.getUint32(offset);
  const low = view.getUint32(offset + 4);
  // Above 2^53 - 1 a JS number would round: no key we write holds such a value.
  if (high > 0x1f_ffff) malformed(what, key, 'integer beyond 2^53 - 1');
  return high * 0x1_0000_0000 + low;
}

/** UTF-8 bytes of a name; refuses strings that are not well-formed UTF-16 (lone surrogates would not round-trip). */
export function nameBytes(name: string): Uint8Array {
  const bytes = encoder.encode(name);
  if (decoder.decode(bytes) !== name) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, 'encode name: not well-formed unicode (lone surrogate)');
  }
  return bytes;
}

function tagged(tag: number, integers: readonly number[], tail: Uint8Array = new Uint8Array(0)): Uint8Array {
  const key = new Uint8Array(1 + integers.length * u64Bytes + tail.length);
  key[0] = tag;
  integers.forEach((value, index) => writeU64(key, 1 + index * u64Bytes, value));
  key.set(tail, 1 + integers.length * u64Bytes);
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
  return tagged(KeyTag.inode, [ino]);
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
  const bytes = nameBytes(name);
  if (bytes.length === 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'encode dentry key: empty name');
  return tagged(KeyTag.dentry, [parentIno], bytes);
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

export function counterKey(name: string): Uint8Array {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new AtollError(StatusCode.INVALID_ARGUMENT, `encode counter key: bad name: ${name}`);
  return tagged(KeyTag.counter, [], encoder.encode(name));
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

// --- reserved: sessions and trash (layout fixed now, records not written yet) ---------

export const sessionPrefixAll: Uint8Array = Uint8Array.of(KeyTag.session);
export const trashPrefixAll: Uint8Array = Uint8Array.of(KeyTag.trash);

/** `S<sessionId>`: one client session (reserved). */
export function sessionKey(sessionId: number): Uint8Array {
  checkU64('sessionId', sessionId);
  return tagged(KeyTag.session, [sessionId]);
}

/** `S<sessionId><ino>`: an inode the session holds open (reserved). */
export function sessionOpenInodeKey(sessionId: number, ino: number): Uint8Array {
  checkU64('sessionId', sessionId);
  checkU64('ino', ino);
  return tagged(KeyTag.session, [sessionId, ino]);
}

/** `T<hour><parentIno><ino><name>`: an entry moved to the trash in that hour since the epoch (reserved). */
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
