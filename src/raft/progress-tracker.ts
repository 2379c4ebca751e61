import { assert } from './assert.js';
import { Progress } from './progress.js';
import { VoteResult, isMajority, majorityCommittedIndex, majorityVoteResult } from './quorum.js';
import type { ConfState, LogIndex, NodeId } from './types.js';

/**
 * The current membership (voters and learners), the leader's progress for each member,
 * and the votes of the election in progress. Iteration is always in ascending id order
 * so that every replica and every simulation run behaves identically.
 */
export class ProgressTracker {
  private readonly voterIds = new Set<NodeId>();
  private readonly learnerIds = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  private sortedVoterIds: NodeId[] = [];
  private sortedMemberIds: NodeId[] = [];

  constructor(
    private readonly inflightMessagesMax: number,
    private readonly inflightBytesMax: number,
  ) {}

  voters(): readonly NodeId[] {
    return this.sortedVoterIds;
  }

  /** Voters then learners' union, ascending. */
  members(): readonly NodeId[] {
    return this.sortedMemberIds;
  }

  isVoter(id: NodeId): boolean {
    return this.voterIds.has(id);
  }

  isLearner(id: NodeId): boolean {
    return this.learnerIds.has(id);
  }

  isMember(id: NodeId): boolean {
    return this.voterIds.has(id) || this.learnerIds.has(id);
  }

  confState(): ConfState {
    return { voters: [...this.sortedVoterIds], learners: [...this.learnerIds].sort((left, right) => left - right) };
  }

  /** Replaces the membership (after a snapshot or at start); every member starts probing at next. */
  reset(confState: ConfState, next: LogIndex): void {
    this.voterIds.clear();
    this.learnerIds.clear();
    this.progress.clear();
    for (const id of confState.voters) this.addVoter(id, next);
    for (const id of confState.learners) {
      assert(!this.voterIds.has(id), () => `conf state: ${id} is both voter and learner`);
      this.addLearner(id, next);
    }
    this.refreshSortedIds();
  }

  addVoter(id: NodeId, next: LogIndex): void {
    assert(id !== 0, 'add voter: node id 0 is reserved for nobody');
    if (this.learnerIds.delete(id)) {
      const progress = this.progress.get(id);
      assert(progress !== undefined, () => `promote learner: no progress for ${id}`);
      progress.isLearner = false;
    } else {
      this.progress.set(id, this.newProgress(next, false));
    }
    this.voterIds.add(id);
    this.refreshSortedIds();
  }

  addLearner(id: NodeId, next: LogIndex): void {
    assert(id !== 0, 'add learner: node id 0 is reserved for nobody');
    if (this.voterIds.delete(id)) {
      const progress = this.progress.get(id);
      assert(progress !== undefined, () => `demote voter: no progress for ${id}`);
      progress.isLearner = true;
    } else {
      this.progress.set(id, this.newProgress(next, true));
    }
    this.learnerIds.add(id);
    this.refreshSortedIds();
  }

  remove(id: NodeId): void {
    this.voterIds.delete(id);
    this.learnerIds.delete(id);
    this.progress.delete(id);
    this.votes.delete(id);
    this.refreshSortedIds();
  }

  private newProgress(next: LogIndex, isLearner: boolean): Progress {
    const progress = new Progress(next, this.inflightMessagesMax, this.inflightBytesMax, isLearner);
    // A member just added has not had a chance to answer; do not count it as dead at
    // the next check-quorum or refuse to send it a snapshot.
    progress.recentActive = true;
    return progress;
  }

  private refreshSortedIds(): void {
    const ascending = (left: number, right: number): number => left - right;
    this.sortedVoterIds = [...this.voterIds].sort(ascending);
    this.sortedMemberIds = [...this.voterIds, ...this.learnerIds].sort(ascending);
  }

  /** The highest index replicated on a majority of voters. */
  committed(): LogIndex {
    return majorityCommittedIndex(this.sortedVoterIds, (id) => this.progress.get(id)?.match);
  }

  /** Whether a majority of voters was heard from (recentActive) since the last check. */
  quorumActive(selfId: NodeId): boolean {
    const active = new Set<NodeId>();
    for (const id of this.sortedVoterIds) {
      if (id === selfId || this.progress.get(id)?.recentActive) active.add(id);
    }
    return isMajority(this.sortedVoterIds, active);
  }

  isQuorum(acknowledged: ReadonlySet<NodeId>): boolean {
    return isMajority(this.sortedVoterIds, acknowledged);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records the first vote of id in this election; later ones (duplicates) are ignored. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.sortedVoterIds) {
      const vote = this.votes.get(id);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    }
    return { granted, rejected, result: majorityVoteResult(this.sortedVoterIds, this.votes) };
  }
}
