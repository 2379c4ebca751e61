import { assert } from './assert.js';
import type { ConfChange } from './conf-change.js';
import { ConfChangeType, decodeConfChange } from './conf-change.js';
import type { RaftConfig, ResolvedRaftConfig } from './config.js';
import { resolveRaftConfig } from './config.js';
import { entriesBytes, entriesPayloadBytes } from './entries.js';
import { RaftError, RaftErrorCode } from './errors.js';
import type { RaftLimits } from './limits.js';
import { RaftLog } from './log.js';
import type { Message } from './messages.js';
import { MessageType, campaignTransferContext, isCampaignTransfer, isResponseMessageType, makeMessage, makeMessageFrom, voteResponseType } from './messages.js';
import type { Progress } from './progress.js';
import { ProgressState } from './progress.js';
import { ProgressTracker } from './progress-tracker.js';
import { VoteResult } from './quorum.js';
import { ReadOnly, ReadOnlyOption } from './read-only.js';
import { StorageError, StorageErrorCode } from './storage.js';
import type { ConfState, Entry, HardState, LogIndex, NodeId, ReadState, Snapshot, SoftState, Term } from './types.js';
import { EntryType, Role, isEmptyHardState, isEmptySnapshot, noNode } from './types.js';

const emptyBytes = new Uint8Array(0);
// Lease reads: the ticks of a lease kept back for ticks that run at slightly different
// rates on different nodes (timers rounded to a millisecond, clocks of different speed).
const leaseRateMarginTicks = 0.5;

enum CampaignCause {
  /** The election timer ran out: any lease we granted has expired. */
  ElectionTimeout,
  /** The application asked (campaign()). */
  Explicit,
  /** The leader asked (TimeoutNow): skip pre-vote, override leases. */
  Transfer,
}

function refuse(code: RaftErrorCode, message: string): RaftError {
  return new RaftError(code, message);
}

/**
 * The Raft protocol as a pure state machine: messages and ticks in, messages, log
 * changes and read states out. No clocks, no I/O. RawNode wraps it for applications.
 *
 * Each role has its own step function (stepFollower, stepCandidate for both kinds of
 * candidate, stepLeader); step() first does what every role does with a message's term.
 */
export class Raft {
  readonly id: NodeId;
  term: Term = 0 as Term;
  vote: NodeId = noNode;
  lead: NodeId = noNode;
  role: Role = Role.Follower;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  /** Outgoing messages, handed to the host in the next Ready. */
  messages: Message[] = [];
  /** Answered read-index requests of this replica's application, handed out in the next Ready. */
  readStates: ReadState[] = [];
  /** The member leadership is being transferred to, or noNode. */
  leadTransferee: NodeId = noNode;
  /** Index of the newest membership change proposed by this leader; no other may be proposed until it is applied. */
  pendingConfIndex: LogIndex = 0 as LogIndex;
  /** Payload bytes this leader appended and that are not applied yet. */
  uncommittedBytes = 0;
  campaignEnabled: boolean;

  private readonly config: ResolvedRaftConfig;
  private readonly limits: RaftLimits;
  private readOnly: ReadOnly;
  /** Read-index requests that arrived before this leader committed an entry of its own term. */
  private pendingReadIndexMessages: Message[] = [];
  /** Ticks since the last valid leader contact (follower) or since the last quorum check (leader). */
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** In [electionTicks, 2 * electionTicks): different per replica and per term so that split votes resolve. */
  private randomizedElectionTimeout = 0;
  /** Ticks since this replica started, saturating at electionTicks (see inLease). */
  private ticksSinceStart = 0;
  /** Leader: ticks since it became leader; the clock of its lease. */
  private leaderTicks = 0;
  /** Leader: number of the last heartbeat broadcast, and when (leaderTicks) recent ones were sent. */
  private heartbeatRound = 0;
  private readonly heartbeatRoundSentTicks = new Map<number, number>();
  /** Leader: a TimeoutNow went out this term, so another leader may appear before our lease ends. */
  private transferAttempted = false;

  constructor(input: RaftConfig) {
    this.config = resolveRaftConfig(input);
    this.limits = this.config.limits;
    this.id = this.config.id;
    this.campaignEnabled = this.config.campaignEnabled;
    this.log = new RaftLog(this.config.storage, this.limits.readyCommittedBytesMax);
    this.readOnly = new ReadOnly(this.config.readOnlyOption, this.limits.readIndexRequestsMax);
    const { hardState, confState } = this.config.storage.initialState();
    this.tracker = new ProgressTracker(this.limits.inflightMessagesMax, this.limits.inflightBytesMax);
    this.tracker.reset(confState, (this.log.lastIndex() + 1) as LogIndex);
    if (!isEmptyHardState(hardState)) this.loadHardState(hardState);
    if (this.config.applied > 0) this.log.appliedTo(this.config.applied);
    this.becomeFollower(this.term, noNode);
  }

  // ---- state the host persists or reports ----

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  private loadHardState(hardState: HardState): void {
    assert(
      hardState.commit >= this.log.committed && hardState.commit <= this.log.lastIndex(),
      () => `load hard state: commit ${hardState.commit} out of range [${this.log.committed}, ${this.log.lastIndex()}]`,
    );
    this.log.committed = hardState.commit;
    this.term = hardState.term;
    this.vote = hardState.vote;
  }

