// Recovery's model of every group: the records of all segments applied in log order give
// each group its last hard state, its snapshot point and its entries.
import { AtollError, StatusCode, assert } from '../errors/index.js';
import type { Entry, HardState, LogIndex, Term } from '../raft/index.js';
import { emptyHardState } from '../raft/index.js';
import { RecordType } from './format.js';
import type { WalRecord } from './record.js';

export interface RecoveredGroup {
  /** The last hard state written; the empty one if none was. */
  readonly hardState: HardState;
  /** The last snapshot mark: entries at or below it are gone. */
  readonly snapshot: { readonly index: LogIndex; readonly term: Term } | null;
  /** The log above the snapshot, contiguous, as the last appends left it. */
  readonly entries: Entry[];
}

class GroupReplay {
  hardState: HardState = emptyHardState;
  snapshot: { index: LogIndex; term: Term } | null = null;
  entries: Entry[] = [];
  /**
   * The log lacks the entries in (snapshot index, missingBelow]: an append arrived that
   * did not follow what the replay holds. That is normal when older segments were
   * deleted (a snapshot mark covered their entries), and by the end a snapshot mark must
   * cover the hole, or a mark that replaced the whole log must have come after it: else
   * a segment is missing.
   */
  missingBelow = 0;

  appendEntry(entry: Entry): void {
    const snapshotIndex = this.snapshot?.index ?? 0;
    if (entry.index <= snapshotIndex) return;
    const entries = this.entries;
    const first = entries.length > 0 ? entries[0]!.index : snapshotIndex + 1;
    const last = entries.length > 0 ? entries[entries.length - 1]!.index : snapshotIndex;
    if (entry.index >= first && entry.index <= last + 1) {
      // A later append at index i supersedes everything at i and above (Raft's conflict rule).
      entries.length = entry.index - first;
      entries.push(entry);
    } else {
      // The append replaces the log from entry.index on, so only the hole below it matters.
      this.missingBelow = entry.index - 1;
      this.entries = [entry];
    }
  }

  markSnapshot(index: number, term: number, keepsEntriesAbove: boolean, where: () => string): void {
    const previous = this.snapshot?.index ?? 0;
    if (index < previous) throw new AtollError(StatusCode.INTERNAL, `${where()}: snapshot mark at ${index} goes back from ${previous}`);
    if (keepsEntriesAbove && this.entries.length > 0) {
      const first = this.entries[0]!.index;
      const entryAtIndex = index >= first ? this.entries[index - first] : undefined;
      if (entryAtIndex !== undefined && entryAtIndex.term !== term) {
        throw new AtollError(StatusCode.INTERNAL, `${where()}: snapshot mark (${index}, term ${term}) keeps the log, whose entry ${index} has term ${entryAtIndex.term}`);
      }
      this.entries = this.entries.slice(Math.max(0, Math.min(this.entries.length, index - first + 1)));
    } else {
      this.entries = [];
    }
    // The snapshot covers the hole, or (a mark that replaced the log) made it irrelevant.
    if (!keepsEntriesAbove || index >= this.missingBelow) this.missingBelow = 0;
    this.snapshot = { index: index as LogIndex, term: term as Term };
  }
}

export class LogReplay {
  private readonly groups = new Map<number, GroupReplay>();

  /** Applies one record; `where` names its file and frame offset for error messages. */
  apply(record: WalRecord, where: () => string): void {
    if (record.type === RecordType.GroupRemoved) {
      this.groups.delete(record.groupId);
      return;
    }
    let group = this.groups.get(record.groupId);
    if (group === undefined) {
      group = new GroupReplay();
      this.groups.set(record.groupId, group);
    }
    switch (record.type) {
      case RecordType.Entry:
        group.appendEntry(record.entry);
        return;
      case RecordType.HardState:
        group.hardState = record.hardState;
        return;
      case RecordType.SnapshotMark:
        group.markSnapshot(record.index, record.term, record.keepsEntriesAbove, where);
        return;
    }
    assert(false, 'log replay: unhandled record type');
  }

  /** Every group not removed. Throws when a group's log has a hole no snapshot covers. */
  finish(): Map<number, RecoveredGroup> {
    const recovered = new Map<number, RecoveredGroup>();
    for (const [groupId, group] of [...this.groups].sort((left, right) => left[0] - right[0])) {
      const snapshotIndex = group.snapshot?.index ?? 0;
      if (group.missingBelow > snapshotIndex) {
        throw new AtollError(
          StatusCode.INTERNAL,
          `recover write-ahead log: group ${groupId}: entries below index ${group.missingBelow + 1} are missing and its snapshot mark (${snapshotIndex}) does not cover them: a segment was lost`,
        );
      }
      recovered.set(groupId, { hardState: group.hardState, snapshot: group.snapshot, entries: group.entries });
    }
    return recovered;
  }
}
