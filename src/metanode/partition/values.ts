// The values of the partition's own bookkeeping records (sessions, open counts, trash
// entries, extent releases, pending links): fixed big-endian binary layouts, documented
// in design.md. They are small, internal to the partition and never cross the wire, so a
// protobuf message would add a schema without adding anything else; a layout change needs
// a new tag. Decoders refuse a wrong length (INVALID_ARGUMENT): a short or long value is
// a corrupt record, never something to guess about. Pure.
import { AtollError, StatusCode } from '../../errors/index.js';
import { readU64, writeU64 } from './keys.js';

const u64Bytes = 8;
const u32Bytes = 4;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function corrupt(what: string, reason: string): never {
  throw new AtollError(StatusCode.INVALID_ARGUMENT, `decode ${what} value: ${reason}`);
}

function checkLength(what: string, bytes: Uint8Array, expected: number): void {
  if (bytes.length !== expected) corrupt(what, `length ${bytes.length}, expected ${expected}`);
}

function checkU32(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, `encode value: ${what} must be a uint32: ${value}`);
  }
}

function checkU64(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, `encode value: ${what} must be a non-negative safe integer: ${value}`);
  }
}

/** Writes integers in order: `[value, bytes]` pairs, bytes 4 or 8. */
class Writer {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.#view = new DataView(this.bytes.buffer);
  }

  u64(what: string, value: number): this {
    checkU64(what, value);
    writeU64(this.bytes, this.#offset, value);
    this.#offset += u64Bytes;
    return this;
  }

  u32(what: string, value: number): this {
    checkU32(what, value);
    this.#view.setUint32(this.#offset, value);
    this.#offset += u32Bytes;
    return this;
  }

  u8(what: string, value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new AtollError(StatusCode.INVALID_ARGUMENT, `encode value: ${what} must be a byte: ${value}`);
    this.bytes[this.#offset] = value;
    this.#offset += 1;
    return this;
  }

  tail(bytes: Uint8Array): this {
    this.bytes.set(bytes, this.#offset);
    this.#offset += bytes.length;
    return this;
  }
}

class Reader {
  readonly #what: string;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(what: string, bytes: Uint8Array) {
    this.#what = what;
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u64(): number {
    const value = readU64(`${this.#what} value`, this.#bytes, this.#offset);
    this.#offset += u64Bytes;
    return value;
  }

  u32(): number {
    const value = this.#view.getUint32(this.#offset);
    this.#offset += u32Bytes;
    return value;
  }

  u8(): number {
    return this.#bytes[this.#offset++];
  }

  /** The rest as UTF-8. */
  text(): string {
    try {
      return decoder.decode(this.#bytes.subarray(this.#offset));
    } catch {
      return corrupt(this.#what, 'text is not valid UTF-8');
    }
  }
}

// --- sessions ------------------------------------------------------------------------

/** The value of `S<sessionId>`. */
export interface SessionRecord {
  readonly openedSec: number;
  readonly openedNsec: number;
  /** The last open or renewal; the lease runs from here. */
  readonly renewedSec: number;
  readonly renewedNsec: number;
  readonly leaseSec: number;
  /** How many `S<sessionId><ino>` records follow (distinct inodes held open). */
  readonly openInodes: number;
  readonly clientInfo: string;
}

const sessionFixedBytes = 2 * (u64Bytes + u32Bytes) + 2 * u32Bytes;

/** The second at which the session expires unless renewed (its `L` key). */
export function sessionExpiresSec(record: SessionRecord): number {
  return record.renewedSec + record.leaseSec;
}

export function encodeSessionValue(record: SessionRecord): Uint8Array {
  const info = encoder.encode(record.clientInfo);
  return new Writer(sessionFixedBytes + info.length)
    .u64('openedSec', record.openedSec).u32('openedNsec', record.openedNsec)
    .u64('renewedSec', record.renewedSec).u32('renewedNsec', record.renewedNsec)
    .u32('leaseSec', record.leaseSec).u32('openInodes', record.openInodes)
    .tail(info).bytes;
}

export function decodeSessionValue(bytes: Uint8Array): SessionRecord {
  if (bytes.length < sessionFixedBytes) corrupt('session', `length ${bytes.length}, at least ${sessionFixedBytes}`);
  const reader = new Reader('session', bytes);
  return {
    openedSec: reader.u64(), openedNsec: reader.u32(),
    renewedSec: reader.u64(), renewedNsec: reader.u32(),
    leaseSec: reader.u32(), openInodes: reader.u32(),
    clientInfo: reader.text(),
  };
}

/** The value of `S<sessionId><ino>`: how many opens of the inode the session has not closed. */
export function encodeOpenCountValue(opens: number): Uint8Array {
  return new Writer(u32Bytes).u32('opens', opens).bytes;
}

export function decodeOpenCountValue(bytes: Uint8Array): number {
  checkLength('open count', bytes, u32Bytes);
  return new Reader('open count', bytes).u32();
}

// --- trash ---------------------------------------------------------------------------

/** The value of `T<hour><parentIno><ino><name>`; the key holds the rest of the dentry. */
export interface TrashRecord {
  readonly deletedSec: number;
  readonly deletedNsec: number;
  /** The entry's InodeType, as the dentry had it. */
  readonly type: number;
}

const trashBytes = u64Bytes + u32Bytes + 1;

export function encodeTrashValue(record: TrashRecord): Uint8Array {
  return new Writer(trashBytes).u64('deletedSec', record.deletedSec).u32('deletedNsec', record.deletedNsec).u8('type', record.type).bytes;
}

export function decodeTrashValue(bytes: Uint8Array): TrashRecord {
  checkLength('trash', bytes, trashBytes);
  const reader = new Reader('trash', bytes);
  return { deletedSec: reader.u64(), deletedNsec: reader.u32(), type: reader.u8() };
}

// --- extent releases -----------------------------------------------------------------

/** A byte range of one extent whose data no file refers to any more. */
export interface ExtentRange {
  readonly extentId: number;
  readonly extentOffset: number;
  readonly size: number;
}

/** The value of `E<seq>`: ranges of extents of one data partition to release. */
export interface ExtentReleaseRecord {
  readonly partitionId: number;
  readonly ranges: readonly ExtentRange[];
}

const extentRangeBytes = 2 * u64Bytes + u32Bytes;
const extentReleaseFixedBytes = u64Bytes + u32Bytes;

export function encodeExtentReleaseValue(record: ExtentReleaseRecord): Uint8Array {
  const writer = new Writer(extentReleaseFixedBytes + record.ranges.length * extentRangeBytes)
    .u64('partitionId', record.partitionId).u32('range count', record.ranges.length);
  for (const range of record.ranges) writer.u64('extentId', range.extentId).u64('extentOffset', range.extentOffset).u32('size', range.size);
  return writer.bytes;
}

export function decodeExtentReleaseValue(bytes: Uint8Array): ExtentReleaseRecord {
  if (bytes.length < extentReleaseFixedBytes) corrupt('extent release', `length ${bytes.length}, at least ${extentReleaseFixedBytes}`);
  const reader = new Reader('extent release', bytes);
  const partitionId = reader.u64();
  const count = reader.u32();
  checkLength('extent release', bytes, extentReleaseFixedBytes + count * extentRangeBytes);
  const ranges: ExtentRange[] = [];
  for (let index = 0; index < count; index++) ranges.push({ extentId: reader.u64(), extentOffset: reader.u64(), size: reader.u32() });
  return { partitionId, ranges };
}

// --- pending links -------------------------------------------------------------------

/** The value of `P<ino>`: when the inode was created, and the directory (elsewhere) meant to hold its dentry. */
export interface PendingLinkRecord {
  readonly createdSec: number;
  readonly createdNsec: number;
  readonly parentIno: number;
  /** The entry's name in parentIno (empty in records written before names were kept). */
  readonly name: string;
}

const pendingLinkFixedBytes = u64Bytes + u32Bytes + u64Bytes;

export function encodePendingLinkValue(record: PendingLinkRecord): Uint8Array {
  const name = encoder.encode(record.name);
  return new Writer(pendingLinkFixedBytes + name.length).u64('createdSec', record.createdSec).u32('createdNsec', record.createdNsec).u64('parentIno', record.parentIno).tail(name).bytes;
}

export function decodePendingLinkValue(bytes: Uint8Array): PendingLinkRecord {
  if (bytes.length < pendingLinkFixedBytes) corrupt('pending link', `${bytes.length} bytes, at least ${pendingLinkFixedBytes}`);
  const reader = new Reader('pending link', bytes);
  return { createdSec: reader.u64(), createdNsec: reader.u32(), parentIno: reader.u64(), name: reader.text() };
}

// --- links owed to other partitions --------------------------------------------------

/** The value of `K<seq>`: an inode of another partition whose entry was removed here, and when. */
export interface LinkDropRecord {
  readonly ino: number;
  readonly createdSec: number;
  readonly createdNsec: number;
}

const linkDropBytes = u64Bytes + u64Bytes + u32Bytes;

export function encodeLinkDropValue(record: LinkDropRecord): Uint8Array {
  return new Writer(linkDropBytes).u64('ino', record.ino).u64('createdSec', record.createdSec).u32('createdNsec', record.createdNsec).bytes;
}

export function decodeLinkDropValue(bytes: Uint8Array): LinkDropRecord {
  checkLength('link drop', bytes, linkDropBytes);
  const reader = new Reader('link drop', bytes);
  return { ino: reader.u64(), createdSec: reader.u64(), createdNsec: reader.u32() };
}
