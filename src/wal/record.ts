// One record of the log: its encoding into a frame and its decoding at recovery.
import { assert } from '../errors/index.js';
import type { Entry, HardState, LogIndex, NodeId, Term } from '../raft/index.js';
import { EntryType } from '../raft/index.js';
import {
  RecordType,
  isRecordType,
  readUint32,
  readUint64,
  recordHeaderBytes,
  recordOffsetGroupId,
  recordOffsetIndex,
  recordOffsetTerm,
  recordOffsetType,
  recordPayloadBytes,
  snapshotMarkKeepsEntriesAbove,
  writeUint32,
  writeUint64,
} from './format.js';

export type WalRecord =
  | { readonly type: RecordType.Entry; readonly groupId: number; readonly entry: Entry }
  | { readonly type: RecordType.HardState; readonly groupId: number; readonly hardState: HardState }
  | { readonly type: RecordType.SnapshotMark; readonly groupId: number; readonly index: number; readonly term: number; readonly keepsEntriesAbove: boolean }
  | { readonly type: RecordType.GroupRemoved; readonly groupId: number };

export function entryRecordBytes(entry: Entry): number {
  return recordHeaderBytes + recordPayloadBytes[RecordType.Entry] + entry.data.byteLength;
}

export function fixedRecordBytes(type: RecordType.HardState | RecordType.SnapshotMark | RecordType.GroupRemoved): number {
  return recordHeaderBytes + recordPayloadBytes[type];
}

function writeHeader(target: Uint8Array, offset: number, recordBytes: number, type: RecordType, groupId: number, term: number, index: number): number {
  writeUint32(target, offset, recordBytes);
  target[offset + recordOffsetType] = type;
  writeUint64(target, offset + recordOffsetGroupId, groupId);
  writeUint64(target, offset + recordOffsetTerm, term);
  writeUint64(target, offset + recordOffsetIndex, index);
  return offset + recordHeaderBytes;
}

/** Encodes into target at offset (the caller reserved entryRecordBytes) and returns the end. */
export function encodeEntryRecord(target: Uint8Array, offset: number, groupId: number, entry: Entry): number {
  const recordBytes = entryRecordBytes(entry);
  let position = writeHeader(target, offset, recordBytes, RecordType.Entry, groupId, entry.term, entry.index);
  target[position++] = entry.type;
  target.set(entry.data, position);
  return position + entry.data.byteLength;
}

export function encodeHardStateRecord(target: Uint8Array, offset: number, groupId: number, hardState: HardState): number {
  const position = writeHeader(target, offset, fixedRecordBytes(RecordType.HardState), RecordType.HardState, groupId, hardState.term, hardState.commit);
  writeUint64(target, position, hardState.vote);
  return position + 8;
}

export function encodeSnapshotMarkRecord(target: Uint8Array, offset: number, groupId: number, index: number, term: number, keepsEntriesAbove: boolean): number {
  const position = writeHeader(target, offset, fixedRecordBytes(RecordType.SnapshotMark), RecordType.SnapshotMark, groupId, term, index);
  target[position] = keepsEntriesAbove ? snapshotMarkKeepsEntriesAbove : 0;
  return position + 1;
}

export function encodeGroupRemovedRecord(target: Uint8Array, offset: number, groupId: number): number {
  return writeHeader(target, offset, fixedRecordBytes(RecordType.GroupRemoved), RecordType.GroupRemoved, groupId, 0, 0);
}

export interface DecodedRecord {
  readonly record: WalRecord;
  readonly end: number;
}

/**
 * Decodes the record at offset, which must end by `end`. Returns a reason string for a
 * malformed record; the frame checksum has passed by then, so that means a writer bug or
 * a foreign file, and recovery refuses it.
 */
export function decodeRecord(bytes: Uint8Array, offset: number, end: number): DecodedRecord | string {
  if (end - offset < recordHeaderBytes) return `record header cut short: ${end - offset} bytes left`;
  const recordBytes = readUint32(bytes, offset);
  if (recordBytes < recordHeaderBytes || recordBytes > end - offset) return `record length ${recordBytes} outside [${recordHeaderBytes}, ${end - offset}]`;
  const type = bytes[offset + recordOffsetType]!;
  if (!isRecordType(type)) return `unknown record type ${type}`;
  const groupId = readUint64(bytes, offset + recordOffsetGroupId);
  const term = readUint64(bytes, offset + recordOffsetTerm);
  const index = readUint64(bytes, offset + recordOffsetIndex);
  if (!Number.isSafeInteger(groupId) || !Number.isSafeInteger(term) || !Number.isSafeInteger(index)) {
    return `group id, term or index beyond 2^53: group ${groupId} term ${term} index ${index}`;
  }
  const payload = offset + recordHeaderBytes;
  const recordEnd = offset + recordBytes;
  const payloadBytes = recordBytes - recordHeaderBytes;
  const fixedPayloadBytes = recordPayloadBytes[type];
  if (type === RecordType.Entry ? payloadBytes < fixedPayloadBytes : payloadBytes !== fixedPayloadBytes) {
    return `record type ${type} with a payload of ${payloadBytes} bytes`;
  }
  switch (type) {
    case RecordType.Entry: {
      const entryType = bytes[payload]!;
      if (entryType !== EntryType.Normal && entryType !== EntryType.ConfChange) return `unknown entry type ${entryType}`;
      if (index === 0) return 'entry at index 0';
      // A copy, so that recovered entries do not keep whole segment buffers alive.
      const data = bytes.slice(payload + 1, recordEnd);
      return { record: { type, groupId, entry: { term: term as Term, index: index as LogIndex, type: entryType, data } }, end: recordEnd };
    }
    case RecordType.HardState: {
      const vote = readUint64(bytes, payload);
      if (!Number.isSafeInteger(vote)) return `vote beyond 2^53: ${vote}`;
      return { record: { type, groupId, hardState: { term: term as Term, vote: vote as NodeId, commit: index as LogIndex } }, end: recordEnd };
    }
    case RecordType.SnapshotMark: {
      const flags = bytes[payload]!;
      if ((flags & ~snapshotMarkKeepsEntriesAbove) !== 0) return `unknown snapshot mark flags ${flags}`;
      return { record: { type, groupId, index, term, keepsEntriesAbove: flags === snapshotMarkKeepsEntriesAbove }, end: recordEnd };
    }
    case RecordType.GroupRemoved:
      return { record: { type, groupId }, end: recordEnd };
  }
  assert(false, `decode record: unhandled type ${type as number}`);
}
