// Limits of the multi-raft host, units last.
export interface RaftHostLimits {
  // A proposal or read not done within this many ticks fails with TIMEOUT (its outcome
  // is then unknown to the caller).
  readonly requestTimeoutTicks: number;
  readonly pendingProposalsMax: number;
  // A group takes a snapshot once it has applied this many entries since the last one.
  readonly snapshotEntriesMin: number;
  // Entries kept in the log behind a snapshot, for followers that lag a little.
  readonly entriesKeptAfterSnapshot: number;
  // Ready cycles in one run before the host yields to other work.
  readonly cyclesPerRunMax: number;
}

export const raftHostLimitsDefault: RaftHostLimits = Object.freeze({
  requestTimeoutTicks: 50,
  pendingProposalsMax: 10_000,
  snapshotEntriesMin: 10_000,
  entriesKeptAfterSnapshot: 1_000,
  cyclesPerRunMax: 64,
});
