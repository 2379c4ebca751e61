// The host's persistence on the instance's shared write-ahead log and snapshot store.
// Recovery turns what the log and the snapshot files hold into each group's starting
// state: the newest intact snapshot, the entries after it, and the last hard state.
import type { Disk } from '../disk/index.js';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import type { ConfState, Entry, HardState, LogIndex, NodeId, Term } from '../raft/index.js';
import { SnapshotStore, WriteAheadLog, type WalLimits } from '../wal/index.js';
import type { RecoveredGroupState } from './raft-group.js';
import type { GroupId, RaftPersistence } from './types.js';

export class WalPersistence implements RaftPersistence {
  private readonly snapshotRemovals = new Set<GroupId>();

  constructor(
    private readonly wal: WriteAheadLog,
    private readonly snapshots: SnapshotStore,
  ) {}

  appendEntries(groupId: GroupId, entries: readonly Entry[]): void {
    this.wal.appendEntries(groupId, entries);
  }

  setHardState(groupId: GroupId, hardState: HardState): void {
    this.wal.setHardState(groupId, hardState);
  }

  // The snapshot file is durable before the log records its mark: a crash in between
  // leaves a snapshot newer than the mark, which recovery accepts (see below).
  async saveSnapshot(groupId: GroupId, snapshot: { index: number; term: number; confState: ConfState; data: Uint8Array }): Promise<void> {
    await this.snapshots.save(groupId, { index: snapshot.index as LogIndex, term: snapshot.term as Term, confState: snapshot.confState }, snapshot.data);
    this.wal.markSnapshot(groupId, snapshot.index, snapshot.term);
  }

  removeGroup(groupId: GroupId): void {
    this.wal.removeGroup(groupId);
    // The snapshot files go only once the log's removal record is durable: deleted
    // before it, a crash would leave a log that still holds the group and marks a
    // snapshot that no longer exists (the simulator found this).
    this.snapshotRemovals.add(groupId);
  }

  async sync(): Promise<void> {
    await this.wal.sync();
    if (this.snapshotRemovals.size === 0) return;
    const removals = [...this.snapshotRemovals];
    this.snapshotRemovals.clear();
    for (const groupId of removals) await this.snapshots.remove(groupId);
  }

  close(): Promise<void> {
    return this.wal.close();
  }

  stats(): ReturnType<WriteAheadLog['stats']> {
    return this.wal.stats();
  }
}

export async function openWalPersistence(disk: Disk, dir: string, limits: Partial<WalLimits> = {}): Promise<{ persistence: WalPersistence; recovered: Map<GroupId, RecoveredGroupState> }> {
  const { wal, recovered: logs } = await WriteAheadLog.open(disk, dir, limits);
  const snapshots = new SnapshotStore(disk, dir);
  const recovered = new Map<GroupId, RecoveredGroupState>();
  for (const [groupId, log] of logs) {
    let snapshot: RecoveredGroupState['snapshot'] = null;
    const loaded = await snapshots.load(groupId);
    if (log.snapshot !== null && (loaded === null || loaded.metadata.index < log.snapshot.index)) {
      const found = loaded === null ? 'none' : `index ${loaded.metadata.index}`;
      const skipped = loaded === null ? '' : loaded.skipped.map((file) => `${file.path}: ${file.reason}`).join('; ');
      throw new AtollError(StatusCode.INTERNAL, `group ${groupId}: the log marks a snapshot at index ${log.snapshot.index} but no snapshot file that recent is intact in ${dir} (newest intact: ${found}${skipped === '' ? '' : `; skipped ${skipped}`})`);
    }
    if (loaded !== null) {
      snapshot = {
        index: loaded.metadata.index,
        term: loaded.metadata.term,
        confState: { voters: [...loaded.metadata.confState.voters] as NodeId[], learners: [...loaded.metadata.confState.learners] as NodeId[] },
        data: loaded.data,
      };
    }
    const snapshotIndex = snapshot?.index ?? 0;
    // A snapshot is only ever taken of committed state, so the commit index is at least
    // its index even when the hard state that said so was not synced before a crash.
    const hardState = {
      term: Math.max(log.hardState.term, snapshot?.term ?? 0),
      vote: log.hardState.vote,
      commit: Math.max(log.hardState.commit, snapshotIndex),
    };
    const entries = log.entries.filter((entry) => entry.index > snapshotIndex);
    if (entries.length > 0 && entries[0]!.index !== snapshotIndex + 1 && snapshot !== null) {
      throw new AtollError(StatusCode.INTERNAL, `group ${groupId}: the log resumes at index ${entries[0]!.index} after a snapshot at ${snapshotIndex}`);
    }
    recovered.set(groupId, { hardState, snapshot, entries });
  }
  return { persistence: new WalPersistence(wal, snapshots), recovered };
}
