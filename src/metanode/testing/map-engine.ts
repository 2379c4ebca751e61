// TEST-ONLY. A minimal KvEngine over a sorted array, so the partition's state machine can
// be tested before the real engines (memory B+ tree, LMDB) land; it is replaced by them
// when they merge and must never be used outside tests. Correct, not fast: every write
// re-sorts, every scan is a binary search plus a walk.
import { assert } from '../../errors/index.js';
import type { KvEngine, KvEntry, KvKey, KvMutation, KvRange, KvSnapshotView, KvValue } from '../store/kv-engine.js';

export function compareBytes(left: Uint8Array, right: Uint8Array): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) {
    if (left[index] !== right[index]) return left[index] - right[index];
  }
  return left.length - right.length;
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let index = 0; index < prefix.length; index++) if (key[index] !== prefix[index]) return false;
  return true;
}

export class MapEngine implements KvEngine {
  readonly kind = 'memory' as const;
  #appliedIndex = 0;
  // Sorted by key, unsigned bytes; keys and values are copies owned by the engine.
  #entries: KvEntry[] = [];

  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  // Position of the first entry whose key is >= key.
  #lowerBound(key: KvKey): number {
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareBytes(this.#entries[middle].key, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  get(key: KvKey): KvValue | undefined {
    const position = this.#lowerBound(key);
    const entry = this.#entries[position];
    return entry !== undefined && compareBytes(entry.key, key) === 0 ? entry.value.slice() : undefined;
  }

  scan(range: KvRange): KvEntry[] {
    assert(Number.isSafeInteger(range.limit) && range.limit >= 0, () => `scan: limit must be a non-negative integer: ${range.limit}`);
    let position = this.#lowerBound(range.prefix);
    if (range.after !== undefined) {
      position = Math.max(position, this.#lowerBound(range.after));
      const entry = this.#entries[position];
      if (entry !== undefined && compareBytes(entry.key, range.after) === 0) position++;
    }
    const result: KvEntry[] = [];
    for (; position < this.#entries.length && result.length < range.limit; position++) {
      const entry = this.#entries[position];
      if (!startsWith(entry.key, range.prefix)) break;
      result.push({ key: entry.key.slice(), value: entry.value.slice() });
    }
    return result;
  }

  count(prefix: KvKey): number {
    let total = 0;
    for (let position = this.#lowerBound(prefix); position < this.#entries.length; position++) {
      if (!startsWith(this.#entries[position].key, prefix)) break;
      total++;
    }
    return total;
  }

  write(appliedIndex: number, mutations: readonly KvMutation[]): void {
    assert(appliedIndex > this.#appliedIndex, () => `write: applied index ${appliedIndex} not above ${this.#appliedIndex}`);
    for (const mutation of mutations) {
      const position = this.#lowerBound(mutation.key);
      const existing = this.#entries[position];
      const found = existing !== undefined && compareBytes(existing.key, mutation.key) === 0;
      if (mutation.op === 'set') {
        const entry = { key: mutation.key.slice(), value: mutation.value.slice() };
        if (found) this.#entries[position] = entry;
        else this.#entries.splice(position, 0, entry);
      } else if (found) {
        this.#entries.splice(position, 1);
      }
    }
    this.#appliedIndex = appliedIndex;
  }

  replaceAll(appliedIndex: number, entries: Iterable<KvEntry>): void {
    this.#entries = [...entries].map((entry) => ({ key: entry.key.slice(), value: entry.value.slice() }));
    this.#entries.sort((left, right) => compareBytes(left.key, right.key));
    this.#appliedIndex = appliedIndex;
  }

  snapshotView(): KvSnapshotView {
    const entries = this.#entries.slice();
    return { appliedIndex: this.#appliedIndex, entries: () => entries, release: () => {} };
  }

  async close(): Promise<void> {}
}
