// Byte layouts of the extent store's metadata files (design.md, "On-disk format").
// Integers big-endian; 64-bit fields hold JS safe integers.
import { crc32 } from '../../checksum/index.js';

/** "AXCT": extent CRC table. */
export const crcTableMagic = 0x41_58_43_54;
/** "AXPM": partition metadata. */
export const partitionMetaMagic = 0x41_58_50_4d;
export const formatVersion = 1;
export const crcTableHeaderBytes = 36;
export const partitionMetaBytes = 20;
/** A deletion record: extent id u64, CRC32 of those 8 bytes. */
export const deletionRecordBytes = 12;

export const crcTableFlagTiny = 1;

function writeUint64(bytes: Uint8Array, offset: number, value: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setBigUint64(offset, BigInt(value));
}

function readUint64(bytes: Uint8Array, offset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Number(view.getBigUint64(offset));
}

function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(offset, value);
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset);
}

export interface CrcTable {
  readonly extentId: number;
  readonly tiny: boolean;
  /** Bytes of the extent the CRCs cover: its size at the last sync. */
  readonly size: number;
  readonly blockBytes: number;
  /** One CRC32 per block; the last one over the bytes of a partial block. */
  readonly blockCrcs: Uint32Array;
  /** Tiny extents: bit i set = page i (tinyAlignmentBytes) was released. Empty otherwise. */
  readonly freedPages: Uint8Array;
}

export function encodeCrcTable(table: CrcTable): Uint8Array {
  const blockCount = table.blockCrcs.length;
  const bytes = new Uint8Array(crcTableHeaderBytes + 4 * blockCount + table.freedPages.byteLength + 4);
  writeUint32(bytes, 0, crcTableMagic);
  bytes[4] = formatVersion >>> 8;
  bytes[5] = formatVersion & 0xff;
  bytes[7] = table.tiny ? crcTableFlagTiny : 0;
  writeUint64(bytes, 8, table.extentId);
  writeUint64(bytes, 16, table.size);
  writeUint32(bytes, 24, table.blockBytes);
  writeUint32(bytes, 28, blockCount);
  writeUint32(bytes, 32, table.freedPages.byteLength);
  for (let block = 0; block < blockCount; block++) writeUint32(bytes, crcTableHeaderBytes + 4 * block, table.blockCrcs[block]!);
  bytes.set(table.freedPages, crcTableHeaderBytes + 4 * blockCount);
  const end = bytes.byteLength - 4;
  writeUint32(bytes, end, crc32(bytes, 0, end));
  return bytes;
}

/** The table in a whole `.crc` file, or why it is not a valid one. */
export function decodeCrcTable(bytes: Uint8Array): CrcTable | string {
  if (bytes.byteLength < crcTableHeaderBytes + 4) return `${bytes.byteLength} bytes is too short for a CRC table`;
  const magic = readUint32(bytes, 0);
  if (magic !== crcTableMagic) return `bad magic 0x${magic.toString(16).padStart(8, '0')}`;
  const version = (bytes[4]! << 8) | bytes[5]!;
  if (version !== formatVersion) return `unknown version ${version}`;
  const flags = (bytes[6]! << 8) | bytes[7]!;
  if ((flags & ~crcTableFlagTiny) !== 0) return `unknown flags ${flags}`;
  const blockCount = readUint32(bytes, 28);
  const freedBytes = readUint32(bytes, 32);
  const expected = crcTableHeaderBytes + 4 * blockCount + freedBytes + 4;
  if (expected !== bytes.byteLength) return `the header says ${expected} bytes, the file holds ${bytes.byteLength}`;
  const end = bytes.byteLength - 4;
  const stored = readUint32(bytes, end);
  const computed = crc32(bytes, 0, end);
  if (stored !== computed) return `checksum mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`;
  const extentId = readUint64(bytes, 8);
  const size = readUint64(bytes, 16);
  const blockBytes = readUint32(bytes, 24);
  if (!Number.isSafeInteger(extentId) || !Number.isSafeInteger(size)) return `extent id or size beyond 2^53: ${extentId} ${size}`;
  if (blockBytes === 0 || Math.ceil(size / blockBytes) !== blockCount) return `${blockCount} blocks of ${blockBytes} bytes do not cover ${size} bytes`;
  const blockCrcs = new Uint32Array(blockCount);
  for (let block = 0; block < blockCount; block++) blockCrcs[block] = readUint32(bytes, crcTableHeaderBytes + 4 * block);
  const freedStart = crcTableHeaderBytes + 4 * blockCount;
  return { extentId, tiny: (flags & crcTableFlagTiny) !== 0, size, blockBytes, blockCrcs, freedPages: bytes.slice(freedStart, freedStart + freedBytes) };
}

