/**
 * Every bound of the Raft core, named with its unit last. Ticks are abstract: the host
 * decides how long a tick is (for example 100 ms).
 */
export interface RaftLimits {
  /** A follower that hears no leader for this many ticks (randomized up to twice) campaigns; a leader checks its quorum this often. */
  readonly electionTicks: number;
  /** A leader sends heartbeats every this many ticks. */
  readonly heartbeatTicks: number;
  /** Append messages carrying entries that may be unacknowledged per follower. */
  readonly inflightMessagesMax: number;
  /** Entry bytes that may be unacknowledged per follower. */
  readonly inflightBytesMax: number;
  /** Entry bytes per Append message (one larger entry is still sent alone). */
  readonly messageBytesMax: number;
  /** Payload bytes the leader accepts in proposals that are not committed yet; beyond it proposals are dropped. */
  readonly uncommittedBytesMax: number;
  /** Entry bytes handed to the application to apply in one Ready. */
  readonly readyCommittedBytesMax: number;
  /** Read-index requests waiting at a leader for confirmation or for its first commit. */
  readonly readIndexRequestsMax: number;
}

const mebibyte = 1024 * 1024;

export const raftLimitsDefault: Readonly<RaftLimits> = Object.freeze({
  electionTicks: 10,
  heartbeatTicks: 1,
  inflightMessagesMax: 256,
  inflightBytesMax: 32 * mebibyte,
  messageBytesMax: 1 * mebibyte,
  uncommittedBytesMax: 64 * mebibyte,
  readyCommittedBytesMax: 64 * mebibyte,
  readIndexRequestsMax: 4096,
});

/**
 * Fills defaults and checks the limits against each other. Throws RangeError naming the
 * limit: a bad configuration is refused at start, not discovered under load.
 */
export function buildRaftLimits(overrides: Partial<RaftLimits> = {}): RaftLimits {
  const limits: RaftLimits = { ...raftLimitsDefault, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`build raft limits: ${name} must be a positive safe integer: ${value}`);
    }
  }
  const refuse = (reason: string): never => {
    throw new RangeError(`build raft limits: ${reason}`);
  };
  if (limits.electionTicks <= limits.heartbeatTicks) {
    // Followers would time out between two heartbeats of a healthy leader.
    refuse(`electionTicks must exceed heartbeatTicks: electionTicks=${limits.electionTicks} heartbeatTicks=${limits.heartbeatTicks}`);
  }
  if (!Number.isSafeInteger(limits.electionTicks * 2)) {
    refuse(`electionTicks is too large to randomize: ${limits.electionTicks}`);
  }
  if (limits.inflightBytesMax < limits.messageBytesMax) {
    // One full message must fit in the window, or replication would crawl one entry at a time.
    refuse(`inflightBytesMax must be at least messageBytesMax: inflightBytesMax=${limits.inflightBytesMax} messageBytesMax=${limits.messageBytesMax}`);
  }
  if (limits.uncommittedBytesMax < limits.messageBytesMax) {
    refuse(`uncommittedBytesMax must be at least messageBytesMax: uncommittedBytesMax=${limits.uncommittedBytesMax} messageBytesMax=${limits.messageBytesMax}`);
  }
  if (limits.readyCommittedBytesMax < limits.messageBytesMax) {
    // Otherwise applying could fall behind what one Append message commits.
    refuse(`readyCommittedBytesMax must be at least messageBytesMax: readyCommittedBytesMax=${limits.readyCommittedBytesMax} messageBytesMax=${limits.messageBytesMax}`);
  }
  return Object.freeze(limits);
}
