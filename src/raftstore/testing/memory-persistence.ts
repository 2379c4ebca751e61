// Test support: a RaftPersistence that keeps, per group, what a real log would have made
// durable, and counts syncs. `recover()` gives what a restart would find: only what was
// synced.
import type { ConfState, Entry, HardState } from '../../raft/index.js';
import type { RecoveredGroupState } from '../raft-group.js';
import type { GroupId, RaftPersistence } from '../types.js';

interface GroupRecord {
  hardState: HardState | null;
  entries: Entry[];
  snapshot: { index: number; term: number; confState: ConfState; data: Uint8Array } | null;
}

export class MemoryPersistence implements RaftPersistence {
  syncs = 0;
  private readonly durable = new Map<GroupId, GroupRecord>();
  private pending: Array<(groups: Map<GroupId, GroupRecord>) => void> = [];

  appendEntries(groupId: GroupId, entries: readonly Entry[]): void {
    const copy = entries.map((entry) => ({ ...entry }));
    this.pending.push((groups) => {
      const record = recordOf(groups, groupId);
      const first = copy[0]!.index;
      // A later append at index i replaces everything from i on (Raft log truncation).
      record.entries = record.entries.filter((entry) => entry.index < first).concat(copy);
    });
  }

  setHardState(groupId: GroupId, hardState: HardState): void {
    this.pending.push((groups) => (recordOf(groups, groupId).hardState = hardState));
  }

  async saveSnapshot(groupId: GroupId, snapshot: { index: number; term: number; confState: ConfState; data: Uint8Array }): Promise<void> {
    const record = recordOf(this.durable, groupId);
    if (record.snapshot !== null && record.snapshot.index >= snapshot.index) return;
    record.snapshot = snapshot;
    record.entries = record.entries.filter((entry) => entry.index > snapshot.index);
  }

  removeGroup(groupId: GroupId): void {
    this.pending.push((groups) => groups.delete(groupId));
  }

  async sync(): Promise<void> {
    this.syncs += 1;
    const pending = this.pending;
    this.pending = [];
    for (const write of pending) write(this.durable);
  }

  // The entries synced so far (unlike recover(), leaves unsynced writes alone).
  durableEntries(groupId: GroupId): readonly Entry[] {
    return this.durable.get(groupId)?.entries ?? [];
  }

  // What a restart finds: unsynced writes are lost.
  recover(groupId: GroupId): RecoveredGroupState | undefined {
    this.pending = [];
    const record = this.durable.get(groupId);
    if (record === undefined) return undefined;
    return {
      hardState: record.hardState ?? { term: 0, vote: 0, commit: 0 },
      snapshot: record.snapshot,
      entries: record.entries.filter((entry) => record.snapshot === null || entry.index > record.snapshot.index),
    };
  }
}

function recordOf(groups: Map<GroupId, GroupRecord>, groupId: GroupId): GroupRecord {
  let record = groups.get(groupId);
  if (record === undefined) {
    record = { hardState: null, entries: [], snapshot: null };
    groups.set(groupId, record);
  }
  return record;
}
