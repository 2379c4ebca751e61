import { assert } from './assert.js';
import type { Entry, LogIndex, Snapshot, Term } from './types.js';

/**
 * The part of the log the host has not persisted yet: maybe a snapshot, then entries
 * from offset on. Ready hands all of it out; advance() trims what was persisted.
 */
export class UnstableLog {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  /** Index of entries[0] (or where the next entry would go). */
  offset: LogIndex;

  constructor(offset: LogIndex) {
    this.offset = offset;
  }

  /** The first log index when a snapshot is pending, else unknown here. */
  maybeFirstIndex(): LogIndex | undefined {
    return this.snapshot === undefined ? undefined : ((this.snapshot.metadata.index + 1) as LogIndex);
  }

  maybeLastIndex(): LogIndex | undefined {
    if (this.entries.length > 0) return (this.offset + this.entries.length - 1) as LogIndex;
    return this.snapshot?.metadata.index;
  }

  maybeTerm(index: LogIndex): Term | undefined {
    if (index < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === index) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || index > last) return undefined;
    return this.entries[index - this.offset].term;
  }

  /** The host persisted entries up to index (with that term): forget them here. */
  stableTo(index: LogIndex, term: Term): void {
    // A mismatch means the suffix was replaced after the Ready was taken; the new
    // entries are still unstable and go out in the next Ready.
    if (this.maybeTerm(index) !== term || index < this.offset) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = (index + 1) as LogIndex;
  }

  stableSnapshotTo(index: LogIndex): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === index) this.snapshot = undefined;
  }

  restore(snapshot: Snapshot): void {
    this.offset = (snapshot.metadata.index + 1) as LogIndex;
    this.entries = [];
    this.snapshot = snapshot;
  }

  /** Appends entries, replacing any unstable suffix they overlap. */
  truncateAndAppend(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const after = entries[0].index;
    if (after === this.offset + this.entries.length) {
      this.entries.push(...entries);
    } else if (after <= this.offset) {
      // Replaces everything unstable; the host's storage truncates its own suffix from
      // `after` when it appends these.
      this.offset = after;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(entries);
    }
  }

  /** Unstable entries [low, high). */
  slice(low: LogIndex, high: LogIndex): Entry[] {
    const last = this.offset + this.entries.length;
    assert(this.offset <= low && low <= high && high <= last, () => `unstable slice: [${low}, ${high}) out of [${this.offset}, ${last})`);
    return this.entries.slice(low - this.offset, high - this.offset);
  }
}
