// The FUSE kernel protocol (the messages read from and written to /dev/fuse), as far as
// the kernel server uses it: request header and bodies in, replies out. Little-endian,
// the layouts of the kernel's include/uapi/linux/fuse.h for protocol 7.31 and later
// (the kernel speaks older minors to older servers; ours refuses a kernel below 7.31).
// Pure: bytes to values and back.
import { assert } from '../../errors/index.js';

export const protocolMajor = 7;
/** The minor we speak; the session uses min(ours, the kernel's). */
export const protocolMinor = 31;
/** Oldest kernel minor whose struct sizes match ours (fuse_init_out of 64 bytes since 7.23). */
export const kernelMinorMin = 31;

export const Opcode = Object.freeze({
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  DESTROY: 38,
  BATCH_FORGET: 42,
  RENAME2: 45,
});

/** Names of the opcodes above, for logs and errors. */
export const opcodeNames: ReadonlyMap<number, string> = new Map(Object.entries(Opcode).map(([name, code]) => [code, name.toLowerCase()]));

/** FUSE_INIT flags (fuse_init_in.flags / fuse_init_out.flags). */
export const InitFlag = Object.freeze({
  ASYNC_READ: 1 << 0,
  ATOMIC_O_TRUNC: 1 << 3,
  BIG_WRITES: 1 << 5,
  AUTO_INVAL_DATA: 1 << 12,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
});

/** fuse_setattr_in.valid bits. */
export const SetattrValid = Object.freeze({
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
});

export const getattrFlagFh = 1;
export const fsyncFlagDataOnly = 1;
/** d_ino for a directory entry whose inode the listing does not know. */
export const unknownIno = 0xffff_ffff;
export const rootNodeId = 1;

export const inHeaderBytes = 40;
export const outHeaderBytes = 16;
const attrBytes = 88;
export const entryOutBytes = 40 + attrBytes;
export const attrOutBytes = 16 + attrBytes;
export const openOutBytes = 16;
export const initOutBytes = 64;
export const statfsOutBytes = 80;
const direntHeaderBytes = 24;

// ---------------------------------------------------------------- requests

export interface RequestHeader {
  readonly length: number;
  readonly opcode: number;
  readonly unique: bigint;
  readonly nodeId: number;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** A request body: a view into the read buffer with a cursor. */
export class BodyReader {
  #offset: number;

  constructor(private readonly bytes: Buffer, offset: number, private readonly end: number) {
    this.#offset = offset;
  }

  #take(count: number): number {
    const at = this.#offset;
    if (at + count > this.end) throw new ProtocolError(`request body ends at ${this.end - at} of ${count} bytes`);
    this.#offset += count;
    return at;
  }

