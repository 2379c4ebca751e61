// What each segment holds of each group, and what of it is still needed, counting only
// durable records. Segments are deleted oldest first, so a record in the oldest segment
// is obsolete when a durable record elsewhere makes it so:
// - an entry: the group's durable snapshot mark is at or above it, or a durable mark that
//   replaced the whole log (a snapshot from the leader) came after it;
// - a hard state or a snapshot mark: a newer one of the group lies in a later segment;
// - anything: the group was removed after it.
// Deleting only the oldest keeps the rest contiguous, so recovery can prove no segment in
// the middle went missing, and a conflicting append (which supersedes entries of older
// segments) is never separated from what it supersedes.
import { assert } from '../errors/index.js';
import { RecordType } from './format.js';
import type { RecordNote } from './frame-builder.js';

/** One group's records in one segment. */
interface GroupUsage {
  maxEntryIndex: number;
  lastEntrySequence: number;
  lastSequence: number;
  hasHardState: boolean;
  hasSnapshotMark: boolean;
}

/** One group's durable state as far as obsolescence goes. */
interface DurableGroup {
  snapshotIndex: number;
  snapshotMarkSequence: number;
  hardStateSequence: number;
  removedAtSequence: number;
  entriesDroppedBeforeSequence: number;
}

export class LedgerSegment {
  readonly usage = new Map<number, GroupUsage>();
  /** One past the sequence of its last durable record. */
  endSequence: number;
  bytes = 0;

  constructor(
    readonly path: string,
    readonly firstSequence: number,
  ) {
    this.endSequence = firstSequence;
  }
}

export interface OldestSegmentVerdict {
  readonly deletable: boolean;
  /** Groups whose latest hard state lies in the oldest segment while their entries there are obsolete. */
  readonly hardStatePins: number[];
  /** Likewise for the latest snapshot mark. */
  readonly snapshotMarkPins: number[];
  /** Groups whose live entries keep the oldest segment: they need a snapshot. */
  readonly entryPins: number[];
}

function freshDurableGroup(): DurableGroup {
  return { snapshotIndex: 0, snapshotMarkSequence: -1, hardStateSequence: -1, removedAtSequence: -1, entriesDroppedBeforeSequence: -1 };
}

function freshUsage(sequence: number): GroupUsage {
  return { maxEntryIndex: -1, lastEntrySequence: -1, lastSequence: sequence, hasHardState: false, hasSnapshotMark: false };
}

export class CompactionLedger {
  /** Oldest first; the last one is the segment being appended to. */
  readonly segments: LedgerSegment[] = [];
  private readonly groups = new Map<number, DurableGroup>();

  addSegment(segment: LedgerSegment): void {
    const last = this.segments[this.segments.length - 1];
    assert(last === undefined || last.endSequence === segment.firstSequence, () => `compaction ledger: segment ${segment.path} starts at ${segment.firstSequence}, the previous ends at ${last!.endSequence}`);
    this.segments.push(segment);
  }

  get activeSegment(): LedgerSegment {
    assert(this.segments.length > 0, 'compaction ledger: no segment');
    return this.segments[this.segments.length - 1]!;
  }

  /** Takes note of a record that is now durable in the active segment. */
  noteDurable(note: RecordNote): void {
    const segment = this.activeSegment;
    assert(note.sequence === segment.endSequence, () => `compaction ledger: record ${note.sequence} out of order, expected ${segment.endSequence}`);
    segment.endSequence = note.sequence + 1;
    let group = this.groups.get(note.groupId);
    if (group === undefined) {
      group = freshDurableGroup();
      this.groups.set(note.groupId, group);
    }
    let usage = segment.usage.get(note.groupId);
    if (usage === undefined) {
      usage = freshUsage(note.sequence);
      segment.usage.set(note.groupId, usage);
    }
    usage.lastSequence = note.sequence;
    switch (note.type) {
      case RecordType.Entry:
        usage.maxEntryIndex = Math.max(usage.maxEntryIndex, note.index);
        usage.lastEntrySequence = note.sequence;
        return;
      case RecordType.HardState:
        usage.hasHardState = true;
        group.hardStateSequence = note.sequence;
        return;
      case RecordType.SnapshotMark:
        usage.hasSnapshotMark = true;
        group.snapshotIndex = note.index;
        group.snapshotMarkSequence = note.sequence;
        if (!note.keepsEntriesAbove) {
          group.entriesDroppedBeforeSequence = note.sequence;
          // Entries earlier in this segment are dropped by this very mark.
          usage.maxEntryIndex = -1;
          usage.lastEntrySequence = -1;
        }
        return;
      case RecordType.GroupRemoved: {
        const removed = freshDurableGroup();
        removed.removedAtSequence = note.sequence;
        this.groups.set(note.groupId, removed);
        // Earlier records of the group in this segment are obsolete by this removal.
        segment.usage.set(note.groupId, freshUsage(note.sequence));
        return;
      }
    }
  }

  /** Whether the oldest segment may go, and if not, which groups hold it and how. */
  judgeOldest(): OldestSegmentVerdict {
    const hardStatePins: number[] = [];
    const snapshotMarkPins: number[] = [];
    const entryPins: number[] = [];
    const segment = this.segments[0];
    if (segment === undefined || this.segments.length === 1) {
      // The active segment is never deleted: the next record goes there.
      return { deletable: false, hardStatePins, snapshotMarkPins, entryPins };
    }
    for (const [groupId, usage] of segment.usage) {
      const group = this.groups.get(groupId)!;
      if (group.removedAtSequence >= usage.lastSequence) continue;
      const entriesObsolete =
        usage.maxEntryIndex < 0 || usage.maxEntryIndex <= group.snapshotIndex || usage.lastEntrySequence < group.entriesDroppedBeforeSequence;
      if (!entriesObsolete) {
        entryPins.push(groupId);
        continue;
      }
      if (usage.hasHardState && group.hardStateSequence < segment.endSequence) hardStatePins.push(groupId);
      if (usage.hasSnapshotMark && group.snapshotMarkSequence < segment.endSequence) snapshotMarkPins.push(groupId);
    }
    const deletable = entryPins.length === 0 && hardStatePins.length === 0 && snapshotMarkPins.length === 0;
    return { deletable, hardStatePins, snapshotMarkPins, entryPins };
  }

  /** Forgets the oldest segment (its file is deleted) and groups nothing refers to any more. */
  dropOldest(): LedgerSegment {
    assert(this.segments.length > 1, 'compaction ledger: the active segment is never dropped');
    const dropped = this.segments.shift()!;
    for (const groupId of dropped.usage.keys()) {
      const group = this.groups.get(groupId);
      if (group === undefined || group.removedAtSequence < 0) continue;
      if (!this.segments.some((segment) => segment.usage.has(groupId))) this.groups.delete(groupId);
    }
    return dropped;
  }
}
