// The snapshot format of snapshot-stream.ts, encoded to and decoded from one buffer: what
// a meta partition hands its Raft group as the snapshot (GroupStateMachine.snapshot is
// synchronous) and what a replica installs from a leader's snapshot. The Raft snapshot
// store writes these bytes to a temporary file, syncs and renames it, like
// writeSnapshotFile does for a standalone file.
import { crc32 } from '../../checksum/index.js';
import { AtollError, StatusCode } from '../../errors/index.js';
import type { KvEntry, KvKey } from './kv-engine.js';
import { checkAppliedIndex, compareKeys } from './key-order.js';
import { kvKeyBytesMax, kvValueBytesMax } from './limits.js';
import { KvSnapshotOp, kvSnapshotHeaderBytes, kvSnapshotMagic, kvSnapshotTrailerBytes, kvSnapshotVersion, type KvSnapshotContent } from './snapshot-stream.js';

export function encodeKvSnapshot(appliedIndex: number, entries: Iterable<KvEntry>): Buffer {
  checkAppliedIndex(appliedIndex, 'encodeKvSnapshot');
  const list = [...entries];
  let bytes = kvSnapshotHeaderBytes + kvSnapshotTrailerBytes;
  for (const { key, value } of list) bytes += 9 + key.byteLength + value.byteLength;
  const out = Buffer.allocUnsafe(bytes);
  out.writeUInt32BE(kvSnapshotMagic, 0);
  out.writeUInt16BE(kvSnapshotVersion, 4);
  out.writeUInt16BE(0, 6);
  out.writeBigUInt64BE(BigInt(appliedIndex), 8);
  let offset = kvSnapshotHeaderBytes;
  let previous: KvKey | undefined;
  for (const { key, value } of list) {
    if (previous !== undefined && compareKeys(previous, key) >= 0) throw new AtollError(StatusCode.INTERNAL, 'encodeKvSnapshot: entries out of key order');
    previous = key;
    out[offset] = KvSnapshotOp.Set;
    out.writeUInt32BE(key.byteLength, offset + 1);
    out.set(key, offset + 5);
    offset += 5 + key.byteLength;
    out.writeUInt32BE(value.byteLength, offset);
    out.set(value, offset + 4);
    offset += 4 + value.byteLength;
  }
  out.writeBigUInt64BE(BigInt(list.length), offset);
  offset += 8;
  out.writeUInt32BE(crc32(out, 0, offset, 0), offset);
  return out;
}

/** Checks and decodes a whole snapshot; anything torn or corrupt is refused before use. */
export function decodeKvSnapshot(bytes: Uint8Array, label: string): KvSnapshotContent {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const refuse = (reason: string): never => {
    throw new AtollError(StatusCode.CHECKSUM_MISMATCH, `snapshot ${label}: ${reason}`);
  };
  if (data.byteLength < kvSnapshotHeaderBytes + kvSnapshotTrailerBytes) refuse(`${data.byteLength} bytes is too short`);
  const crcPosition = data.byteLength - 4;
  const stored = data.readUInt32BE(crcPosition);
  const computed = crc32(data, 0, crcPosition, 0);
  if (stored !== computed) refuse(`checksum mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`);
  if (data.readUInt32BE(0) !== kvSnapshotMagic) refuse('bad magic');
  if (data.readUInt16BE(4) !== kvSnapshotVersion) refuse(`unknown version ${data.readUInt16BE(4)}`);
  const appliedIndex = Number(data.readBigUInt64BE(8));
  const recordsEnd = data.byteLength - kvSnapshotTrailerBytes;
  const entries: KvEntry[] = [];
  let offset = kvSnapshotHeaderBytes;
  while (offset < recordsEnd) {
    if (offset + 5 > recordsEnd) refuse(`record ${entries.length} is cut`);
    if (data[offset] !== KvSnapshotOp.Set) refuse(`record ${entries.length}: op ${data[offset]} is not SET`);
    const keyLength = data.readUInt32BE(offset + 1);
    if (keyLength === 0 || keyLength > kvKeyBytesMax || offset + 5 + keyLength + 4 > recordsEnd) refuse(`record ${entries.length}: key length ${keyLength}`);
    const key = data.subarray(offset + 5, offset + 5 + keyLength);
    offset += 5 + keyLength;
    const valueLength = data.readUInt32BE(offset);
    if (valueLength > kvValueBytesMax || offset + 4 + valueLength > recordsEnd) refuse(`record ${entries.length}: value length ${valueLength}`);
    entries.push({ key, value: data.subarray(offset + 4, offset + 4 + valueLength) });
    offset += 4 + valueLength;
  }
  if (offset !== recordsEnd) refuse('records overrun the trailer');
  if (Number(data.readBigUInt64BE(recordsEnd)) !== entries.length) refuse('record count mismatch');
  if (!Number.isSafeInteger(appliedIndex)) refuse('applied index beyond 2^53');
  return { appliedIndex, entries };
}
