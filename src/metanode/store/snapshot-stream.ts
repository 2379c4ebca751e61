// The snapshot file of one meta partition (README.md, "Snapshot file"): a header, one
// record per entry in key order, and a trailer with the record count and a CRC32 of
// every byte before the CRC. Integers big-endian.
//
// Written through a bounded buffer to a temporary name, fdatasync'd, renamed over the
// final name and the directory fsync'd: after a crash the final name holds either the
// previous complete file or the new complete one, never a torn one.
import { posix } from 'node:path';
import { crc32 } from '../../checksum/index.js';
import type { Disk, DiskFile } from '../../disk/index.js';
import { AtollError, StatusCode, assert, isAtollError } from '../../errors/index.js';
import type { KvEntry, KvKey } from './kv-engine.js';
import { checkAppliedIndex, checkKey, checkValue, compareKeys } from './key-order.js';
import { kvKeyBytesMax, kvValueBytesMax, snapshotReadChunkBytes, snapshotWriteBufferBytes } from './limits.js';

/** "AKVS": AtollFS key-value snapshot. */
export const kvSnapshotMagic = 0x41_4b_56_53;
export const kvSnapshotVersion = 1;
/** magic u32, version u16, flags u16, appliedIndex u64. */
export const kvSnapshotHeaderBytes = 16;
/** recordCount u64, crc32 u32 (of every byte before it, the count included). */
export const kvSnapshotTrailerBytes = 12;
/** op u8, keyLength u32 (then the key), valueLength u32 (then the value). */
const recordFixedBytes = 9;
export const temporarySnapshotSuffix = '.tmp';

export enum KvSnapshotOp {
  Set = 1,
  /** Reserved for delta files; a full snapshot holds only Set records and a reader refuses Delete. */
  Delete = 2,
}

export interface KvSnapshotFileInfo {
  readonly path: string;
  readonly appliedIndex: number;
  readonly recordCount: number;
  readonly bytes: number;
}

export interface KvSnapshotContent {
  readonly appliedIndex: number;
  /** Every entry, in strictly increasing key order. Key and value bytes are read-only. */
  readonly entries: readonly KvEntry[];
}

function writeUint64(bytes: Uint8Array, offset: number, value: number): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(offset, BigInt(value));
}

function readUint64(bytes: Uint8Array, offset: number): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset));
}

async function ignoreMissing(action: Promise<unknown>): Promise<void> {
  try {
    await action;
  } catch (error) {
    if (!isAtollError(error, StatusCode.NOT_FOUND)) throw error;
  }
}

/** Appends through one bounded buffer, keeping the running CRC of everything appended. */
class BufferedAppender {
  private readonly buffer = Buffer.allocUnsafe(snapshotWriteBufferBytes);
  private filled = 0;
  crc = 0;
  bytes = 0;

  constructor(private readonly file: DiskFile) {}

  /** Room for `length` more bytes in the buffer, flushing first if needed. */
  async reserve(length: number): Promise<Buffer> {
    assert(length <= this.buffer.byteLength, () => `snapshot writer: ${length} bytes do not fit the write buffer`);
    if (this.filled + length > this.buffer.byteLength) await this.flush();
    const room = this.buffer.subarray(this.filled, this.filled + length);
    this.filled += length;
    return room;
  }

  /** Appends bytes; ones larger than the buffer go straight to the file, uncopied. */
  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.byteLength <= this.buffer.byteLength - this.filled) {
      this.buffer.set(bytes, this.filled);
      this.filled += bytes.byteLength;
      return;
    }
    await this.flush();
    if (bytes.byteLength <= this.buffer.byteLength) return this.write(bytes);
    this.crc = crc32(bytes, 0, bytes.byteLength, this.crc);
    this.bytes += bytes.byteLength;
    await this.file.append(bytes);
  }

  async flush(): Promise<void> {
    if (this.filled === 0) return;
    const chunk = this.buffer.subarray(0, this.filled);
    this.crc = crc32(chunk, 0, chunk.byteLength, this.crc);
    this.bytes += chunk.byteLength;
    // The buffer is reused only after the append resolved, so it is never changed under it.
    await this.file.append(chunk);
    this.filled = 0;
  }
}

