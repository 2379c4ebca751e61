import { assert } from './assert.js';
import type { ConfChange } from './conf-change.js';
import { ConfChangeType, encodeConfChange } from './conf-change.js';
import type { RaftConfig } from './config.js';
import { entriesPayloadBytes } from './entries.js';
import { RaftError, RaftErrorCode } from './errors.js';
import type { Message } from './messages.js';
import { MessageType, isLocalMessageType, isResponseMessageType, makeMessage } from './messages.js';
import type { ProgressState } from './progress.js';
import { Raft } from './raft.js';
import type { ConfState, Entry, HardState, LogIndex, NodeId, ReadState, Snapshot, SoftState, Term } from './types.js';
import { EntryType, Role, emptyHardState, hardStatesEqual, isEmptyHardState, noNode } from './types.js';

/**
 * One batch of work for the host. Handle it in this order, then call advance(ready):
 * 1. persist snapshot (if any), entries and hardState, with fsync when mustSync;
 * 2. send messages;
 * 3. apply snapshot then committedEntries to the state machine (calling
 *    applyConfChange for ConfChange entries), and serve readStates once applied >= index.
 */
export interface Ready {
  /** Present when leader or role changed. */
  readonly softState?: SoftState;
  /** Present when term, vote or commit changed. */
  readonly hardState?: HardState;
  /** Entries to append to storage (they may replace a suffix of it). */
  readonly entries: readonly Entry[];
  /** A snapshot from the leader to install in storage and in the state machine. */
  readonly snapshot?: Snapshot;
  /** Committed entries to apply, in order, after persisting this Ready. */
  readonly committedEntries: readonly Entry[];
  /** Messages to send after persisting this Ready. */
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** Whether storage must be synced before the messages go out (new entries, vote, term or snapshot). */
  readonly mustSync: boolean;
}

export interface ProgressStatus {
  readonly match: LogIndex;
  readonly next: LogIndex;
  readonly state: ProgressState;
  readonly pendingSnapshot: LogIndex;
  readonly recentActive: boolean;
  readonly isLearner: boolean;
  readonly inflightMessages: number;
  readonly inflightBytes: number;
  readonly paused: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: LogIndex;
  readonly applied: LogIndex;
  readonly lead: NodeId;
  readonly role: Role;
  readonly leadTransferee: NodeId;
  readonly campaignEnabled: boolean;
  readonly confState: ConfState;
  /** Leader only: what it knows of each member's log. Empty otherwise. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
}

const emptyBytes = new Uint8Array(0);

/**
 * The application's handle on one Raft replica. Single-threaded and synchronous: the
 * host feeds it ticks and messages, and drains ready()/advance() in a loop.
 */
export class RawNode {
  private readonly raft: Raft;
  private previousSoftState: SoftState;
  private previousHardState: HardState;
  private outstandingReady: Ready | undefined = undefined;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.previousSoftState = this.raft.softState();
    this.previousHardState = this.raft.hardState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  /**
   * Starts a brand-new group on empty storage: writes one committed AddVoter entry per
   * voter at term 1. Every founding member bootstraps with the same list; members that
   * join later start empty and learn the membership from these entries or a snapshot.
   */
  bootstrap(voters: readonly NodeId[]): void {
    if (this.raft.log.lastIndex() !== 0 || !isEmptyHardState(this.raft.hardState())) {
      throw new Error(`bootstrap raft group: storage of ${this.raft.id} is not empty: lastIndex=${this.raft.log.lastIndex()}`);
    }
    if (voters.length === 0 || new Set(voters).size !== voters.length || voters.some((id) => id === noNode)) {
      throw new Error(`bootstrap raft group: voters must be distinct non-zero ids: ${voters.join(',')}`);
    }
    this.raft.becomeFollower(1 as Term, noNode);
    const entries: Entry[] = voters.map((id, position) => ({
      term: 1 as Term,
      index: (position + 1) as LogIndex,
      type: EntryType.ConfChange,
      data: encodeConfChange({ type: ConfChangeType.AddVoter, nodeId: id, context: emptyBytes }),
    }));
    this.raft.log.append(entries);
    this.raft.log.commitTo(entries.length as LogIndex);
    // Apply now so the replica can campaign at once; applying them again from Ready is a no-op.
    for (const id of voters) this.raft.applyConfChange({ type: ConfChangeType.AddVoter, nodeId: id, context: emptyBytes });
    // Make the first Ready carry the bootstrap hard state.
    this.previousHardState = emptyHardState;
  }

