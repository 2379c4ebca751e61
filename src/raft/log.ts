import { assert } from './assert.js';
import { limitEntriesToBytes } from './entries.js';
import { UnstableLog } from './log-unstable.js';
import type { Storage } from './storage.js';
import { StorageError, StorageErrorCode } from './storage.js';
import type { Entry, LogIndex, Snapshot, Term } from './types.js';
import { EntryType } from './types.js';

/**
 * The replicated log as one replica sees it: persisted storage followed by the unstable
 * tail, plus how far it is committed and applied.
 *
 * Invariants (asserted): applied <= committed <= lastIndex; committed never decreases;
 * a committed entry is never overwritten.
 */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: UnstableLog;
  /** Highest index known to be stored on a quorum. */
  committed: LogIndex;
  /** Highest index the application has applied (told through advance). */
  applied: LogIndex;
  private readonly readyCommittedBytesMax: number;

  constructor(storage: Storage, readyCommittedBytesMax: number) {
    this.storage = storage;
    this.readyCommittedBytesMax = readyCommittedBytesMax;
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new UnstableLog((lastIndex + 1) as LogIndex);
    // Everything up to the storage's snapshot is committed and applied by definition.
    this.committed = (firstIndex - 1) as LogIndex;
    this.applied = (firstIndex - 1) as LogIndex;
  }

  firstIndex(): LogIndex {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): LogIndex {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): Term {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, () => `last term: unknown for lastIndex ${this.lastIndex()}`);
    return term;
  }

  /** The term at index, or undefined when the index is compacted or beyond the log. */
  term(index: LogIndex): Term | undefined {
    // firstIndex - 1 is still known: it is the snapshot's index.
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== undefined) return unstableTerm;
    try {
      return this.storage.term(index);
    } catch (error) {
      if (error instanceof StorageError && (error.code === StorageErrorCode.Compacted || error.code === StorageErrorCode.Unavailable)) {
        return undefined;
      }
      throw error;
    }
  }

  matchTerm(index: LogIndex, term: Term): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: LogIndex, lastTerm: Term): boolean {
    const ourLastTerm = this.lastTerm();
    return lastTerm > ourLastTerm || (lastTerm === ourLastTerm && lastIndex >= this.lastIndex());
  }

  /**
   * A follower's append: if our entry at index has term logTerm, add entries (replacing
   * a conflicting suffix) and commit up to min(committed, last new index). Returns the
   * last new index, or undefined when the logs do not match at index (§5.3).
   */
  maybeAppend(index: LogIndex, logTerm: Term, committed: LogIndex, entries: readonly Entry[]): LogIndex | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNewIndex = (index + entries.length) as LogIndex;
    const conflictIndex = this.findConflict(entries);
    if (conflictIndex !== undefined) {
      assert(conflictIndex > this.committed, () => `append: entry ${conflictIndex} conflicts with the committed log: committed=${this.committed}`);
      this.append(entries.slice(conflictIndex - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNewIndex) as LogIndex);
    return lastNewIndex;
  }

  /** Appends entries after the log (or over an uncommitted suffix); returns the new last index. */
  append(entries: readonly Entry[]): LogIndex {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0].index - 1;
    assert(after >= this.committed, () => `append: would overwrite committed entries: after=${after} committed=${this.committed}`);
    assert(after <= this.lastIndex(), () => `append: gap after lastIndex ${this.lastIndex()}: first new index ${entries[0].index}`);
    for (let position = 1; position < entries.length; position++) {
      assert(entries[position].index === entries[position - 1].index + 1, 'append: entries are not contiguous');
    }
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /**
   * The index of the first entry that is new or whose term differs from ours, or
   * undefined when we already hold all of them.
   */
  findConflict(entries: readonly Entry[]): LogIndex | undefined {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return undefined;
  }

  /**
   * Fast back-off: the largest index <= index whose term is <= term, with that term (0
   * when unknown). A follower puts it in a reject hint; the leader uses it to skip a
   * whole term of mismatching entries per round trip instead of one entry.
   */
  findConflictByTerm(index: LogIndex, term: Term): { index: LogIndex; term: Term } {
    let candidate = index;
    for (;;) {
      const candidateTerm = this.term(candidate);
      if (candidateTerm === undefined) return { index: candidate, term: 0 as Term };
      if (candidateTerm <= term) return { index: candidate, term: candidateTerm };
      candidate = (candidate - 1) as LogIndex;
    }
  }

  commitTo(index: LogIndex): void {
    if (index <= this.committed) return; // commit never decreases
    assert(index <= this.lastIndex(), () => `commit: ${index} is beyond lastIndex ${this.lastIndex()}`);
    this.committed = index;
  }

  /**
   * §5.4.2: the leader commits maxIndex only if its entry there is of the current term;
   * earlier entries then commit with it (Log Matching).
   */
  maybeCommit(maxIndex: LogIndex, currentTerm: Term): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === currentTerm) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  appliedTo(index: LogIndex): void {
    assert(index <= this.committed, () => `applied: ${index} is beyond committed ${this.committed}`);
    if (index < this.applied) return;
    this.applied = index;
  }

  /** Entries [low, high) with at most bytesMax bytes (at least one). Throws StorageError Compacted below firstIndex. */
  slice(low: LogIndex, high: LogIndex, bytesMax: number): Entry[] {
    if (low === high) return [];
    const firstIndex = this.firstIndex();
    if (low < firstIndex) {
      throw new StorageError(StorageErrorCode.Compacted, `slice log: ${low} is compacted: firstIndex=${firstIndex}`);
    }
    assert(low < high && high <= this.lastIndex() + 1, () => `slice log: [${low}, ${high}) out of bounds: lastIndex=${this.lastIndex()}`);
    const unstableOffset = this.unstable.offset;
    let result: Entry[] = [];
    if (low < unstableOffset) {
      const storageHigh = Math.min(high, unstableOffset) as LogIndex;
      result = this.storage.entries(low, storageHigh, bytesMax);
      // Storage stopped early because of the byte limit: do not add unstable entries after a gap.
      if (result.length < storageHigh - low) return result;
    }
    if (high > unstableOffset) {
      const unstablePart = this.unstable.slice(Math.max(low, unstableOffset) as LogIndex, high);
      result = result.length === 0 ? unstablePart : result.concat(unstablePart);
    }
    return limitEntriesToBytes(result, bytesMax);
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  pendingSnapshot(): Snapshot | undefined {
    return this.unstable.snapshot;
  }

  /** Where the next committed entries to apply start: never inside a snapshot. */
  private applyStart(): LogIndex {
    return Math.max(this.applied + 1, this.firstIndex()) as LogIndex;
  }

  hasNextCommittedEntries(): boolean {
    // A snapshot waiting to be applied comes first; entries after it wait for the next Ready.
    if (this.unstable.snapshot !== undefined) return false;
    return this.committed >= this.applyStart();
  }

  nextCommittedEntries(): Entry[] {
    if (!this.hasNextCommittedEntries()) return [];
    return this.slice(this.applyStart(), (this.committed + 1) as LogIndex, this.readyCommittedBytesMax);
  }

  /** Are there membership changes committed but not applied? A replica must not campaign on a stale membership. */
  hasUnappliedConfChanges(pageBytesMax: number): boolean {
    let low = this.applyStart();
    const high = (this.committed + 1) as LogIndex;
    while (low < high) {
      const page = this.slice(low, high, pageBytesMax);
      if (page.some((entry) => entry.type === EntryType.ConfChange)) return true;
      low = (low + page.length) as LogIndex;
    }
    return false;
  }

  /** Replaces the log with a snapshot: everything up to it is committed. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.metadata.index > this.committed, () => `restore: snapshot ${snapshot.metadata.index} is not beyond committed ${this.committed}`);
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** Status and tests: every entry from firstIndex to lastIndex. */
  allEntries(): Entry[] {
    return this.slice(this.firstIndex(), (this.lastIndex() + 1) as LogIndex, Number.MAX_SAFE_INTEGER);
  }
}
