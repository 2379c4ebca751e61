// A bounded map whose entries expire: the SDK's attribute and name caches. Insertion
// order is the eviction order (a Map keeps it); a get does not refresh an entry, so a
// hot entry is still read again from the metanode once per TTL. The clock is injected.
import { assert } from '../errors/index.js';

export class TtlCache<Key, Value> {
  readonly #entries = new Map<Key, { value: Value; expiresAtMs: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly entriesMax: number,
    private readonly nowMs: () => number = Date.now,
  ) {
    assert(ttlMs > 0 && entriesMax > 0, 'ttl cache: ttl and size must be positive');
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: Key): Value | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= this.nowMs()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: Key, value: Value): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAtMs: this.nowMs() + this.ttlMs });
    // Bounded: one eviction per insert keeps the size at most entriesMax.
    if (this.#entries.size > this.entriesMax) this.#entries.delete(this.#entries.keys().next().value as Key);
  }

  delete(key: Key): void {
    this.#entries.delete(key);
  }

  /** Drops every entry whose key matches. */
  deleteWhere(matches: (key: Key) => boolean): void {
    for (const key of [...this.#entries.keys()]) if (matches(key)) this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