  /** The application applied entries up to index (appliedBytes of payload). */
  appliedTo(index: LogIndex, appliedBytes: number): void {
    this.log.appliedTo(index);
    if (this.role === Role.Leader) this.uncommittedBytes = Math.max(0, this.uncommittedBytes - appliedBytes);
  }

  /** The application installed a snapshot from a Ready. */
  appliedSnapshot(snapshot: Snapshot): void {
    this.log.unstable.stableSnapshotTo(snapshot.metadata.index);
    this.log.appliedTo(snapshot.metadata.index);
  }

  setCampaignEnabled(enabled: boolean): void {
    this.campaignEnabled = enabled;
  }

  // ---- role changes ----

  private reset(term: Term): void {
    assert(term >= this.term, () => `reset: term would decrease from ${this.term} to ${term}`);
    if (this.term !== term) {
      this.term = term;
      this.vote = noNode;
    }
    this.lead = noNode;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.limits.electionTicks + this.config.random.nextInt(this.limits.electionTicks);
    this.leadTransferee = noNode;
    this.tracker.resetVotes();
    const lastIndex = this.log.lastIndex();
    for (const [id, progress] of this.tracker.progress) {
      progress.becomeProbe();
      progress.match = (id === this.id ? lastIndex : 0) as LogIndex;
      progress.next = (lastIndex + 1) as LogIndex;
      progress.recentActive = false;
    }
    this.pendingConfIndex = 0 as LogIndex;
    this.uncommittedBytes = 0;
    this.readOnly = new ReadOnly(this.config.readOnlyOption, this.limits.readIndexRequestsMax);
    this.pendingReadIndexMessages = [];
    this.leaderTicks = 0;
    this.heartbeatRoundSentTicks.clear();
    this.transferAttempted = false;
    for (const progress of this.tracker.progress.values()) progress.leaseSentTick = -1;
  }

  becomeFollower(term: Term, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
  }

  private becomePreCandidate(): void {
    assert(this.role !== Role.Leader, 'become pre-candidate: already leader');
    // A pre-election changes neither term nor vote: that is what makes it harmless.
    this.tracker.resetVotes();
    this.lead = noNode;
    this.role = Role.PreCandidate;
  }

  private becomeCandidate(): void {
    assert(this.role !== Role.Leader, 'become candidate: already leader');
    this.reset((this.term + 1) as Term);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    assert(this.role !== Role.Follower, 'become leader: a follower must campaign first');
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    const selfProgress = this.tracker.progress.get(this.id);
    assert(selfProgress !== undefined, 'become leader: not a member');
    selfProgress.becomeReplicate();
    selfProgress.match = this.log.lastIndex();
    selfProgress.next = (this.log.lastIndex() + 1) as LogIndex;
    selfProgress.recentActive = true;
    // §5.4.2 / §8: an entry of the new term lets the leader commit what earlier leaders left.
    const appended = this.appendEntries([{ type: EntryType.Normal, data: emptyBytes }]);
    assert(appended, 'become leader: the empty entry must always be accepted');
    // No membership change until this term's first entry is applied: uncommitted entries
    // of earlier terms may hold a change we cannot see cheaply, and committing an entry of
    // its own term first is the fix for single-server changes across leader changes
    // (Ongaro, raft-dev, 2015).
    this.pendingConfIndex = this.log.lastIndex();
  }

  private promotable(): boolean {
    return this.tracker.isVoter(this.id) && this.log.pendingSnapshot() === undefined;
  }

  // ---- ticks ----