  u32(): number {
    return this.bytes.readUInt32LE(this.#take(4));
  }

  /** A 64-bit field as a number; values above 2^53 are refused (offsets, sizes, ids). */
  u64(): number {
    const value = this.bytes.readBigUInt64LE(this.#take(8));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`a 64-bit field of ${value} is beyond 2^53`);
    return Number(value);
  }

  /** A 64-bit field kept whole (file handles and lock owners are opaque). */
  u64Big(): bigint {
    return this.bytes.readBigUInt64LE(this.#take(8));
  }

  skip(count: number): void {
    this.#take(count);
  }

  /** A NUL-terminated name. */
  name(): string {
    const start = this.#offset;
    const nul = this.bytes.indexOf(0, start);
    if (nul < 0 || nul >= this.end) throw new ProtocolError('a name without its terminating NUL');
    this.#offset = nul + 1;
    return this.bytes.toString('utf8', start, nul);
  }

  /** The rest of the body (not copied). */
  rest(): Buffer {
    const at = this.#offset;
    this.#offset = this.end;
    return this.bytes.subarray(at, this.end);
  }

  /** Exactly `count` bytes (not copied). */
  bytesOf(count: number): Buffer {
    const at = this.#take(count);
    return this.bytes.subarray(at, at + count);
  }
}

export class ProtocolError extends Error {}

/** The header of the request in `bytes[0, readBytes)`. */
export function decodeHeader(bytes: Buffer, readBytes: number): RequestHeader {
  if (readBytes < inHeaderBytes) throw new ProtocolError(`a request of ${readBytes} bytes is shorter than its header`);
  const length = bytes.readUInt32LE(0);
  if (length !== readBytes) throw new ProtocolError(`a request says ${length} bytes, ${readBytes} were read`);
  const nodeId = bytes.readBigUInt64LE(16);
  if (nodeId > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`node id ${nodeId} beyond 2^53`);
  return {
    length,
    opcode: bytes.readUInt32LE(4),
    unique: bytes.readBigUInt64LE(8),
    nodeId: Number(nodeId),
    uid: bytes.readUInt32LE(24),
    gid: bytes.readUInt32LE(28),
    pid: bytes.readUInt32LE(32),
  };
}

export interface InitRequest {
  readonly major: number;
  readonly minor: number;
  readonly maxReadahead: number;
  readonly flags: number;
}

export function decodeInit(body: BodyReader): InitRequest {
  return { major: body.u32(), minor: body.u32(), maxReadahead: body.u32(), flags: body.u32() };
}

export interface SetattrRequest {
  readonly valid: number;
  readonly fh: bigint;
  readonly size: number;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export function decodeSetattr(body: BodyReader): SetattrRequest {
  const valid = body.u32();
  body.skip(4);
  const fh = body.u64Big();
  const size = body.u64();
  body.skip(8); // lock_owner
  const atime = body.u64Big();
  const mtime = body.u64Big();
  body.skip(8); // ctime
  const atimeNsec = body.u32();
  const mtimeNsec = body.u32();
  body.skip(4); // ctimensec
  const mode = body.u32();
  body.skip(4);
  const uid = body.u32();
  const gid = body.u32();
  return { valid, fh, size, atimeNs: atime * 1_000_000_000n + BigInt(atimeNsec), mtimeNs: mtime * 1_000_000_000n + BigInt(mtimeNsec), mode, uid, gid };
}

export interface ReadRequest {
  readonly fh: bigint;
  readonly offset: number;
  readonly size: number;
}

export function decodeRead(body: BodyReader): ReadRequest {
  const fh = body.u64Big();
  const offset = body.u64();
  const size = body.u32();
  return { fh, offset, size };
}

export interface WriteRequest extends ReadRequest {
  readonly data: Buffer;
}

export function decodeWrite(body: BodyReader): WriteRequest {
  const fh = body.u64Big();
  const offset = body.u64();
  const size = body.u32();
  body.skip(4 + 8 + 4 + 4); // write_flags, lock_owner, flags, padding
  return { fh, offset, size, data: body.bytesOf(size) };
}

// ---------------------------------------------------------------- replies

/** File attributes as the kernel takes them: times in nanoseconds since the epoch. */
export interface KernelAttr {
  readonly ino: number;
  readonly size: number;
  readonly blocks: number;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly blksize: number;
}

function writeTime(out: Buffer, secondsAt: number, nsecAt: number, ns: bigint): void {
  const clamped = ns < 0n ? 0n : ns;
  out.writeBigUInt64LE(clamped / 1_000_000_000n, secondsAt);
  out.writeUInt32LE(Number(clamped % 1_000_000_000n), nsecAt);
}

function writeAttr(out: Buffer, at: number, attr: KernelAttr): void {
  out.writeBigUInt64LE(BigInt(attr.ino), at);
  out.writeBigUInt64LE(BigInt(attr.size), at + 8);
  out.writeBigUInt64LE(BigInt(attr.blocks), at + 16);
  writeTime(out, at + 24, at + 48, attr.atimeNs);
  writeTime(out, at + 32, at + 52, attr.mtimeNs);
  writeTime(out, at + 40, at + 56, attr.ctimeNs);
  out.writeUInt32LE(attr.mode >>> 0, at + 60);
  out.writeUInt32LE(attr.nlink >>> 0, at + 64);
  out.writeUInt32LE(attr.uid >>> 0, at + 68);
  out.writeUInt32LE(attr.gid >>> 0, at + 72);
  out.writeUInt32LE(attr.rdev >>> 0, at + 76);
  out.writeUInt32LE(attr.blksize >>> 0, at + 80);
  out.writeUInt32LE(0, at + 84);
}

/** Seconds as the kernel's (u64 seconds, u32 nanoseconds) validity. */
function writeValidity(out: Buffer, secondsAt: number, nsecAt: number, seconds: number): void {
  const whole = Math.floor(seconds);
  out.writeBigUInt64LE(BigInt(whole), secondsAt);
  out.writeUInt32LE(Math.round((seconds - whole) * 1e9) % 1_000_000_000, nsecAt);
}

export function encodeEntryOut(out: Buffer, at: number, nodeId: number, attr: KernelAttr, entrySeconds: number, attrSeconds: number): void {
  out.writeBigUInt64LE(BigInt(nodeId), at);
  out.writeBigUInt64LE(0n, at + 8); // generation: node ids are never reused
  writeValidity(out, at + 16, at + 32, entrySeconds);
  writeValidity(out, at + 24, at + 36, attrSeconds);
  writeAttr(out, at + 40, attr);
}

export function encodeAttrOut(out: Buffer, at: number, attr: KernelAttr, attrSeconds: number): void {
  writeValidity(out, at, at + 8, attrSeconds);
  out.writeUInt32LE(0, at + 12);
  writeAttr(out, at + 16, attr);
}

export function encodeOpenOut(out: Buffer, at: number, fh: bigint, openFlags: number): void {
  out.writeBigUInt64LE(fh, at);
  out.writeUInt32LE(openFlags, at + 8);
  out.writeUInt32LE(0, at + 12);
}

export interface InitReply {
  readonly minor: number;
  readonly maxReadahead: number;
  readonly flags: number;
  readonly maxBackground: number;
  readonly congestionThreshold: number;
  readonly maxWriteBytes: number;
  readonly maxPages: number;
}

export function encodeInitOut(reply: InitReply): Buffer {
  const out = Buffer.alloc(initOutBytes);
  out.writeUInt32LE(protocolMajor, 0);
  out.writeUInt32LE(reply.minor, 4);
  out.writeUInt32LE(reply.maxReadahead, 8);
  out.writeUInt32LE(reply.flags >>> 0, 12);
  out.writeUInt16LE(reply.maxBackground, 16);
  out.writeUInt16LE(reply.congestionThreshold, 18);
  out.writeUInt32LE(reply.maxWriteBytes, 20);
  out.writeUInt32LE(1, 24); // time_gran: nanoseconds
  out.writeUInt16LE(reply.maxPages, 28);
  return out;
}

export interface KernelStatfs {
  readonly blocks: number;
  readonly blocksFree: number;
  readonly blocksAvailable: number;
  readonly files: number;
  readonly filesFree: number;
  readonly blockBytes: number;
  readonly nameBytesMax: number;
}

export function encodeStatfsOut(stats: KernelStatfs): Buffer {
  const out = Buffer.alloc(statfsOutBytes);
  const u64 = (value: number, at: number) => out.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(value))), at);
  u64(stats.blocks, 0);
  u64(stats.blocksFree, 8);
  u64(stats.blocksAvailable, 16);
  u64(stats.files, 24);
  u64(stats.filesFree, 32);
  out.writeUInt32LE(stats.blockBytes, 40);
  out.writeUInt32LE(stats.nameBytesMax, 44);
  out.writeUInt32LE(stats.blockBytes, 48);
  return out;
}

/** A u32 size answer (write_out, getxattr_out with size 0). */
export function encodeSizeOut(size: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt32LE(size, 0);
  return out;
}

/** Bytes a directory entry takes: header, name, padding to 8. */
export function direntBytes(nameBytes: number): number {
  return (direntHeaderBytes + nameBytes + 7) & ~7;
}

/** DT_* of a mode's file type. */
export function direntType(mode: number): number {
  return (mode >>> 12) & 0o17;
}

/** Writes one fuse_dirent at `at`; returns the bytes taken. */
export function encodeDirent(out: Buffer, at: number, ino: number, nextOffset: number, name: Buffer, type: number): number {
  const bytes = direntBytes(name.length);
  assert(at + bytes <= out.length, 'dirent beyond the buffer');
  out.writeBigUInt64LE(BigInt(ino), at);
  out.writeBigUInt64LE(BigInt(nextOffset), at + 8);
  out.writeUInt32LE(name.length, at + 16);
  out.writeUInt32LE(type, at + 20);
  name.copy(out, at + direntHeaderBytes);
  out.fill(0, at + direntHeaderBytes + name.length, at + bytes);
  return bytes;
}

/** The reply header: total length, 0 or a negative errno, the request's unique. */
export function encodeOutHeader(length: number, error: number, unique: bigint): Buffer {
  const out = Buffer.allocUnsafe(outHeaderBytes);
  out.writeUInt32LE(length, 0);
  out.writeInt32LE(error, 4);
  out.writeBigUInt64LE(unique, 8);
  return out;
}
