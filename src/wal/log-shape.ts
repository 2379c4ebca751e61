// The shape of one group's log as the WAL has been told it: the snapshot point, the last
// index, and the term of every index as runs of equal terms (a log has few terms, so this
// is small even for a long log). It is what lets the WAL check appends for gaps and
// decide whether a snapshot mark keeps the entries above it, without holding entries.
import { assert } from '../errors/index.js';
import type { Entry } from '../raft/index.js';

export class LogShape {
  snapshotIndex = 0;
  snapshotTerm = 0;
  /** The last index of the log; equals snapshotIndex when no entry follows the snapshot. */
  lastIndex = 0;
  /** Indexes runStarts[i] up to the next start (or lastIndex) have term runTerms[i]. */
  private readonly runStarts: number[] = [];
  private readonly runTerms: number[] = [];

  static of(snapshot: { index: number; term: number } | null, entries: readonly Entry[]): LogShape {
    const shape = new LogShape();
    if (snapshot !== null) {
      shape.snapshotIndex = snapshot.index;
      shape.snapshotTerm = snapshot.term;
      shape.lastIndex = snapshot.index;
    }
    if (entries.length > 0) shape.append(entries);
    return shape;
  }

  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex) return undefined;
    // The last run starting at or below index.
    let low = 0;
    let high = this.runStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.runStarts[middle]! <= index) low = middle;
      else high = middle - 1;
    }
    return this.runTerms[low];
  }

  /**
   * Entries of one append, contiguous. Those at or below the snapshot are ignored (as
   * MemoryStorage.append does); the first one above replaces the log from its index on.
   */
  append(entries: readonly Entry[]): void {
    let start = 0;
    while (start < entries.length && entries[start]!.index <= this.snapshotIndex) start++;
    if (start === entries.length) return;
    const first = entries[start]!.index;
    assert(first <= this.lastIndex + 1, () => `append entries: gap: first new index ${first}, last index ${this.lastIndex}`);
    while (this.runStarts.length > 0 && this.runStarts[this.runStarts.length - 1]! >= first) {
      this.runStarts.pop();
      this.runTerms.pop();
    }
    for (let position = start; position < entries.length; position++) {
      const entry = entries[position]!;
      const runs = this.runTerms.length;
      if (runs === 0 || this.runTerms[runs - 1] !== entry.term) {
        this.runStarts.push(entry.index);
        this.runTerms.push(entry.term);
      }
    }
    this.lastIndex = entries[entries.length - 1]!.index;
  }

  /**
   * Moves the snapshot point. When the log holds (index, term) the entries above stay (the
   * application compacted its own log); otherwise the snapshot replaced the log (one
   * received from the leader) and everything goes, as in Raft's restore. Returns which.
   */
  markSnapshot(index: number, term: number): boolean {
    assert(index >= this.snapshotIndex, () => `mark snapshot: index ${index} is below the current snapshot ${this.snapshotIndex}`);
    const keepsEntriesAbove = this.termAt(index) === term;
    if (keepsEntriesAbove) {
      let dropped = 0;
      while (dropped + 1 < this.runStarts.length && this.runStarts[dropped + 1]! <= index + 1) dropped++;
      this.runStarts.splice(0, dropped);
      this.runTerms.splice(0, dropped);
      if (index >= this.lastIndex) {
        this.runStarts.length = 0;
        this.runTerms.length = 0;
      } else if (this.runStarts.length > 0 && this.runStarts[0]! <= index) {
        this.runStarts[0] = index + 1;
      }
    } else {
      this.runStarts.length = 0;
      this.runTerms.length = 0;
      this.lastIndex = index;
    }
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    return keepsEntriesAbove;
  }
}
