// A frame is what one write and one fdatasync put on disk: a header with one CRC32 over
// the whole frame, then the records. Recovery checks frames, never single records: the
// bytes a crash can damage are those of the one frame written since the last fdatasync,
// and within it the device may have persisted pages in any order.
import { crc32 } from '../checksum/index.js';
import { assert } from '../errors/index.js';
import {
  frameHeaderBytes,
  frameMagic,
  frameOffsetBytes,
  frameOffsetChecksum,
  frameOffsetFirstSequence,
  frameOffsetMagic,
  frameOffsetRecordCount,
  readUint32,
  readUint64,
  writeUint32,
  writeUint64,
} from './format.js';
import type { WalRecord } from './record.js';
import { decodeRecord } from './record.js';

/** CRC32 of the frame without its checksum field: magic and length, then the rest. */
function frameChecksum(bytes: Uint8Array, offset: number, frameBytes: number): number {
  const headStart = crc32(bytes, offset + frameOffsetMagic, offset + frameOffsetChecksum);
  return crc32(bytes, offset + frameOffsetFirstSequence, offset + frameBytes, headStart);
}

/** Writes the header of a frame whose records already fill bytes[headerBytes, frameBytes). */
export function sealFrame(bytes: Uint8Array, frameBytes: number, firstSequence: number, recordCount: number): void {
  assert(frameBytes > frameHeaderBytes && frameBytes <= bytes.byteLength, () => `seal frame: bad length ${frameBytes}`);
  assert(recordCount > 0, 'seal frame: a frame holds at least one record');
  writeUint32(bytes, frameOffsetMagic, frameMagic);
  writeUint32(bytes, frameOffsetBytes, frameBytes);
  writeUint64(bytes, frameOffsetFirstSequence, firstSequence);
  writeUint32(bytes, frameOffsetRecordCount, recordCount);
  writeUint32(bytes, frameOffsetChecksum, frameChecksum(bytes, 0, frameBytes));
}

export interface FrameHeader {
  readonly frameBytes: number;
  readonly firstSequence: number;
  readonly recordCount: number;
}

/**
 * The header of an intact frame at offset, or why there is none: too few bytes, wrong
 * magic, a length beyond `end`, or a checksum mismatch.
 */
export function checkFrame(bytes: Uint8Array, offset: number, end: number): FrameHeader | string {
  if (end - offset < frameHeaderBytes) return `frame header cut short: ${end - offset} bytes left`;
  const magic = readUint32(bytes, offset + frameOffsetMagic);
  if (magic !== frameMagic) return `bad frame magic 0x${magic.toString(16).padStart(8, '0')}`;
  const frameBytes = readUint32(bytes, offset + frameOffsetBytes);
  if (frameBytes <= frameHeaderBytes) return `frame length ${frameBytes} too small`;
  if (frameBytes > end - offset) return `frame of ${frameBytes} bytes runs past the end (${end - offset} bytes left)`;
  const stored = readUint32(bytes, offset + frameOffsetChecksum);
  const computed = frameChecksum(bytes, offset, frameBytes);
  if (stored !== computed) return `frame checksum mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`;
  const firstSequence = readUint64(bytes, offset + frameOffsetFirstSequence);
  if (!Number.isSafeInteger(firstSequence)) return `frame sequence beyond 2^53: ${firstSequence}`;
  return { frameBytes, firstSequence, recordCount: readUint32(bytes, offset + frameOffsetRecordCount) };
}

/** The records of an intact frame, or why they do not parse (a writer bug: refused). */
export function decodeFrameRecords(bytes: Uint8Array, offset: number, header: FrameHeader): WalRecord[] | string {
  const records: WalRecord[] = [];
  const end = offset + header.frameBytes;
  let position = offset + frameHeaderBytes;
  while (position < end) {
    const decoded = decodeRecord(bytes, position, end);
    if (typeof decoded === 'string') return `record ${records.length} at offset ${position}: ${decoded}`;
    records.push(decoded.record);
    position = decoded.end;
  }
  if (records.length !== header.recordCount) return `frame says ${header.recordCount} records, holds ${records.length}`;
  return records;
}

/**
 * The offset of the first intact frame that starts after `from`, or -1. Used to tell a
 * torn tail (nothing intact follows the damage) from corruption (something does).
 */
export function findIntactFrameAfter(bytes: Uint8Array, from: number, end: number): number {
  const firstMagicByte = frameMagic >>> 24;
  for (let offset = from + 1; offset + frameHeaderBytes <= end; offset++) {
    if (bytes[offset] !== firstMagicByte) continue;
    if (typeof checkFrame(bytes, offset, end) !== 'string') return offset;
  }
  return -1;
}