  tick(): void {
    if (this.ticksSinceStart < this.limits.electionTicks) this.ticksSinceStart++;
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed < this.randomizedElectionTimeout) return;
    this.electionElapsed = 0;
    // Campaign gating: a gated replica lets its timer run out without standing.
    if (this.campaignEnabled && this.promotable()) this.hup(CampaignCause.ElectionTimeout);
  }

  private tickHeartbeat(): void {
    this.leaderTicks++;
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.limits.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) this.checkQuorum();
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === Role.Leader && this.leadTransferee !== noNode) this.abortLeaderTransfer();
    }
    if (this.role !== Role.Leader) return;
    if (this.heartbeatElapsed >= this.limits.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  // ---- elections ----

  private hup(cause: CampaignCause): RaftError | undefined {
    const transfer = cause === CampaignCause.Transfer;
    if (this.role === Role.Leader) return undefined;
    if (!this.promotable()) return refuse(RaftErrorCode.CampaignRefused, `campaign: ${this.id} is not a voter or is restoring a snapshot`);
    if (!this.campaignEnabled) return refuse(RaftErrorCode.CampaignRefused, `campaign: campaigning is disabled on ${this.id}`);
    if (this.log.hasUnappliedConfChanges(this.limits.readyCommittedBytesMax)) {
      // With effect-on-apply, our membership may be stale until those entries are applied.
      return refuse(RaftErrorCode.CampaignRefused, `campaign: committed membership changes are not applied yet: applied=${this.log.applied} committed=${this.log.committed}`);
    }
    if (cause === CampaignCause.Explicit && this.config.readOnlyOption === ReadOnlyOption.LeaseBased && this.inLease()) {
      // We acknowledged a live leader's heartbeat: it may be serving lease reads counting
      // on us not to help elect anyone, ourselves included, for an election timeout.
      return refuse(RaftErrorCode.CampaignRefused, `campaign: ${this.id} is within the lease of leader ${this.lead}; use transferLeadership`);
    }
    if (transfer || !this.config.preVote) this.campaign(false, transfer);
    else this.campaign(true, false);
    return undefined;
  }

  private campaign(preElection: boolean, transfer: boolean): void {
    let voteType: MessageType.Vote | MessageType.PreVote;
    let voteTerm: Term;
    if (preElection) {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      // Ask for the term we would use, without moving to it.
      voteTerm = (this.term + 1) as Term;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      voteTerm = this.term;
    }
    if (this.poll(this.id, true) === VoteResult.Won) {
      // A single voter wins at once.
      if (preElection) this.campaign(false, false);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.tracker.voters()) {
      if (id === this.id) continue;
      this.send({
        type: voteType,
        to: id,
        term: voteTerm,
        index: lastIndex,
        logTerm: lastTerm,
        context: transfer ? campaignTransferContext : emptyBytes,
      });
    }
  }

  private poll(id: NodeId, granted: boolean): VoteResult {
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes().result;
  }

  private handleVoteRequest(message: Message): void {
    const isPreVote = message.type === MessageType.PreVote;
    const responseType = voteResponseType(message.type as MessageType.Vote | MessageType.PreVote);
    // §5.2: one vote per term, first come first served (repeating it is fine). A pre-vote
    // for a future term binds nothing, so it is given whenever the log qualifies.
    const faults = this.config.simulationFaults;
    const canVote =
      this.vote === message.from ||
      (this.vote === noNode && this.lead === noNode) ||
      (isPreVote && message.term > this.term) ||
      (faults.grantSecondVoteInTerm === true && this.lead === noNode);
    // §5.4.1: never help elect a candidate whose log lacks entries we have.
    if (canVote && (faults.grantVoteWithoutLogCheck === true || this.log.isUpToDate(message.index, message.logTerm))) {
      // A granted pre-vote answers with the term asked about, so the pre-candidate
      // counts it without anyone's term moving.
      this.send({ type: responseType, to: message.from, term: message.term, reject: false });
      if (!isPreVote) {
        this.electionElapsed = 0;
        this.vote = message.from;
      }
    } else {
      this.send({ type: responseType, to: message.from, term: this.term, reject: true });
    }
  }

  /**
   * Whether this replica refuses to vote for anyone but its leader: it heard from a live
   * leader less than an election timeout ago. With lease reads, a replica that just
   * started (and may have forgotten such a leader in a crash) also waits one election
   * timeout, since a leader may be counting on it for its lease.
   */
  private inLease(): boolean {
    if (!this.config.checkQuorum) return false;
    if (this.lead !== noNode && this.electionElapsed < this.limits.electionTicks) return true;
    return this.config.readOnlyOption === ReadOnlyOption.LeaseBased && this.ticksSinceStart < this.limits.electionTicks;
  }

  // ---- step ----

  step(message: Message): RaftError | undefined {
    if (message.term === 0) {
      // Local message, or a proposal/read/transfer forwarded by a follower.
    } else if (message.term > this.term) {
      if (message.type === MessageType.Vote || message.type === MessageType.PreVote) {
        if (this.inLease() && !isCampaignTransfer(message)) {
          // We heard from a live leader within the election timeout: the candidate is
          // partitioned or removed. Ignoring it (without raising our term) keeps it from
          // disrupting a healthy group.
          return undefined;
        }
      } else if (this.role === Role.Follower && isResponseMessageType(message.type) && this.inLease()) {
        // A late answer to a request we made in an earlier role. Followers have no use for
        // it, and adopting its term would drop our leader and with it the lease we promised.
        return undefined;
      }
      if (message.type === MessageType.PreVote) {
        // A pre-vote never changes our term.
      } else if (message.type === MessageType.PreVoteResponse && !message.reject) {
        // A granted pre-vote carries the term we asked about; we move to it only by winning.
      } else if (
        message.type === MessageType.Append ||
        message.type === MessageType.Heartbeat ||
        message.type === MessageType.Snapshot
      ) {
        this.becomeFollower(message.term, message.from);
      } else {
        this.becomeFollower(message.term, noNode);
      }
    } else if (message.term < this.term) {
      if ((this.config.checkQuorum || this.config.preVote) && (message.type === MessageType.Heartbeat || message.type === MessageType.Append)) {
        // A leader of an older term. With check-quorum or pre-vote our higher term may
        // never reach it through votes (they are ignored or not sent), so answer with
        // our term to make it step down and let the group elect past our term.
        this.send({ type: MessageType.AppendResponse, to: message.from });
      } else if (message.type === MessageType.PreVote) {
        // Tell the pre-candidate about our newer term, or it would retry forever.
        this.send({ type: MessageType.PreVoteResponse, to: message.from, term: this.term, reject: true });
      }
      return undefined;
    }

    switch (message.type) {
      case MessageType.Hup:
        return this.hup(CampaignCause.Explicit);
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(message);
        return undefined;
      default:
        switch (this.role) {
          case Role.Follower:
            return this.stepFollower(message);
          case Role.PreCandidate:
          case Role.Candidate:
            return this.stepCandidate(message);
          case Role.Leader:
            return this.stepLeader(message);
        }
    }
  }

  private stepFollower(message: Message): RaftError | undefined {
    switch (message.type) {
      case MessageType.Propose:
        if (this.lead === noNode) return refuse(RaftErrorCode.ProposalDropped, `propose: no leader known at term ${this.term}`);
        if (this.config.disableProposalForwarding) return refuse(RaftErrorCode.ProposalDropped, `propose: forwarding to leader ${this.lead} is disabled`);
        this.forward(message, this.lead);
        return undefined;
      case MessageType.Append:
        this.electionElapsed = 0;
        this.lead = message.from;
        this.handleAppend(message);
        return undefined;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = message.from;
        this.handleHeartbeat(message);
        return undefined;
      case MessageType.Snapshot:
        this.electionElapsed = 0;
        this.lead = message.from;
        this.handleSnapshot(message);
        return undefined;
      case MessageType.TransferLeader:
        if (this.lead === noNode) return refuse(RaftErrorCode.TransferRefused, `transfer leadership: no leader known at term ${this.term}`);
        this.forward(message, this.lead);
        return undefined;
      case MessageType.TimeoutNow:
        // Campaign gating covers transfers too: a gated replica is not ready to lead.
        // The leader aborts the transfer after an election timeout.
        if (!this.campaignEnabled) return undefined;
        return this.hup(CampaignCause.Transfer);
      case MessageType.ReadIndex:
        if (this.lead === noNode) return refuse(RaftErrorCode.ReadIndexDropped, `read index: no leader known at term ${this.term}`);
        this.forward(message, this.lead);
        return undefined;
      case MessageType.ReadIndexResponse:
        this.readStates.push({ index: message.index, requestCtx: message.context });
        return undefined;
      default:
        return undefined;
    }
  }

  private stepCandidate(message: Message): RaftError | undefined {
    const ourResponseType = this.role === Role.PreCandidate ? MessageType.PreVoteResponse : MessageType.VoteResponse;
    switch (message.type) {
      case MessageType.Propose:
        return refuse(RaftErrorCode.ProposalDropped, `propose: no leader, election at term ${this.term} in progress`);
      case MessageType.ReadIndex:
        return refuse(RaftErrorCode.ReadIndexDropped, `read index: no leader, election at term ${this.term} in progress`);
      case MessageType.TransferLeader:
        return refuse(RaftErrorCode.TransferRefused, `transfer leadership: no leader, election at term ${this.term} in progress`);
      case MessageType.Append:
        // §5.2: a leader of our term exists; accept it.
        this.becomeFollower(message.term, message.from);
        this.handleAppend(message);
        return undefined;
      case MessageType.Heartbeat:
        this.becomeFollower(message.term, message.from);
        this.handleHeartbeat(message);
        return undefined;
      case MessageType.Snapshot:
        this.becomeFollower(message.term, message.from);
        this.handleSnapshot(message);
        return undefined;
      case MessageType.PreVoteResponse:
      case MessageType.VoteResponse: {
        if (message.type !== ourResponseType) return undefined;
        const result = this.poll(message.from, !message.reject);
        if (result === VoteResult.Won) {
          if (this.role === Role.PreCandidate) {
            this.campaign(false, false);
          } else {
            this.becomeLeader();
            this.broadcastAppend();
          }
        } else if (result === VoteResult.Lost) {
          this.becomeFollower(this.term, noNode);
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }

  private stepLeader(message: Message): RaftError | undefined {
    switch (message.type) {
      case MessageType.Beat:
        this.broadcastHeartbeat();
        return undefined;
      case MessageType.CheckQuorum:
        this.checkQuorum();
        return undefined;
      case MessageType.Propose:
        return this.handlePropose(message);
      case MessageType.ReadIndex:
        return this.handleReadIndex(message);
      case MessageType.TransferLeader:
        return this.handleTransferLeader(message);
      case MessageType.Append:
      case MessageType.Heartbeat:
      case MessageType.Snapshot:
        assert(false, () => `leader ${this.id} got ${MessageType[message.type]} from ${message.from} in its own term ${this.term}: two leaders in one term`);
    }
    const progress = this.tracker.progress.get(message.from);
    if (progress === undefined) return undefined;
    switch (message.type) {
      case MessageType.AppendResponse:
        this.handleAppendResponse(message, progress);
        break;
      case MessageType.HeartbeatResponse:
        this.handleHeartbeatResponse(message, progress);
        break;
      case MessageType.SnapStatus:
        if (progress.state !== ProgressState.Snapshot) break;
        if (message.reject) progress.pendingSnapshot = 0 as LogIndex;
        progress.becomeProbe();
        // Give the follower a heartbeat interval to apply the snapshot before probing.
        progress.sendPaused = true;
        break;
      case MessageType.Unreachable:
        // Streaming optimistically to an unreachable member only loses messages.
        if (progress.state === ProgressState.Replicate) progress.becomeProbe();
        break;
      default:
        break;
    }
    return undefined;
  }

  // ---- leader: proposals and replication ----

  private handlePropose(message: Message): RaftError | undefined {
    assert(message.entries.length > 0, 'propose: no entries');
    if (!this.tracker.isMember(this.id)) {
      return refuse(RaftErrorCode.ProposalDropped, `propose: leader ${this.id} was removed from the group`);
    }
    if (this.leadTransferee !== noNode) {
      return refuse(RaftErrorCode.ProposalDropped, `propose: leadership transfer from ${this.id} to ${this.leadTransferee} in progress`);
    }
    const confChangePositions: number[] = [];
    message.entries.forEach((entry, position) => {
      if (entry.type === EntryType.ConfChange) confChangePositions.push(position);
    });
    if (confChangePositions.length > 1) {
      return refuse(RaftErrorCode.ConfChangeRejected, `propose: ${confChangePositions.length} membership changes in one proposal; one at a time`);
    }
    if (confChangePositions.length === 1) {
      if (this.pendingConfIndex > this.log.applied) {
        return refuse(RaftErrorCode.ConfChangeRejected, `propose conf change: the change at index ${this.pendingConfIndex} is not applied yet: applied=${this.log.applied}`);
      }
      const change = decodeConfChange(message.entries[confChangePositions[0]].data);
      const refusal = this.confChangeRefusal(change);
      if (refusal !== undefined) return refuse(RaftErrorCode.ConfChangeRejected, `propose conf change: ${refusal}`);
    }
    const firstNewIndex = this.log.lastIndex() + 1;
    if (!this.appendEntries(message.entries)) {
      return refuse(RaftErrorCode.ProposalDropped, `propose: uncommitted log is full: uncommittedBytes=${this.uncommittedBytes} uncommittedBytesMax=${this.limits.uncommittedBytesMax}`);
    }
    if (confChangePositions.length === 1) this.pendingConfIndex = (firstNewIndex + confChangePositions[0]) as LogIndex;
    this.broadcastAppend();
    return undefined;
  }

  /** Appends proposals to the leader's log as entries of its term. False when the uncommitted limit refuses them. */
  private appendEntries(proposals: readonly Pick<Entry, 'type' | 'data'>[]): boolean {
    const lastIndex = this.log.lastIndex();
    const entries: Entry[] = proposals.map((proposal, position) => ({
      term: this.term,
      index: (lastIndex + 1 + position) as LogIndex,
      type: proposal.type,
      data: proposal.data,
    }));
    if (!this.increaseUncommittedBytes(entries)) return false;
    this.log.append(entries);
    // The leader's own copy counts toward the quorum. The host persists it (Ready) before
    // it sends any message announcing a commit, so this never acknowledges unsaved data.
    this.tracker.progress.get(this.id)?.maybeUpdate(this.log.lastIndex());
    this.maybeCommit();
    return true;
  }

  private increaseUncommittedBytes(entries: readonly Entry[]): boolean {
    const bytes = entriesPayloadBytes(entries);
    // Always accept into an empty window, so one proposal bigger than the limit still goes through.
    if (this.uncommittedBytes > 0 && bytes > 0 && this.uncommittedBytes + bytes > this.limits.uncommittedBytesMax) return false;
    this.uncommittedBytes += bytes;
    return true;
  }

  /** Commits what a quorum holds (if of this term); returns whether commit moved. */
  private maybeCommit(): boolean {
    if (!this.log.maybeCommit(this.tracker.committed(), this.term)) return false;
    this.releasePendingReadIndexMessages();
    return true;
  }

  private broadcastAppend(): void {
    for (const id of this.tracker.members()) {
      if (id !== this.id) this.maybeSendAppend(id, true);
    }
  }

  /**
   * Sends the next Append to `to` if its progress allows. With sendIfEmpty false only
   * messages that carry entries are sent. Returns whether a message went out.
   */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.tracker.progress.get(to);
    assert(progress !== undefined, () => `send append: no progress for ${to}`);
    if (progress.isPaused()) return false;
    const lastIndex = this.log.lastIndex();
    const previousIndex = (progress.next - 1) as LogIndex;
    assert(previousIndex <= lastIndex, () => `send append: next ${progress.next} of ${to} beyond lastIndex ${lastIndex}`);
    const previousTerm = this.log.term(previousIndex);
    if (previousTerm === undefined) return this.maybeSendSnapshot(to, progress);
    let entries: Entry[] = [];
    // A full window sends only empty Appends (after a heartbeat answer unpaused it).
    const windowFull = progress.state === ProgressState.Replicate && progress.inflights.full();
    if (progress.next <= lastIndex && !windowFull) {
      // In Replicate state stay inside the byte window too (one oversized entry still goes).
      const windowBytes =
        progress.state === ProgressState.Replicate ? progress.inflights.bytesMax - progress.inflights.bytes : this.limits.messageBytesMax;
      const bytesMax = Math.max(1, Math.min(this.limits.messageBytesMax, windowBytes));
      try {
        entries = this.log.slice(progress.next, (lastIndex + 1) as LogIndex, bytesMax);
      } catch (error) {
        if (error instanceof StorageError && error.code === StorageErrorCode.Compacted) return this.maybeSendSnapshot(to, progress);
        throw error;
      }
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: MessageType.Append,
      to,
      index: previousIndex,
      logTerm: previousTerm,
      entries,
      commit: this.log.committed,
    });
    progress.sentEntries(entries.length, entriesBytes(entries));
    return true;
  }

  private maybeSendSnapshot(to: NodeId, progress: Progress): boolean {
    // A snapshot is large: do not send one to a member that has not answered lately.
    if (!progress.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.log.pendingSnapshot() ?? this.log.storage.snapshot();
    } catch (error) {
      if (error instanceof StorageError && error.code === StorageErrorCode.SnapshotTemporarilyUnavailable) return false;
      throw error;
    }
    assert(!isEmptySnapshot(snapshot), () => `send snapshot to ${to}: the log is compacted but there is no snapshot`);
    assert(
      snapshot.metadata.index >= this.log.firstIndex() - 1,
      () => `send snapshot to ${to}: snapshot ${snapshot.metadata.index} is older than the log start ${this.log.firstIndex()}`,
    );
    progress.becomeSnapshot(snapshot.metadata.index);
    this.send({ type: MessageType.Snapshot, to, snapshot });
    return true;
  }

  private handleAppendResponse(message: Message, progress: Progress): void {
    progress.recentActive = true;
    if (message.reject) {
      // Fast back-off: jump to where the follower's log may match instead of one step back.
      let nextProbeIndex = message.rejectHint;
      if (message.logTerm > 0) nextProbeIndex = this.log.findConflictByTerm(message.rejectHint, message.logTerm).index;
      if (progress.maybeDecreaseTo(message.index, nextProbeIndex)) {
        if (progress.state === ProgressState.Replicate) progress.becomeProbe();
        this.maybeSendAppend(message.from, true);
      }
      return;
    }
    const wasPaused = progress.isPaused();
    const probeAcknowledged = progress.match === message.index && progress.state === ProgressState.Probe;
    if (!progress.maybeUpdate(message.index) && !probeAcknowledged) return;
    switch (progress.state) {
      case ProgressState.Probe:
        progress.becomeReplicate();
        break;
      case ProgressState.Snapshot:
        // Whatever the snapshot covered, if the log now reaches the follower, stream to it.
        if (progress.match + 1 >= this.log.firstIndex()) {
          progress.becomeProbe();
          progress.becomeReplicate();
        }
        break;
      case ProgressState.Replicate:
        progress.inflights.freeLessOrEqual(message.index);
        break;
    }
    if (this.maybeCommit()) {
      // A membership change not applied yet goes out at once even when skipping: the
      // followers must apply it to take part in the next one.
      if (!this.config.skipCommitBroadcast || this.pendingConfIndex > this.log.applied) this.broadcastAppend();
    } else if (wasPaused) {
      // The follower may be missing the latest commit index while we held back.
      this.maybeSendAppend(message.from, true);
    }
    // Pipelining: fill the window. Bounded by the window size and the log length.
    while (this.maybeSendAppend(message.from, false)) {
      // keep sending
    }
    if (message.from === this.leadTransferee && progress.match === this.log.lastIndex()) this.sendTimeoutNow(message.from);
  }

  private broadcastHeartbeat(context?: Uint8Array): void {
    const heartbeatContext = context ?? this.readOnly.lastPendingContext() ?? emptyBytes;
    this.heartbeatRound++;
    this.heartbeatRoundSentTicks.set(this.heartbeatRound, this.leaderTicks);
    // Acks of rounds older than an election timeout cannot extend the lease: forget them.
    for (const [round, sentTick] of this.heartbeatRoundSentTicks) {
      if (sentTick + this.limits.electionTicks > this.leaderTicks) break;
      this.heartbeatRoundSentTicks.delete(round);
    }
    for (const id of this.tracker.members()) {
      if (id === this.id) continue;
      const progress = this.tracker.progress.get(id);
      assert(progress !== undefined, () => `heartbeat: no progress for ${id}`);
      // Never tell a follower to commit past what it is known to hold.
      const commit = Math.min(progress.match, this.log.committed) as LogIndex;
      this.send({ type: MessageType.Heartbeat, to: id, commit, context: heartbeatContext, index: this.heartbeatRound as LogIndex });
    }
  }

  private handleHeartbeatResponse(message: Message, progress: Progress): void {
    progress.recentActive = true;
    // Unpause even a full window: the Append this allows is empty (see maybeSendAppend)
    // and its answer, accept or reject, resynchronizes the window if messages were lost.
    progress.sendPaused = false;
    if (progress.match < this.log.lastIndex() || progress.state === ProgressState.Probe) {
      this.maybeSendAppend(message.from, true);
    }
    const sentTick = this.heartbeatRoundSentTicks.get(message.index);
    if (sentTick !== undefined) progress.leaseSentTick = Math.max(progress.leaseSentTick, sentTick);
    if (message.context.byteLength === 0) return;
    const acknowledgedBy = this.readOnly.receiveAck(message.from, message.context);
    if (acknowledgedBy === undefined || !this.tracker.isQuorum(acknowledgedBy)) return;
    for (const status of this.readOnly.advance(message.context)) this.answerReadIndex(status.request, status.index);
  }

  private checkQuorum(): void {
    if (!this.tracker.quorumActive(this.id)) {
      // We may be on the minority side of a partition: stop acting as leader (and stop
      // serving lease reads) rather than wait for a higher term to reach us.
      this.becomeFollower(this.term, noNode);
    }
    for (const [id, progress] of this.tracker.progress) {
      if (id !== this.id) progress.recentActive = false;
    }
  }

  // ---- leader: read index ----

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private handleReadIndex(message: Message): RaftError | undefined {
    if (!this.committedEntryInCurrentTerm()) {
      // Until this leader commits an entry of its own term it does not know the true
      // commit index (§8): hold the request until then.
      if (this.pendingReadIndexMessages.length >= this.limits.readIndexRequestsMax) {
        return refuse(RaftErrorCode.ReadIndexDropped, `read index: ${this.pendingReadIndexMessages.length} requests already wait for the first commit of term ${this.term}`);
      }
      this.pendingReadIndexMessages.push(message);
      return undefined;
    }
    return this.processReadIndex(message);
  }

  private processReadIndex(message: Message): RaftError | undefined {
    const voters = this.tracker.voters();
    if (voters.length === 1 && voters[0] === this.id) {
      this.answerReadIndex(message, this.log.committed);
      return undefined;
    }
    if (this.readOnly.option === ReadOnlyOption.LeaseBased && this.leaseValid()) {
      this.answerReadIndex(message, this.log.committed);
      return undefined;
    }
    // Safe reads, and lease reads while the lease is not established: confirm with a heartbeat round.
    if (this.readOnly.has(message.context)) {
      return refuse(RaftErrorCode.ReadIndexDropped, 'read index: a request with the same context is already pending');
    }
    if (this.readOnly.isFull()) {
      return refuse(RaftErrorCode.ReadIndexDropped, `read index: ${this.readOnly.size} requests already wait for confirmation`);
    }
    this.readOnly.addRequest(this.log.committed, message);
    this.readOnly.receiveAck(this.id, message.context);
    this.broadcastHeartbeat(message.context);
    return undefined;
  }

  /**
   * Whether no other leader can exist now. A voter that acknowledged a heartbeat sent at
   * leader tick s refuses other candidates for electionTicks of its own ticks after it
   * got it (inLease), at least electionTicks - 1 periods of real time (its first tick may
   * come at once), and every electing quorum includes one of the quorum with the newest
   * acks. So the lease left is s + electionTicks - 1 - leaderTicks ticks, less what real
   * time ran ahead of this leader's ticks since s (leaseClockLagTicks: a late timer, a
   * paused process), less leaseRateMarginTicks for ticks running at slightly different
   * rates on different nodes. No lease in a term in which a transfer was attempted
   * (TimeoutNow overrides leases).
   */
  private leaseValid(): boolean {
    if (!this.config.checkQuorum || this.transferAttempted || this.leadTransferee !== noNode) return false;
    const lagTicks = Math.max(0, this.config.leaseClockLagTicks());
    if (!(lagTicks < Number.POSITIVE_INFINITY)) return false;
    const sentTicks = this.tracker
      .voters()
      .map((id) => (id === this.id ? Number.POSITIVE_INFINITY : (this.tracker.progress.get(id)?.leaseSentTick ?? -1)))
      .sort((left, right) => right - left);
    const quorum = Math.floor(sentTicks.length / 2) + 1;
    const leaseStart = sentTicks[quorum - 1];
    if (leaseStart < 0) return false;
    const leftTicks = leaseStart + this.limits.electionTicks - 1 - this.leaderTicks;
    return leftTicks >= lagTicks + leaseRateMarginTicks;
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const message of pending) this.processReadIndex(message);
  }

  private answerReadIndex(request: Message, index: LogIndex): void {
    if (request.from === noNode || request.from === this.id) {
      this.readStates.push({ index, requestCtx: request.context });
    } else {
      this.send({ type: MessageType.ReadIndexResponse, to: request.from, index, context: request.context });
    }
  }

  // ---- leader: leadership transfer ----

  private handleTransferLeader(message: Message): RaftError | undefined {
    const transferee = message.from;
    if (!this.tracker.isVoter(transferee)) {
      return refuse(RaftErrorCode.TransferRefused, `transfer leadership: ${transferee} is not a voter`);
    }
    if (this.leadTransferee !== noNode) {
      if (this.leadTransferee === transferee) return undefined;
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return undefined;
    // The transfer must finish within one election timeout (see tickHeartbeat).
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    const progress = this.tracker.progress.get(transferee);
    assert(progress !== undefined, () => `transfer leadership: no progress for ${transferee}`);
    if (progress.match === this.log.lastIndex()) {
      this.sendTimeoutNow(transferee);
    } else {
      // Catch the transferee up first; TimeoutNow follows its acknowledgement.
      this.maybeSendAppend(transferee, true);
    }
    return undefined;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.transferAttempted = true;
    this.send({ type: MessageType.TimeoutNow, to });
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = noNode;
  }

  // ---- follower: log handling ----

  private handleAppend(message: Message): void {
    if (message.index < this.log.committed) {
      this.send({ type: MessageType.AppendResponse, to: message.from, index: this.log.committed });
      return;
    }
    const lastNewIndex = this.log.maybeAppend(message.index, message.logTerm, message.commit, message.entries);
    if (lastNewIndex !== undefined) {
      this.send({ type: MessageType.AppendResponse, to: message.from, index: lastNewIndex });
      return;
    }
    // §5.3: reject, and hint where our logs may match so the leader can skip a term at a time.
    const hintIndex = Math.min(message.index, this.log.lastIndex()) as LogIndex;
    const hint = this.log.findConflictByTerm(hintIndex, message.logTerm);
    this.send({
      type: MessageType.AppendResponse,
      to: message.from,
      index: message.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    });
  }

  private handleHeartbeat(message: Message): void {
    this.log.commitTo(message.commit);
    this.send({ type: MessageType.HeartbeatResponse, to: message.from, context: message.context, index: message.index });
  }

  private handleSnapshot(message: Message): void {
    const snapshot = message.snapshot;
    assert(snapshot !== undefined, () => `snapshot message from ${message.from} without a snapshot`);
    if (this.restore(snapshot)) {
      this.send({ type: MessageType.AppendResponse, to: message.from, index: this.log.lastIndex() });
    } else {
      this.send({ type: MessageType.AppendResponse, to: message.from, index: this.log.committed });
    }
  }

  /**
   * Installs a leader's snapshot unless our log already holds it. The membership comes
   * from the snapshot, even if it does not list us: a new member then learns that it
   * was added from the entries that follow.
   */
  private restore(snapshot: Snapshot): boolean {
    const { index, term } = snapshot.metadata;
    if (index <= this.log.committed) return false;
    assert(this.role === Role.Follower, () => `restore snapshot: ${this.id} is ${this.role}, not follower`);
    if (this.log.matchTerm(index, term)) {
      // Our log already has the snapshot's last entry, hence all before it: just commit.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.tracker.reset(snapshot.metadata.confState, (this.log.lastIndex() + 1) as LogIndex);
    return true;
  }

  // ---- membership ----

  /** Why a change may not be made to the current membership, or undefined when it may. */
  confChangeRefusal(change: ConfChange): string | undefined {
    if (change.nodeId === noNode) return 'node id 0 is reserved';
    const voters = this.tracker.voters();
    const isOnlyVoter = voters.length === 1 && voters[0] === change.nodeId;
    if (isOnlyVoter && (change.type === ConfChangeType.RemoveNode || change.type === ConfChangeType.AddLearner)) {
      return `removing or demoting ${change.nodeId} would leave no voter`;
    }
    return undefined;
  }

  /**
   * Effect on apply: the application calls this when it applies a ConfChange entry, on
   * every replica. Changes that are refused (see confChangeRefusal) are no-ops on every
   * replica alike. Returns the membership now in force.
   */
  applyConfChange(change: ConfChange): ConfState {
    if (this.confChangeRefusal(change) === undefined) {
      const next = (this.log.lastIndex() + 1) as LogIndex;
      switch (change.type) {
        case ConfChangeType.AddVoter:
          if (!this.tracker.isVoter(change.nodeId)) this.tracker.addVoter(change.nodeId, next);
          break;
        case ConfChangeType.AddLearner:
          if (!this.tracker.isLearner(change.nodeId)) this.tracker.addLearner(change.nodeId, next);
          break;
        case ConfChangeType.RemoveNode:
          this.tracker.remove(change.nodeId);
          break;
      }
    }
    return this.switchToConfig();
  }

  private switchToConfig(): ConfState {
    const confState = this.tracker.confState();
    if (this.role !== Role.Leader) return confState;
    if (!this.tracker.isVoter(this.id)) {
      // This leader was removed or demoted. Commit what the new majority holds, tell every
      // member the commit index, then step down so the remaining voters elect a leader
      // among themselves (a removed replica never campaigns: it is not promotable).
      this.maybeCommit();
      this.broadcastAppend();
      this.becomeFollower(this.term, noNode);
      return confState;
    }
    // The quorum changed: commit may advance, and new members need their first Append.
    if (this.maybeCommit()) {
      this.broadcastAppend();
    } else {
      for (const id of this.tracker.members()) {
        if (id !== this.id) this.maybeSendAppend(id, false);
      }
    }
    if (this.leadTransferee !== noNode && !this.tracker.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    return confState;
  }

  // ---- sending ----

  private send(fields: Partial<Message> & Pick<Message, 'type' | 'to'>): void {
    assert(fields.to !== this.id, () => `send: ${MessageType[fields.type]} addressed to self`);
    const isVoteTraffic =
      fields.type === MessageType.Vote ||
      fields.type === MessageType.PreVote ||
      fields.type === MessageType.VoteResponse ||
      fields.type === MessageType.PreVoteResponse;
    if (isVoteTraffic) {
      // Vote traffic carries the term it is about (for pre-votes a future one).
      assert(fields.term !== undefined && fields.term !== 0, () => `send: ${MessageType[fields.type]} without a term`);
      this.messages.push(makeMessageFrom(fields, this.id, fields.term!));
    } else {
      this.messages.push(makeMessageFrom(fields, this.id, this.term));
    }
  }

  /** Passes a proposal, read-index or transfer request on to the leader, keeping term 0 so it is handled like a local request. */
  private forward(message: Message, to: NodeId): void {
    this.messages.push({ ...message, to, term: 0 as Term });
  }

  // ---- introspection ----

  electionElapsedTicks(): number {
    return this.electionElapsed;
  }

  randomizedElectionTimeoutTicks(): number {
    return this.randomizedElectionTimeout;
  }
}