/**
 * Writes the entries (in strictly increasing key order, as a snapshot view yields them)
 * as `directory/fileName`, replacing an older file of that name only once the new one is
 * complete and durable.
 */
export async function writeSnapshotFile(
  disk: Disk,
  directory: string,
  fileName: string,
  appliedIndex: number,
  entries: Iterable<KvEntry>,
): Promise<KvSnapshotFileInfo> {
  checkAppliedIndex(appliedIndex, 'writeSnapshotFile');
  assert(fileName.length > 0 && !fileName.includes('/'), () => `writeSnapshotFile: not a file name: ${fileName}`);
  const path = posix.join(directory, fileName);
  const temporaryPath = `${path}${temporarySnapshotSuffix}`;
  // A temporary file left by a crash would otherwise be appended to.
  await ignoreMissing(disk.remove(temporaryPath));
  const file = await disk.openForAppend(temporaryPath);
  let recordCount = 0;
  let bytes: number;
  try {
    const appender = new BufferedAppender(file);
    const header = await appender.reserve(kvSnapshotHeaderBytes);
    header.writeUInt32BE(kvSnapshotMagic, 0);
    header.writeUInt16BE(kvSnapshotVersion, 4);
    header.writeUInt16BE(0, 6);
    writeUint64(header, 8, appliedIndex);
    let previous: KvKey | undefined;
    for (const { key, value } of entries) {
      checkKey(key, 'writeSnapshotFile');
      checkValue(value, 'writeSnapshotFile');
      assert(previous === undefined || compareKeys(previous, key) < 0, 'writeSnapshotFile: entries must be in strictly increasing key order');
      previous = key;
      const opAndKeyLength = await appender.reserve(5);
      opAndKeyLength[0] = KvSnapshotOp.Set;
      opAndKeyLength.writeUInt32BE(key.byteLength, 1);
      await appender.write(key);
      const valueLength = await appender.reserve(4);
      valueLength.writeUInt32BE(value.byteLength, 0);
      await appender.write(value);
      recordCount++;
    }
    const count = await appender.reserve(8);
    writeUint64(count, 0, recordCount);
    await appender.flush();
    const checksum = Buffer.allocUnsafe(4);
    checksum.writeUInt32BE(appender.crc, 0);
    await file.append(checksum);
    bytes = appender.bytes + checksum.byteLength;
    await file.sync();
  } catch (error) {
    await file.close().catch(() => undefined);
    await ignoreMissing(disk.remove(temporaryPath)).catch(() => undefined);
    throw error;
  }
  await file.close();
  await disk.rename(temporaryPath, path);
  await disk.syncDirectory(directory);
  return { path, appliedIndex, recordCount, bytes };
}

function refused(path: string, reason: string): AtollError {
  return new AtollError(StatusCode.CHECKSUM_MISMATCH, `read snapshot file ${path}: ${reason}`);
}

/** Reads a file front to back in bounded chunks; a record longer than a chunk is read whole. */
class ChunkReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private offset = 0;
  /** File position of chunk[0]. */
  private chunkPosition = 0;
  crc = 0;

  constructor(
    private readonly file: DiskFile,
    private readonly path: string,
    /** Reads never go past this position (the start of the CRC). */
    private readonly end: number,
  ) {}

  get position(): number {
    return this.chunkPosition + this.offset;
  }

  /** The next `length` bytes as a view (valid as long as the caller keeps it), CRC'd. */
  async take(length: number): Promise<Uint8Array> {
    if (this.position + length > this.end) throw refused(this.path, `a record runs past the trailer at byte ${this.position}`);
    if (this.chunk.byteLength - this.offset < length) {
      const tail = this.chunk.subarray(this.offset);
      const wanted = Math.min(Math.max(snapshotReadChunkBytes, length) - tail.byteLength, this.end - this.position - tail.byteLength);
      const read = await this.file.read(this.position + tail.byteLength, wanted);
      if (read.byteLength !== wanted) throw refused(this.path, `the file ended at byte ${this.position + tail.byteLength + read.byteLength} while being read`);
      const joined = new Uint8Array(tail.byteLength + read.byteLength);
      joined.set(tail, 0);
      joined.set(read, tail.byteLength);
      this.chunkPosition = this.position;
      this.chunk = joined;
      this.offset = 0;
    }
    const taken = this.chunk.subarray(this.offset, this.offset + length);
    this.offset += length;
    this.crc = crc32(taken, 0, taken.byteLength, this.crc);
    return taken;
  }
}

