// The storage engine of one meta partition: an ordered key-value set (keys compared as
// unsigned bytes) and the Raft index it reflects, changed only in atomic batches. Two
// engines implement it: an in-memory B+ tree (the default; durability comes from the
// Raft log and snapshot files) and LMDB (on disk; metadata larger than memory, fast
// restart). The partition's state machine is written against this interface only, and
// the whole metanode test suite runs on both engines.

export type KvKey = Uint8Array;
export type KvValue = Uint8Array;

/** One change of a batch. */
export type KvMutation =
  | { readonly op: 'set'; readonly key: KvKey; readonly value: KvValue }
  | { readonly op: 'delete'; readonly key: KvKey };

export interface KvRange {
  /** Only keys starting with this prefix. */
  readonly prefix: KvKey;
  /** Resume after this key (exclusive); absent: from the first key of the prefix. */
  readonly after?: KvKey;
  /** At most this many entries (bounded scans only: every caller names its limit). */
  readonly limit: number;
}

export interface KvEntry {
  readonly key: KvKey;
  readonly value: KvValue;
}

/** A read-only, consistent view of the engine at one applied index (for snapshots). */
export interface KvSnapshotView {
  readonly appliedIndex: number;
  /** Every entry in key order. */
  entries(): Iterable<KvEntry>;
  release(): void;
}

export interface KvEngine {
  readonly kind: 'memory' | 'lmdb';
  /** The Raft index of the last batch applied (0 for an empty engine). */
  readonly appliedIndex: number;
  get(key: KvKey): KvValue | undefined;
  scan(range: KvRange): KvEntry[];
  /** Number of keys with the prefix (counts for heartbeats and statfs). */
  count(prefix: KvKey): number;
  /**
   * Applies the mutations and records appliedIndex, all or nothing. appliedIndex must be
   * above the current one (apply is idempotent against it: the caller skips entries at or
   * below it), except with `sameEntry`: a further step of the entry last written (the
   * later commands of a batched log entry, each on the state the ones before it left),
   * where it must equal the current one. The caller runs the steps of one entry inside
   * one writeBatch when the engine has it, so the entry is all or nothing on disk.
   */
  write(appliedIndex: number, mutations: readonly KvMutation[], sameEntry?: boolean): void;
  /**
   * Optional: runs `work` (synchronous) with every write() it makes committed together,
   * durably, when it returns; a throw commits none of them. Without it each write()
   * stands alone.
   */
  writeBatch?<T>(work: () => T): T;
  /** Replaces the whole content (installing a snapshot). */
  replaceAll(appliedIndex: number, entries: Iterable<KvEntry>): void;
  snapshotView(): KvSnapshotView;
  close(): Promise<void>;
}