  /** Advances logical time by one tick (elections, heartbeats, check-quorum, transfer timeout). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (pre-vote first if enabled). Refused when gated or not a voter. */
  campaign(): RaftError | undefined {
    return this.raft.step(makeMessage({ type: MessageType.Hup, from: this.raft.id }));
  }

  /** Proposes data for the log; it is forwarded when this replica is a follower. Dropped proposals return an error. */
  propose(data: Uint8Array): RaftError | undefined {
    return this.raft.step(
      makeMessage({ type: MessageType.Propose, from: this.raft.id, entries: [proposalEntry(EntryType.Normal, data)] }),
    );
  }

  /**
   * Proposes several commands as one step: they become consecutive entries, and the
   * leader sends each follower one Append for all of them instead of one per command.
   * All or nothing: a refusal drops every command of the batch.
   */
  proposeBatch(data: readonly Uint8Array[]): RaftError | undefined {
    assert(data.length > 0, 'propose batch: no commands');
    return this.raft.step(
      makeMessage({ type: MessageType.Propose, from: this.raft.id, entries: data.map((command) => proposalEntry(EntryType.Normal, command)) }),
    );
  }

  /** Proposes one membership change. Refused while another is not applied yet. */
  proposeConfChange(change: ConfChange): RaftError | undefined {
    return this.raft.step(
      makeMessage({
        type: MessageType.Propose,
        from: this.raft.id,
        entries: [proposalEntry(EntryType.ConfChange, encodeConfChange(change))],
      }),
    );
  }

  /** Call when applying a committed ConfChange entry (effect on apply). Returns the membership now in force. */
  applyConfChange(change: ConfChange): ConfState {
    return this.raft.applyConfChange(change);
  }

  /** Feeds a message from a peer. Local-only message types are refused. */
  step(message: Message): RaftError | undefined {
    if (isLocalMessageType(message.type)) {
      return new RaftError(RaftErrorCode.LocalMessageFromNetwork, `step: ${MessageType[message.type]} from ${message.from} may only be produced locally`);
    }
    if (isResponseMessageType(message.type) && !this.raft.tracker.isMember(message.from)) {
      return new RaftError(RaftErrorCode.PeerNotFound, `step: ${MessageType[message.type]} from ${message.from}, which is not a member`);
    }
    return this.raft.step(message);
  }

  /** Asks the leader (directly or through this follower) to hand leadership to transferee. */
  transferLeadership(transferee: NodeId): RaftError | undefined {
    if (transferee === noNode) return new RaftError(RaftErrorCode.TransferRefused, 'transfer leadership: no transferee given');
    return this.raft.step(makeMessage({ type: MessageType.TransferLeader, from: transferee }));
  }

  /**
   * Asks for a read index. The answer arrives as a ReadState with the same context in a
   * later Ready; reads are linearizable once the state machine has applied its index.
   * Contexts must be unique among pending requests.
   */
  readIndex(context: Uint8Array): RaftError | undefined {
    return this.raft.step(makeMessage({ type: MessageType.ReadIndex, from: this.raft.id, context }));
  }

  /** Releases (or re-applies) campaign gating: the replica stands for election only when enabled. */
  setCampaignEnabled(enabled: boolean): void {
    this.raft.setCampaignEnabled(enabled);
  }

  /** The transport could not reach id: stop streaming to it optimistically. */
  reportUnreachable(id: NodeId): void {
    this.raft.step(makeMessage({ type: MessageType.Unreachable, from: id }));
  }

  /** The transport finished (or failed) sending a Snapshot message to id. */
  reportSnapshot(id: NodeId, succeeded: boolean): void {
    this.raft.step(makeMessage({ type: MessageType.SnapStatus, from: id, reject: !succeeded }));
  }

