// The reference semantics of the log, written the obvious way (a map per group), for
// tests to compare recovery against. It must agree with design.md, not with the code.
import type { Entry, HardState } from '../../raft/index.js';
import { emptyHardState } from '../../raft/index.js';
import type { RecoveredGroup } from '../log-replay.js';

export type ModelOperation =
  | { readonly kind: 'append'; readonly groupId: number; readonly entries: readonly Entry[] }
  | { readonly kind: 'hardState'; readonly groupId: number; readonly hardState: HardState }
  | { readonly kind: 'mark'; readonly groupId: number; readonly index: number; readonly term: number }
  | { readonly kind: 'remove'; readonly groupId: number };

export interface ModelGroup {
  hardState: HardState;
  snapshot: { index: number; term: number } | null;
  entries: Map<number, Entry>;
}

export class WalModel {
  readonly groups = new Map<number, ModelGroup>();

  static fromRecovered(recovered: ReadonlyMap<number, RecoveredGroup>): WalModel {
    const model = new WalModel();
    for (const [groupId, group] of recovered) {
      model.groups.set(groupId, {
        hardState: group.hardState,
        snapshot: group.snapshot === null ? null : { index: group.snapshot.index, term: group.snapshot.term },
        entries: new Map(group.entries.map((entry) => [entry.index as number, entry])),
      });
    }
    return model;
  }

  group(groupId: number): ModelGroup {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { hardState: emptyHardState, snapshot: null, entries: new Map() };
      this.groups.set(groupId, group);
    }
    return group;
  }

  /** The last index of the log: its last entry, else the snapshot's index, else 0. */
  lastIndex(groupId: number): number {
    const group = this.groups.get(groupId);
    if (group === undefined) return 0;
    let last = group.snapshot?.index ?? 0;
    for (const index of group.entries.keys()) last = Math.max(last, index);
    return last;
  }

  apply(operation: ModelOperation): void {
    switch (operation.kind) {
      case 'append': {
        const group = this.group(operation.groupId);
        const snapshotIndex = group.snapshot?.index ?? 0;
        const kept = operation.entries.filter((entry) => entry.index > snapshotIndex);
        if (kept.length === 0) return;
        for (const index of [...group.entries.keys()]) if (index >= kept[0]!.index) group.entries.delete(index);
        for (const entry of kept) group.entries.set(entry.index, entry);
        return;
      }
      case 'hardState':
        this.group(operation.groupId).hardState = operation.hardState;
        return;
      case 'mark': {
        const group = this.group(operation.groupId);
        // No mark yet counts as a snapshot at (0, 0), as in Raft.
        const snapshot = group.snapshot ?? { index: 0, term: 0 };
        const matches =
          (snapshot.index === operation.index && snapshot.term === operation.term) || group.entries.get(operation.index)?.term === operation.term;
        for (const index of [...group.entries.keys()]) if (!matches || index <= operation.index) group.entries.delete(index);
        group.snapshot = { index: operation.index, term: operation.term };
        return;
      }
      case 'remove':
        this.groups.delete(operation.groupId);
        return;
    }
  }

  /** The model in the shape WriteAheadLog.open returns, for deepEqual. */
  expected(): Map<number, RecoveredGroup> {
    const result = new Map<number, RecoveredGroup>();
    for (const groupId of [...this.groups.keys()].sort((left, right) => left - right)) {
      const group = this.groups.get(groupId)!;
      result.set(groupId, {
        hardState: group.hardState,
        snapshot: group.snapshot as RecoveredGroup['snapshot'],
        entries: [...group.entries.values()].sort((left, right) => left.index - right.index),
      });
    }
    return result;
  }
}

/** A plain-data view of recovered groups, so that deepEqual compares values, not classes. */
export function plainGroups(groups: ReadonlyMap<number, RecoveredGroup>): unknown {
  return [...groups].map(([groupId, group]) => ({
    groupId,
    hardState: { term: group.hardState.term, vote: group.hardState.vote, commit: group.hardState.commit },
    snapshot: group.snapshot === null ? null : { index: group.snapshot.index, term: group.snapshot.term },
    entries: group.entries.map((entry) => ({ index: entry.index, term: entry.term, type: entry.type, data: Buffer.from(entry.data).toString('hex') })),
  }));
}
