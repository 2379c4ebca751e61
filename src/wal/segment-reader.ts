// Reads one segment at recovery and decides what its bytes are: intact frames, then
// possibly a torn tail, or corruption, which is refused. The rules (design.md):
// - Frames follow each other with consecutive sequence numbers from the name's.
// - Zeros from the end of the last frame to the end of the file are preallocated room,
//   not damage: the segment ends there.
// - In the last segment, damage with no intact frame anywhere after it is a torn tail:
//   the frame being written when the process or machine died. It is cut off.
// - Damage followed by an intact frame, or any damage in an older segment, cannot come
//   from a crash (a frame is written only after the previous one is synced, and a new
//   segment only after the previous one is): it is corruption and recovery stops.
import { AtollError, StatusCode } from '../errors/index.js';
import { checkFrame, decodeFrameRecords, findIntactFrameAfter } from './frame.js';
import type { FrameHeader } from './frame.js';
import type { WalRecord } from './record.js';

export interface ReadFrame {
  readonly offset: number;
  readonly header: FrameHeader;
  readonly records: WalRecord[];
}

export interface SegmentContent {
  readonly frames: ReadFrame[];
  /** Bytes up to the end of the last intact frame. */
  readonly intactBytes: number;
  /** One past the sequence of the last intact record. */
  readonly endSequence: number;
  /** Why the bytes after intactBytes are a torn tail; null when there are none. */
  readonly tornTail: string | null;
}

function corruption(path: string, offset: number, reason: string, why: string): AtollError {
  return new AtollError(StatusCode.INTERNAL, `recover write-ahead log: ${path} at offset ${offset}: ${reason}: ${why}; refusing to skip it (restore this replica from its peers)`);
}

/** Whether bytes[from, end) are all zero: the preallocated part of a segment no frame reached yet. */
export function isZeroFrom(bytes: Uint8Array, from: number): boolean {
  for (let offset = bytes.byteLength - 1; offset >= from; offset--) if (bytes[offset] !== 0) return false;
  return true;
}

export function readSegment(bytes: Uint8Array, path: string, firstSequence: number, isLast: boolean): SegmentContent {
  const frames: ReadFrame[] = [];
  let offset = 0;
  let sequence = firstSequence;
  while (offset < bytes.byteLength) {
    const checked = checkFrame(bytes, offset, bytes.byteLength);
    if (typeof checked === 'string') {
      // Zeros up to the end of the file: preallocated room no frame has reached, the clean
      // end of the log. A frame never starts with zeros (its magic), and a torn one leaves
      // some of its bytes, which fall under the rules below.
      if (isZeroFrom(bytes, offset)) return { frames, intactBytes: offset, endSequence: sequence, tornTail: null };
      if (!isLast) throw corruption(path, offset, checked, 'damage in a segment that is not the last one');
      const intactAfter = findIntactFrameAfter(bytes, offset, bytes.byteLength);
      if (intactAfter >= 0) throw corruption(path, offset, checked, `an intact frame follows at offset ${intactAfter}, so this is not a torn write`);
      return { frames, intactBytes: offset, endSequence: sequence, tornTail: `${checked} at offset ${offset}` };
    }
    if (checked.firstSequence !== sequence) {
      throw corruption(path, offset, `frame starts at sequence ${checked.firstSequence}`, `expected ${sequence}: a frame is missing or out of place`);
    }
    const records = decodeFrameRecords(bytes, offset, checked);
    if (typeof records === 'string') throw corruption(path, offset, records, 'an intact frame that does not parse (written by a different version?)');
    frames.push({ offset, header: checked, records });
    offset += checked.frameBytes;
    sequence += records.length;
  }
  return { frames, intactBytes: offset, endSequence: sequence, tornTail: null };
}