/**
 * Reads and checks a whole snapshot file. A torn, truncated or corrupted file is refused
 * with CHECKSUM_MISMATCH before any entry is handed out, so nothing of it is installed.
 * The entries are held in memory (views into the chunks read): replaceAll takes them
 * synchronously, and only a fully checked file may reach it.
 */
export async function readSnapshotFile(disk: Disk, path: string): Promise<KvSnapshotContent> {
  const file = await disk.openForRead(path);
  try {
    const size = await file.size();
    if (size < kvSnapshotHeaderBytes + kvSnapshotTrailerBytes) throw refused(path, `${size} bytes is too short for a snapshot file`);
    const crcPosition = size - 4;
    const recordsEnd = size - kvSnapshotTrailerBytes;
    const reader = new ChunkReader(file, path, crcPosition);
    const header = Buffer.from(await reader.take(kvSnapshotHeaderBytes));
    const magic = header.readUInt32BE(0);
    if (magic !== kvSnapshotMagic) throw refused(path, `bad magic 0x${magic.toString(16).padStart(8, '0')}`);
    const version = header.readUInt16BE(4);
    if (version !== kvSnapshotVersion) throw refused(path, `unknown version ${version}`);
    const flags = header.readUInt16BE(6);
    if (flags !== 0) throw refused(path, `unknown flags ${flags}`);
    const appliedIndex = readUint64(header, 8);
    const entries: KvEntry[] = [];
    let previous: KvKey | undefined;
    // Lengths are bounded before anything is allocated for them: a corrupted length must
    // not become a huge read. The CRC, checked at the end, catches what bounds cannot.
    while (reader.position < recordsEnd) {
      const fixed = await reader.take(5);
      const op = fixed[0]!;
      if (op !== KvSnapshotOp.Set) throw refused(path, `record ${entries.length}: op ${op} is not SET`);
      const keyLength = Buffer.from(fixed.buffer, fixed.byteOffset, fixed.byteLength).readUInt32BE(1);
      if (keyLength === 0 || keyLength > kvKeyBytesMax) throw refused(path, `record ${entries.length}: key length ${keyLength}`);
      const key = await reader.take(keyLength);
      const valueLengthBytes = await reader.take(4);
      const valueLength = Buffer.from(valueLengthBytes.buffer, valueLengthBytes.byteOffset, 4).readUInt32BE(0);
      if (valueLength > kvValueBytesMax) throw refused(path, `record ${entries.length}: value length ${valueLength}`);
      const value = await reader.take(valueLength);
      if (previous !== undefined && compareKeys(previous, key) >= 0) throw refused(path, `record ${entries.length}: keys out of order`);
      previous = key;
      entries.push({ key, value });
    }
    if (reader.position !== recordsEnd) throw refused(path, `the records end at byte ${reader.position}, the trailer starts at ${recordsEnd}`);
    const recordCount = readUint64(await reader.take(8), 0);
    const computed = reader.crc;
    const stored = Buffer.from(await file.read(crcPosition, 4)).readUInt32BE(0);
    if (stored !== computed) throw refused(path, `checksum mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`);
    if (recordCount !== entries.length) throw refused(path, `the trailer counts ${recordCount} records, the file holds ${entries.length}`);
    if (!Number.isSafeInteger(appliedIndex)) throw refused(path, `applied index beyond 2^53`);
    return { appliedIndex, entries };
  } finally {
    await file.close();
  }
}
