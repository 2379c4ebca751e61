import type { Random } from '../random/index.js';
import type { RaftLimits } from './limits.js';
import { buildRaftLimits } from './limits.js';
import { ReadOnlyOption } from './read-only.js';
import type { Storage } from './storage.js';
import type { LogIndex, NodeId } from './types.js';

export interface RaftConfig {
  /** This replica's id; not 0. */
  readonly id: NodeId;
  readonly storage: Storage;
  /** Source of election-timeout jitter; seeded in simulations. */
  readonly random: Random;
  /** The last index the application applied before a restart; 0 (default) means replay from the snapshot. */
  readonly applied?: LogIndex;
  readonly limits?: Partial<RaftLimits>;
  /** Ask "would you vote for me?" before raising the term (default true). A partitioned replica then cannot disrupt the group when it returns. */
  readonly preVote?: boolean;
  /** A leader that has not heard from a quorum for an election timeout steps down, and followers with a live leader ignore (pre)votes (default true). */
  readonly checkQuorum?: boolean;
  readonly readOnlyOption?: ReadOnlyOption;
  /** When false the replica votes and follows but never stands for election (default true). See RawNode.setCampaignEnabled. */
  readonly campaignEnabled?: boolean;
  /** When true a follower drops proposals instead of forwarding them to the leader (default false). */
  readonly disableProposalForwarding?: boolean;
  /**
   * When true the leader does not send every follower an Append as soon as its commit
   * index moves (default false): followers learn it from the next Append or heartbeat,
   * at most a heartbeat interval later, and apply that much later. Under load this saves
   * an Append and its answer per follower per commit. Membership changes are still
   * broadcast at once (raft-rs calls this skip_bcast_commit).
   */
  readonly skipCommitBroadcast?: boolean;
  /**
   * Lease reads: how many ticks real time may have run ahead of this replica's ticks
   * since the oldest tick a lease can rest on (an election timeout ago); Infinity when
   * that is not known. Read at every lease read, so it must be cheap. Default: ticks
   * follow real time (0), as in simulation, where time is the ticks.
   */
  readonly leaseClockLagTicks?: () => number;
  /**
   * Deliberate protocol bugs, for the simulator only: it proves it catches a broken rule
   * by running with one of these on. Never set outside simulation (default: none).
   */
  readonly simulationFaults?: RaftSimulationFaults;
}

export interface RaftSimulationFaults {
  /** Grant votes without the §5.4.1 check that the candidate's log is at least as up to date. */
  readonly grantVoteWithoutLogCheck?: boolean;
  /** Grant a second vote in a term to another candidate (breaks §5.2: one vote per term). */
  readonly grantSecondVoteInTerm?: boolean;
}

export interface ResolvedRaftConfig {
  readonly id: NodeId;
  readonly storage: Storage;
  readonly random: Random;
  readonly applied: LogIndex;
  readonly limits: RaftLimits;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly readOnlyOption: ReadOnlyOption;
  readonly campaignEnabled: boolean;
  readonly disableProposalForwarding: boolean;
  readonly skipCommitBroadcast: boolean;
  readonly leaseClockLagTicks: () => number;
  readonly simulationFaults: RaftSimulationFaults;
}

const noClockLag = (): number => 0;

/** Fills defaults and refuses contradictory settings with a RangeError naming them. */
export function resolveRaftConfig(config: RaftConfig): ResolvedRaftConfig {
  if (!Number.isSafeInteger(config.id) || config.id <= 0) {
    throw new RangeError(`build raft config: id must be a positive safe integer: ${config.id}`);
  }
  const applied = config.applied ?? (0 as LogIndex);
  if (!Number.isSafeInteger(applied) || applied < 0) {
    throw new RangeError(`build raft config: applied must be a non-negative safe integer: ${applied}`);
  }
  const checkQuorum = config.checkQuorum ?? true;
  const readOnlyOption = config.readOnlyOption ?? ReadOnlyOption.Safe;
  if (readOnlyOption === ReadOnlyOption.LeaseBased && !checkQuorum) {
    // Without check-quorum a deposed leader keeps believing in its lease.
    throw new RangeError('build raft config: readOnlyOption lease-based requires checkQuorum');
  }
  return {
    id: config.id,
    storage: config.storage,
    random: config.random,
    applied,
    limits: buildRaftLimits(config.limits),
    preVote: config.preVote ?? true,
    checkQuorum,
    readOnlyOption,
    campaignEnabled: config.campaignEnabled ?? true,
    disableProposalForwarding: config.disableProposalForwarding ?? false,
    skipCommitBroadcast: config.skipCommitBroadcast ?? false,
    leaseClockLagTicks: config.leaseClockLagTicks ?? noClockLag,
    simulationFaults: config.simulationFaults ?? {},
  };
}
