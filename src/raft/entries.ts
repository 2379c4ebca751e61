import type { Entry } from './types.js';

/**
 * Bytes an entry is charged in messages and inflight windows: its payload plus a fixed
 * allowance for term, index and type, so that floods of empty entries are still bounded.
 */
export const entryOverheadBytes = 24;

export function entryBytes(entry: Entry): number {
  return entry.data.byteLength + entryOverheadBytes;
}

export function entriesBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += entryBytes(entry);
  return total;
}

/**
 * Payload bytes only. Used for the uncommitted-log limit, where empty entries must be
 * free: a new leader's empty entry has to be accepted whatever the limit.
 */
export function entriesPayloadBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += entry.data.byteLength;
  return total;
}

/**
 * The longest prefix of entries whose total entryBytes stays within bytesMax, but at
 * least one entry, so that an entry larger than the limit can still make progress.
 */
export function limitEntriesToBytes<T extends Entry>(entries: readonly T[], bytesMax: number): T[] {
  if (entries.length === 0) return [];
  let total = entryBytes(entries[0]);
  let count = 1;
  while (count < entries.length) {
    total += entryBytes(entries[count]);
    if (total > bytesMax) break;
    count++;
  }
  return entries.slice(0, count);
}
