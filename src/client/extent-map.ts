// A file's extent keys against a byte range: which parts are stored (and where) and
// which are not. Keys are sorted by file offset and do not overlap (the metanode keeps
// them so). Pure.
import type { ExtentKey } from '../dataclient/index.js';

export interface Segment {
  readonly from: number;
  readonly to: number;
  /** The key storing [from, to), or null for a hole or past the last key. */
  readonly key: ExtentKey | null;
}

/** [start, end) cut into stored and unstored segments, in order. */
export function segmentsOf(keys: readonly ExtentKey[], start: number, end: number): Segment[] {
  const segments: Segment[] = [];
  let at = start;
  for (const key of keys) {
    if (at >= end) break;
    const keyEnd = key.fileOffset + key.size;
    if (keyEnd <= at) continue;
    if (key.fileOffset >= end) break;
    if (key.fileOffset > at) {
      segments.push({ from: at, to: key.fileOffset, key: null });
      at = key.fileOffset;
    }
    const to = Math.min(end, keyEnd);
    segments.push({ from: at, to, key });
    at = to;
  }
  if (at < end) segments.push({ from: at, to: end, key: null });
  return segments;
}

/** The end of the stored bytes: where appends continue. */
export function storedEnd(keys: readonly ExtentKey[]): number {
  const last = keys[keys.length - 1];
  return last === undefined ? 0 : last.fileOffset + last.size;
}
