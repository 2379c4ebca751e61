import type { ConfState, Entry, HardState, LogIndex, Snapshot, Term } from './types.js';

export enum StorageErrorCode {
  /** The index is at or below the last compaction; use the snapshot instead. */
  Compacted = 'RAFT_STORAGE_COMPACTED',
  /** The index is beyond the last stored entry. */
  Unavailable = 'RAFT_STORAGE_UNAVAILABLE',
  /** The snapshot offered is not newer than the one stored. */
  SnapshotOutOfDate = 'RAFT_STORAGE_SNAPSHOT_OUT_OF_DATE',
  /** A snapshot is being produced; the leader will retry later. */
  SnapshotTemporarilyUnavailable = 'RAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE',
}

export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface InitialState {
  readonly hardState: HardState;
  /** The membership as of RaftConfig.applied (or as of the snapshot when nothing else was applied). */
  readonly confState: ConfState;
}

/**
 * What the Raft core reads of the persisted log. Synchronous on purpose: the core is a
 * pure state machine; the host persists Ready batches and then calls advance().
 *
 * The log is the snapshot (everything up to firstIndex - 1) followed by the entries
 * firstIndex..lastIndex. term(firstIndex - 1) must still answer (the snapshot's term).
 */
export interface Storage {
  initialState(): InitialState;
  /** Entries [low, high), at most bytesMax entry bytes but at least one entry. Throws StorageError Compacted when low < firstIndex. */
  entries(low: LogIndex, high: LogIndex, bytesMax: number): Entry[];
  /** Throws StorageError Compacted below firstIndex - 1 and Unavailable above lastIndex. */
  term(index: LogIndex): Term;
  firstIndex(): LogIndex;
  lastIndex(): LogIndex;
  /** The most recent snapshot. May throw StorageError SnapshotTemporarilyUnavailable. */
  snapshot(): Snapshot;
}
