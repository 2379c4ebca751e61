// The on-disk layout of the write-ahead log (design.md has the full description). All
// integers are big-endian; 64-bit fields hold JS safe integers (checked on write and read).
import { assert } from '../errors/index.js';

/** "AWL" and format version 1. A new layout gets a new magic, so old readers refuse it. */
export const frameMagic = 0x41_57_4c_01;
/** magic u32, frameBytes u32, crc32 u32, firstSequence u64, recordCount u32. */
export const frameHeaderBytes = 24;
export const frameOffsetMagic = 0;
export const frameOffsetBytes = 4;
export const frameOffsetChecksum = 8;
export const frameOffsetFirstSequence = 12;
export const frameOffsetRecordCount = 20;

/** recordBytes u32, type u8, groupId u64, term u64, index u64; then the payload. */
export const recordHeaderBytes = 29;
export const recordOffsetType = 4;
export const recordOffsetGroupId = 5;
export const recordOffsetTerm = 13;
export const recordOffsetIndex = 21;

export enum RecordType {
  /** A Raft entry: term, index; payload entry type u8 + data. */
  Entry = 1,
  /** term, index = commit; payload vote u64. */
  HardState = 2,
  /** The group's snapshot: term, index; payload flags u8 (bit 0: entries above index are kept). */
  SnapshotMark = 3,
  /** Everything of the group before this record is obsolete; no term, index or payload. */
  GroupRemoved = 4,
}

export const snapshotMarkKeepsEntriesAbove = 1;

export function isRecordType(value: number): value is RecordType {
  return value >= RecordType.Entry && value <= RecordType.GroupRemoved;
}

/** Payload bytes of each record type, the Entry's data aside. */
export const recordPayloadBytes: Readonly<Record<RecordType, number>> = {
  [RecordType.Entry]: 1,
  [RecordType.HardState]: 8,
  [RecordType.SnapshotMark]: 1,
  [RecordType.GroupRemoved]: 0,
};

const twoPower32 = 0x1_0000_0000;

export function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}

export function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

export function writeUint64(bytes: Uint8Array, offset: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, () => `write u64: not a non-negative safe integer: ${value}`);
  writeUint32(bytes, offset, Math.floor(value / twoPower32));
  writeUint32(bytes, offset + 4, value >>> 0);
}

/** May return a number beyond MAX_SAFE_INTEGER from damaged bytes; callers check. */
export function readUint64(bytes: Uint8Array, offset: number): number {
  return readUint32(bytes, offset) * twoPower32 + readUint32(bytes, offset + 4);
}
