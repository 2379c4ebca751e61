import { assert } from './assert.js';
import { limitEntriesToBytes } from './entries.js';
import type { InitialState, Storage } from './storage.js';
import { StorageError, StorageErrorCode } from './storage.js';
import type { ConfState, Entry, HardState, LogIndex, Snapshot, Term } from './types.js';
import { emptyConfState, emptyHardState } from './types.js';

export interface MemoryStorageOptions {
  /**
   * Membership to start from, as if from a snapshot at index 0. Only for groups whose
   * members all start together with the same list (tests); a replica that joins later
   * must learn the membership from the log or a snapshot (see RawNode.bootstrap).
   */
  readonly confState?: ConfState;
}

/**
 * The reference Storage: everything in memory. The host appends each Ready's entries,
 * hard state and snapshot here before sending that Ready's messages.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState;
  private currentSnapshot: Snapshot;
  /** Entries up to and including this index are discarded; always <= the snapshot's index. */
  private compactedIndex: LogIndex;
  private compactedTerm: Term;
  /** entries[0] has index compactedIndex + 1. */
  private log: Entry[] = [];

  constructor(options: MemoryStorageOptions = {}) {
    this.currentSnapshot = {
      metadata: { index: 0 as LogIndex, term: 0 as Term, confState: options.confState ?? emptyConfState },
      data: new Uint8Array(0),
    };
    this.compactedIndex = 0 as LogIndex;
    this.compactedTerm = 0 as Term;
  }

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.currentSnapshot.metadata.confState };
  }

  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  entries(low: LogIndex, high: LogIndex, bytesMax: number): Entry[] {
    if (low <= this.compactedIndex) {
      throw new StorageError(StorageErrorCode.Compacted, `read entries: ${low} is compacted: compactedIndex=${this.compactedIndex}`);
    }
    assert(high <= this.lastIndex() + 1, () => `read entries: high ${high} beyond lastIndex ${this.lastIndex()}`);
    assert(low <= high, () => `read entries: low ${low} above high ${high}`);
    const start = low - this.compactedIndex - 1;
    return limitEntriesToBytes(this.log.slice(start, high - this.compactedIndex - 1), bytesMax);
  }

  term(index: LogIndex): Term {
    if (index < this.compactedIndex) {
      throw new StorageError(StorageErrorCode.Compacted, `read term: ${index} is compacted: compactedIndex=${this.compactedIndex}`);
    }
    if (index === this.compactedIndex) return this.compactedTerm;
    if (index > this.lastIndex()) {
      throw new StorageError(StorageErrorCode.Unavailable, `read term: ${index} is beyond lastIndex ${this.lastIndex()}`);
    }
    return this.log[index - this.compactedIndex - 1].term;
  }

  firstIndex(): LogIndex {
    return (this.compactedIndex + 1) as LogIndex;
  }

  lastIndex(): LogIndex {
    return (this.compactedIndex + this.log.length) as LogIndex;
  }

  snapshot(): Snapshot {
    return this.currentSnapshot;
  }

  /** Replaces the whole log with a snapshot received from the leader (from Ready.snapshot). */
  applySnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    if (index <= this.currentSnapshot.metadata.index) {
      throw new StorageError(StorageErrorCode.SnapshotOutOfDate, `apply snapshot: index ${index} is not newer than ${this.currentSnapshot.metadata.index}`);
    }
    this.currentSnapshot = snapshot;
    this.compactedIndex = index;
    this.compactedTerm = term;
    this.log = [];
  }

  /**
   * Records a snapshot of the application's state as of index (which the application has
   * applied). Does not discard entries; compact() does.
   */
  createSnapshot(index: LogIndex, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.currentSnapshot.metadata.index) {
      throw new StorageError(StorageErrorCode.SnapshotOutOfDate, `create snapshot: index ${index} is not newer than ${this.currentSnapshot.metadata.index}`);
    }
    assert(index <= this.lastIndex(), () => `create snapshot: index ${index} beyond lastIndex ${this.lastIndex()}`);
    this.currentSnapshot = { metadata: { index, term: this.term(index), confState }, data };
    return this.currentSnapshot;
  }

  /**
   * Discards entries up to and including compactIndex. They must be covered by the
   * snapshot: a leader asked for them will send the snapshot instead, and a snapshot
   * older than the first entry would leave a gap.
   */
  compact(compactIndex: LogIndex): void {
    if (compactIndex <= this.compactedIndex) {
      throw new StorageError(StorageErrorCode.Compacted, `compact: ${compactIndex} is already compacted: compactedIndex=${this.compactedIndex}`);
    }
    assert(compactIndex <= this.currentSnapshot.metadata.index, () => `compact: ${compactIndex} is not covered by the snapshot at ${this.currentSnapshot.metadata.index}`);
    assert(compactIndex <= this.lastIndex(), () => `compact: ${compactIndex} beyond lastIndex ${this.lastIndex()}`);
    const term = this.term(compactIndex);
    this.log = this.log.slice(compactIndex - this.compactedIndex);
    this.compactedIndex = compactIndex;
    this.compactedTerm = term;
  }

  /**
   * Appends entries from a Ready. Entries at or below the compaction point are ignored;
   * an entry that overwrites an existing index truncates everything after it, because
   * the leader has replaced that suffix.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    const last = entries[entries.length - 1].index;
    assert(first <= this.lastIndex() + 1, () => `append: gap: first new index ${first}, lastIndex ${this.lastIndex()}`);
    if (last <= this.compactedIndex) return;
    const kept = first <= this.compactedIndex ? entries.slice(this.compactedIndex + 1 - first) : entries;
    const keepExisting = kept[0].index - this.compactedIndex - 1;
    // In place: copying the whole log for each append cost O(log length) per Ready
    // (about 0.3 ms at 25k entries, which a meta partition keeps between snapshots). The
    // array is private; entries() hands out copies.
    if (keepExisting < this.log.length) this.log.length = keepExisting;
    for (const entry of kept) this.log.push(entry);
  }
}