  hasReady(): boolean {
    if (this.outstandingReady !== undefined) return false;
    const raft = this.raft;
    // Field by field rather than through softState()/hardState(), which build objects:
    // the host asks every group at every cycle.
    if (raft.lead !== this.previousSoftState.lead || raft.role !== this.previousSoftState.role) return true;
    const previous = this.previousHardState;
    const hardStateEmpty = raft.term === 0 && raft.vote === noNode && raft.log.committed === 0;
    if (!hardStateEmpty && (raft.term !== previous.term || raft.vote !== previous.vote || raft.log.committed !== previous.commit)) return true;
    return (
      raft.log.pendingSnapshot() !== undefined ||
      raft.log.unstable.entries.length > 0 ||
      raft.messages.length > 0 ||
      raft.readStates.length > 0 ||
      raft.log.hasNextCommittedEntries()
    );
  }

  /** Takes the next batch of work. Call advance(ready) before the next ready(). */
  ready(): Ready {
    assert(this.outstandingReady === undefined, 'ready: the previous Ready was not advanced');
    const raft = this.raft;
    const softState = raft.softState();
    const hardState = raft.hardState();
    const softChanged = softState.lead !== this.previousSoftState.lead || softState.role !== this.previousSoftState.role;
    const hardChanged = !isEmptyHardState(hardState) && !hardStatesEqual(hardState, this.previousHardState);
    const entries = raft.log.unstableEntries();
    const snapshot = raft.log.pendingSnapshot();
    // Optional fields are set only when present, without spreads: a host takes a Ready
    // per busy group per cycle.
    const ready: { -readonly [Key in keyof Ready]: Ready[Key] } = {
      entries,
      committedEntries: raft.log.nextCommittedEntries(),
      messages: raft.messages,
      readStates: raft.readStates,
      mustSync:
        entries.length > 0 ||
        snapshot !== undefined ||
        hardState.term !== this.previousHardState.term ||
        hardState.vote !== this.previousHardState.vote,
    };
    if (softChanged) ready.softState = softState;
    if (hardChanged) ready.hardState = hardState;
    if (snapshot !== undefined) ready.snapshot = snapshot;
    raft.messages = [];
    raft.readStates = [];
    this.previousSoftState = softState;
    this.previousHardState = hardState;
    this.outstandingReady = ready;
    return ready;
  }

  /** The host persisted, sent and applied everything in ready. */
  advance(ready: Ready): void {
    assert(this.outstandingReady === ready, 'advance: not the Ready handed out last');
    if (ready.snapshot !== undefined) this.raft.appliedSnapshot(ready.snapshot);
    if (ready.entries.length > 0) {
      const last = ready.entries[ready.entries.length - 1];
      this.raft.log.unstable.stableTo(last.index, last.term);
    }
    if (ready.committedEntries.length > 0) {
      const last = ready.committedEntries[ready.committedEntries.length - 1];
      this.raft.appliedTo(last.index, entriesPayloadBytes(ready.committedEntries));
    }
    this.outstandingReady = undefined;
  }

  status(): Status {
    const raft = this.raft;
    const progress = new Map<NodeId, ProgressStatus>();
    if (raft.role === Role.Leader) {
      for (const id of raft.tracker.members()) {
        const member = raft.tracker.progress.get(id);
        if (member === undefined) continue;
        progress.set(id, {
          match: member.match,
          next: member.next,
          state: member.state,
          pendingSnapshot: member.pendingSnapshot,
          recentActive: member.recentActive,
          isLearner: member.isLearner,
          inflightMessages: member.inflights.count,
          inflightBytes: member.inflights.bytes,
          paused: member.isPaused(),
        });
      }
    }
    return {
      id: raft.id,
      term: raft.term,
      vote: raft.vote,
      commit: raft.log.committed,
      applied: raft.log.applied,
      lead: raft.lead,
      role: raft.role,
      leadTransferee: raft.leadTransferee,
      campaignEnabled: raft.campaignEnabled,
      confState: raft.tracker.confState(),
      progress,
    };
  }
}

function proposalEntry(type: EntryType, data: Uint8Array): Entry {
  // Term and index are assigned by the leader when it appends the proposal.
  return { term: 0 as Term, index: 0 as LogIndex, type, data };
}
