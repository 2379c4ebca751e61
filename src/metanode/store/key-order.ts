// Keys are ordered as unsigned bytes (memcmp, shorter first on a tie), the order of LMDB's
// default comparator, so both engines scan in the same order. The checks here are
// shared by both engines so that they reject exactly the same batches.
import { assert } from '../../errors/index.js';
import type { KvEntry, KvKey, KvMutation, KvRange } from './kv-engine.js';
import { kvKeyBytesMax, kvValueBytesMax } from './limits.js';

export function compareKeys(left: KvKey, right: KvKey): number {
  // A byte loop in JS: the keys are short (tens of bytes) and differ early, where the
  // native Buffer.compare spends more on the call than on the comparison (it was a fifth
  // of a create's apply). Long keys still go to the native compare.
  const leftLength = left.length;
  const rightLength = right.length;
  const length = leftLength < rightLength ? leftLength : rightLength;
  if (length > 64) return Buffer.compare(left, right);
  for (let index = 0; index < length; index++) {
    const difference = left[index]! - right[index]!;
    if (difference !== 0) return difference < 0 ? -1 : 1;
  }
  return leftLength === rightLength ? 0 : leftLength < rightLength ? -1 : 1;
}

export function hasPrefix(key: KvKey, prefix: KvKey): boolean {
  if (key.byteLength < prefix.byteLength) return false;
  for (let index = 0; index < prefix.byteLength; index++) if (key[index] !== prefix[index]) return false;
  return true;
}

/**
 * The smallest key above every key with the prefix, or undefined when there is none
 * (an empty prefix, or one of only 0xff bytes).
 */
export function prefixEnd(prefix: KvKey): Buffer | undefined {
  let last = prefix.byteLength - 1;
  while (last >= 0 && prefix[last] === 0xff) last--;
  if (last < 0) return undefined;
  const end = Buffer.from(prefix.subarray(0, last + 1));
  end[last]! += 1;
  return end;
}

/** A private copy: callers may reuse the buffer they passed in. */
export function copyBytes(bytes: Uint8Array): Buffer {
  // allocUnsafe + set rather than Buffer.from(bytes): the same pooled allocation without
  // Buffer.from's argument dispatch, about a third less per copy for the short keys and
  // values of the apply path (the whole buffer is written by the set).
  const copy = Buffer.allocUnsafe(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

export function checkKey(key: unknown, action: string): asserts key is KvKey {
  assert(key instanceof Uint8Array, () => `${action}: a key must be a Uint8Array: ${typeof key}`);
  assert(key.byteLength > 0, () => `${action}: a key must not be empty`);
  assert(key.byteLength <= kvKeyBytesMax, () => `${action}: a key of ${key.byteLength} bytes is over kvKeyBytesMax ${kvKeyBytesMax}`);
}

export function checkValue(value: unknown, action: string): asserts value is Uint8Array {
  assert(value instanceof Uint8Array, () => `${action}: a value must be a Uint8Array: ${typeof value}`);
  assert(value.byteLength <= kvValueBytesMax, () => `${action}: a value of ${value.byteLength} bytes is over kvValueBytesMax ${kvValueBytesMax}`);
}

export function checkAppliedIndex(appliedIndex: number, action: string): void {
  assert(Number.isSafeInteger(appliedIndex) && appliedIndex >= 0, () => `${action}: applied index must be a non-negative safe integer: ${appliedIndex}`);
}

/**
 * Checks a whole batch before any of it is applied, so an invalid mutation anywhere in
 * it is refused with nothing changed. The index must increase, or stay for a further step
 * of the same entry (`sameEntry`). Both failures are bugs of the caller (the state
 * machine builds batches and skips log entries at or below the applied index), so they
 * are assertion failures, not statuses.
 */
export function checkBatch(currentIndex: number, appliedIndex: number, mutations: readonly KvMutation[], sameEntry = false): void {
  checkAppliedIndex(appliedIndex, 'write');
  if (sameEntry) assert(appliedIndex === currentIndex, () => `write: a further step of entry ${appliedIndex} after entry ${currentIndex}`);
  else assert(appliedIndex > currentIndex, () => `write: applied index must increase: ${appliedIndex} after ${currentIndex}`);
  assert(Array.isArray(mutations), 'write: mutations must be an array');
  for (const mutation of mutations) {
    checkKey(mutation?.key, 'write');
    if (mutation.op === 'set') checkValue(mutation.value, 'write');
    else assert(mutation.op === 'delete', () => `write: unknown mutation op ${String((mutation as { op: unknown }).op)}`);
  }
}

export function checkRange(range: KvRange): void {
  assert(range.prefix instanceof Uint8Array, 'scan: prefix must be a Uint8Array');
  assert(range.after === undefined || range.after instanceof Uint8Array, 'scan: after must be a Uint8Array');
  assert(Number.isSafeInteger(range.limit) && range.limit > 0, () => `scan: limit must be a positive integer: ${range.limit}`);
}

/** For replaceAll: entries must come in strictly increasing key order (no duplicates). */
export function checkEntryOrder(previous: KvKey | undefined, entry: KvEntry): void {
  checkKey(entry?.key, 'replaceAll');
  checkValue(entry.value, 'replaceAll');
  assert(previous === undefined || compareKeys(previous, entry.key) < 0, 'replaceAll: entries must be in strictly increasing key order');
}
