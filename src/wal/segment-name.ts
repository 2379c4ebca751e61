// Segment files are named for the sequence number of their first record, in 16 hex
// digits, so that names sort in log order and a missing segment shows as a gap.
import { assert } from '../errors/index.js';

const segmentNamePattern = /^([0-9a-f]{16})\.log$/;

export function segmentName(firstSequence: number): string {
  assert(Number.isSafeInteger(firstSequence) && firstSequence >= 0, () => `segment name: bad sequence ${firstSequence}`);
  return `${firstSequence.toString(16).padStart(16, '0')}.log`;
}

/** The first sequence a segment file name stands for, or null for any other name. */
export function parseSegmentName(name: string): number | null {
  const match = segmentNamePattern.exec(name);
  if (match === null) return null;
  const sequence = Number.parseInt(match[1]!, 16);
  return Number.isSafeInteger(sequence) ? sequence : null;
}