/** magic u32, version u16, flags u16, extent ids reserved below u64, CRC32 u32. */
export function encodePartitionMeta(extentIdReservedBelow: number): Uint8Array {
  const bytes = new Uint8Array(partitionMetaBytes);
  writeUint32(bytes, 0, partitionMetaMagic);
  bytes[5] = formatVersion;
  writeUint64(bytes, 8, extentIdReservedBelow);
  writeUint32(bytes, 16, crc32(bytes, 0, 16));
  return bytes;
}

/** The reserved id bound, or why the file is not a valid partition metadata file. */
export function decodePartitionMeta(bytes: Uint8Array): number | string {
  if (bytes.byteLength !== partitionMetaBytes) return `${bytes.byteLength} bytes, expected ${partitionMetaBytes}`;
  if (readUint32(bytes, 0) !== partitionMetaMagic) return 'bad magic';
  if (((bytes[4]! << 8) | bytes[5]!) !== formatVersion || bytes[6] !== 0 || bytes[7] !== 0) return 'unknown version or flags';
  if (readUint32(bytes, 16) !== crc32(bytes, 0, 16)) return 'checksum mismatch';
  const reserved = readUint64(bytes, 8);
  if (!Number.isSafeInteger(reserved)) return `reserved id beyond 2^53: ${reserved}`;
  return reserved;
}

export function encodeDeletionRecord(extentId: number): Uint8Array {
  const bytes = new Uint8Array(deletionRecordBytes);
  writeUint64(bytes, 0, extentId);
  writeUint32(bytes, 8, crc32(bytes, 0, 8));
  return bytes;
}

/** The id in the record at `offset`, or undefined when its CRC does not match. */
export function decodeDeletionRecord(bytes: Uint8Array, offset: number): number | undefined {
  if (readUint32(bytes, offset + 8) !== crc32(bytes, offset, offset + 8)) return undefined;
  return readUint64(bytes, offset);
}

/** "AXBB": the list of blocks that failed their CRC and await repair. */
export const badBlockListMagic = 0x41_58_42_42;
export const badBlockListHeaderBytes = 12;
/** One entry: extent id u64, block u32. */
export const badBlockEntryBytes = 12;

export interface BadBlockEntry {
  readonly extentId: number;
  readonly block: number;
}

/** magic u32, version u16, flags u16 (0), count u32, entries, CRC32 of everything before. */
export function encodeBadBlockList(entries: readonly BadBlockEntry[]): Uint8Array {
  const bytes = new Uint8Array(badBlockListHeaderBytes + badBlockEntryBytes * entries.length + 4);
  writeUint32(bytes, 0, badBlockListMagic);
  bytes[5] = formatVersion;
  writeUint32(bytes, 8, entries.length);
  entries.forEach((entry, index) => {
    writeUint64(bytes, badBlockListHeaderBytes + badBlockEntryBytes * index, entry.extentId);
    writeUint32(bytes, badBlockListHeaderBytes + badBlockEntryBytes * index + 8, entry.block);
  });
  const end = bytes.byteLength - 4;
  writeUint32(bytes, end, crc32(bytes, 0, end));
  return bytes;
}

/** The entries of a whole bad-block list file, or why it is not a valid one. */
export function decodeBadBlockList(bytes: Uint8Array): BadBlockEntry[] | string {
  if (bytes.byteLength < badBlockListHeaderBytes + 4) return `${bytes.byteLength} bytes is too short for a bad-block list`;
  if (readUint32(bytes, 0) !== badBlockListMagic) return 'bad magic';
  if (((bytes[4]! << 8) | bytes[5]!) !== formatVersion || bytes[6] !== 0 || bytes[7] !== 0) return 'unknown version or flags';
  const count = readUint32(bytes, 8);
  const expected = badBlockListHeaderBytes + badBlockEntryBytes * count + 4;
  if (expected !== bytes.byteLength) return `the header says ${expected} bytes, the file holds ${bytes.byteLength}`;
  const end = bytes.byteLength - 4;
  if (readUint32(bytes, end) !== crc32(bytes, 0, end)) return 'checksum mismatch';
  const entries: BadBlockEntry[] = [];
  for (let index = 0; index < count; index++) {
    const at = badBlockListHeaderBytes + badBlockEntryBytes * index;
    const extentId = readUint64(bytes, at);
    if (!Number.isSafeInteger(extentId)) return `extent id beyond 2^53 in entry ${index}`;
    entries.push({ extentId, block: readUint32(bytes, at + 8) });
  }
  return entries;
}
