// The multi-raft host of one instance: many Raft groups, one persistence (the shared
// write-ahead log), one transport. It runs the Ready loop for all groups together, so one
// sync makes the Ready batches of every group durable at once (group commit), and it
// coalesces the heartbeats of all groups for one peer into one message per cycle.
//
// A cycle: take the Ready of every group that has one; send the Appends and heartbeats
// of the groups it leads; persist them all (one sync when any must be synced); send the
// other messages; apply their committed entries; advance.
// Ticks and received messages only step the cores and ask for a cycle; a cycle runs at a
// time, and one more follows when something arrived during it.
import {
  ConfChangeType,
  MessageType,
  Role,
  encodeConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type RaftLimits,
  type RaftSimulationFaults,
  type Ready,
  raftLimitsDefault,
} from '../raft/index.js';
import type { Random } from '../random/index.js';
import { AtollError } from '../errors/atoll-error.js';
import { assert } from '../errors/assert.js';
import { StatusCode } from '../proto/generated/common.js';
import { PeerAddress as WirePeerAddress } from '../proto/generated/raft.js';
import { wrapCommand } from './proposal-envelope.js';
import { RaftGroup, readRequestContext, type RecoveredGroupState } from './raft-group.js';
import type { GroupId, GroupMessage, GroupStateMachine, PeerAddress, RaftPersistence, RaftTransport } from './types.js';
import { raftHostLimitsDefault, type RaftHostLimits } from './limits.js';

export interface RaftHostLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

const silent: RaftHostLogger = { debug() {}, info() {}, warn() {} };

export interface RaftHostOptions {
  readonly nodeId: NodeId;
  readonly persistence: RaftPersistence;
  readonly transport: RaftTransport;
  readonly random: Random;
  // Runs a function soon, outside the caller's stack: queueMicrotask-like in production,
  // an event of the scheduler in the simulator.
  readonly defer: (work: () => void) => void;
  readonly limits?: Partial<RaftHostLimits>;
  readonly raftLimits?: Partial<RaftLimits>;
  readonly logger?: RaftHostLogger;
  // A cycle failed (the disk refused a write or a sync): the host has stopped and holds
  // nothing it can trust. Production crashes the instance; the default rethrows.
  readonly onFatalError?: (error: unknown) => void;
  // Sees every entry applied by every group (the simulator's safety checker).
  readonly onApplied?: (groupId: GroupId, entry: Entry) => void;
  // Deliberate protocol bugs, for the simulator only (see RaftSimulationFaults).
  readonly simulationFaults?: RaftSimulationFaults;
  // Lease reads: a leader answers a read index from its check-quorum lease, without a
  // heartbeat round, while a quorum acknowledged a heartbeat less than an election timeout
  // (minus a tick) ago. The lease is counted in ticks, and ticks come from a timer that a
  // paused or busy process (a GC pause, SIGSTOP, a long event-loop turn) fires late: a
  // leader whose ticks fell behind real time would trust a lease that ran out for its
  // followers. So the host measures, with `nowMs` (a monotonic clock) and `tickMs` (the
  // timer's period), how far real time ran ahead of its ticks since the tick an election
  // timeout ago, and the groups count that against the lease they have left
  // (RaftConfig.leaseClockLagTicks); a lease it uses up sends the read index through a
  // heartbeat round. Ticks are never run in bursts to catch up (that would run election
  // and check-quorum timers ahead of the messages waiting in the sockets). Without this
  // option: safe reads.
  readonly leaseReads?: { readonly nowMs: () => number; readonly tickMs: number };
}

export interface CreateGroupOptions {
  readonly groupId: GroupId;
  readonly peers: readonly PeerAddress[];
  readonly stateMachine: GroupStateMachine;
  // Founding members bootstrap a new group; a member added later joins empty.
  readonly bootstrap: boolean;
  // False until the group's state is loaded and caught up (staged start-up).
  readonly campaignEnabled?: boolean;
  readonly recovered?: RecoveredGroupState;
}

export interface GroupStatus {
  readonly groupId: GroupId;
  readonly role: Role;
  readonly leader: NodeId;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly snapshotIndex: number;
  readonly confState: ConfState;
  readonly campaignEnabled: boolean;
}

// Counters since the host started (benchmarks and diagnostics).
export interface RaftHostStats {
  // Ready cycles run, and those that synced the persistence.
  readonly cycles: number;
  readonly syncedCycles: number;
  // Entries handed to the persistence, over all groups.
  readonly entriesPersisted: number;
  // Raft messages of all groups handed to the transport (heartbeats included) and
  // received from it.
  readonly messagesSent: number;
  readonly messagesReceived: number;
}

export class RaftHost {
  readonly nodeId: NodeId;
  private readonly groups = new Map<GroupId, RaftGroup>();
  private readonly limits: RaftHostLimits;
  private readonly logger: RaftHostLogger;
  private tickCount = 0;
  // Lease reads: the clock reading that tick 0 stands for.
  private readonly clockStartMs: number;
  private readonly electionTicks: number;
  // Lease reads: how many ticks behind the clock the host was right after each of the
  // last electionTicks + 1 ticks, oldest first.
  private readonly driftAfterTicks: number[] = [];
  private cycleRunning = false;
  private cycleRequested = false;
  private cycleScheduled = false;
  private stopped = false;
  private nextRequestId: number;
  private idle: Array<() => void> = [];
  // Groups with proposals queued for the next cycle.
  private readonly proposing = new Set<RaftGroup>();
  private counters = { cycles: 0, syncedCycles: 0, entriesPersisted: 0, messagesSent: 0, messagesReceived: 0 };

  constructor(private readonly options: RaftHostOptions) {
    this.nodeId = options.nodeId;
    this.limits = { ...raftHostLimitsDefault, ...options.limits };
    this.logger = options.logger ?? silent;
    // A random start so request ids of this run never match entries of an earlier run.
    this.nextRequestId = (options.random.nextUint32() % 0x10_0000) * 0x1_0000_0000 + 1;
    this.clockStartMs = options.leaseReads?.nowMs() ?? 0;
    this.electionTicks = options.raftLimits?.electionTicks ?? raftLimitsDefault.electionTicks;
    if (options.leaseReads !== undefined) assert(options.leaseReads.tickMs > 0, () => `raft host: lease reads need tickMs > 0, got ${options.leaseReads!.tickMs}`);
  }

  createGroup(options: CreateGroupOptions): void {
    assert(!this.stopped, 'createGroup on a stopped host');
    if (this.groups.has(options.groupId)) throw new AtollError(StatusCode.EXISTS, `raft group ${options.groupId} already exists on node ${this.nodeId}`);
    const group = new RaftGroup({
      groupId: options.groupId,
      nodeId: this.nodeId,
      peers: options.peers,
      stateMachine: options.stateMachine,
      random: this.options.random,
      raftLimits: this.options.raftLimits,
      bootstrap: options.bootstrap,
      campaignEnabled: options.campaignEnabled ?? true,
      recovered: options.recovered,
      simulationFaults: this.options.simulationFaults,
      leaseReads: this.options.leaseReads === undefined ? undefined : { clockLagTicks: this.leaseClockLag },
      onApplied: this.options.onApplied === undefined ? undefined : (entry) => this.options.onApplied!(options.groupId, entry),
    });
    this.groups.set(options.groupId, group);
    this.requestCycle();
  }

  removeGroup(groupId: GroupId): void {
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    this.groups.delete(groupId);
    this.proposing.delete(group);
    group.failAll(new AtollError(StatusCode.NOT_FOUND, `raft group ${groupId} was removed from node ${this.nodeId}`));
    this.options.persistence.removeGroup(groupId);
  }

  hasGroup(groupId: GroupId): boolean {
    return this.groups.has(groupId);
  }

  groupIds(): GroupId[] {
    return [...this.groups.keys()];
  }

  // Releases (or holds back) a group's candidacy: staged start-up keeps a group from
  // standing for election until its partition is loaded and caught up.
  setCampaignEnabled(groupId: GroupId, enabled: boolean): void {
    this.group(groupId).rawNode.setCampaignEnabled(enabled);
  }

  status(groupId: GroupId): GroupStatus {
    const group = this.group(groupId);
    const status = group.rawNode.status();
    return {
      groupId,
      role: status.role,
      leader: status.lead,
      term: status.term,
      commit: status.commit,
      applied: group.applied,
      snapshotIndex: group.snapshotIndex,
      confState: group.confState,
      campaignEnabled: status.campaignEnabled,
    };
  }

  stats(): RaftHostStats {
    return { ...this.counters };
  }

  peersOf(groupId: GroupId): PeerAddress[] {
    return [...this.group(groupId).peers.values()];
  }

  // Replicates a command and resolves with the state machine's result on this node, once
  // it is applied here. Only the leader accepts proposals. Commands proposed between two
  // cycles enter the log together at the start of the next one (one step, one Append per
  // follower for all of them); commands proposed while a cycle syncs wait for the next,
  // as they would have anyway.
  propose(groupId: GroupId, command: Uint8Array): Promise<unknown> {
    const group = this.group(groupId);
    const notLeader = this.refuseUnlessLeader(group);
    if (notLeader !== null) return Promise.reject(notLeader);
    if (group.proposals.size >= this.limits.pendingProposalsMax) {
      return Promise.reject(new AtollError(StatusCode.OVERLOADED, `group ${groupId}: ${group.proposals.size} proposals pending`));
    }
    const requestId = this.newRequestId();
    group.queuedCommands.push(wrapCommand(requestId, command));
    group.queuedRequestIds.push(requestId);
    this.proposing.add(group);
    return this.waitForProposal(group, requestId);
  }

  // Adds (or promotes) a voter, adds a learner, or removes a member; resolves with the
  // membership once the change is applied here.
  proposeConfChange(groupId: GroupId, type: ConfChangeType, peer: PeerAddress): Promise<ConfState> {
    const group = this.group(groupId);
    const notLeader = this.refuseUnlessLeader(group);
    if (notLeader !== null) return Promise.reject(notLeader);
    const requestId = this.newRequestId();
    const address = WirePeerAddress.encode({ nodeId: peer.nodeId, host: peer.host, heartbeatPort: peer.heartbeatPort, replicaPort: peer.replicaPort });
    const refused = group.rawNode.proposeConfChange({ type, nodeId: peer.nodeId, context: wrapCommand(requestId, address) });
    if (refused !== undefined) return Promise.reject(new AtollError(StatusCode.OVERLOADED, `group ${groupId}: membership change refused: ${refused.message}`));
    return this.waitForProposal(group, requestId) as Promise<ConfState>;
  }

  // A linearizable read barrier: resolves once this leader has confirmed its leadership
  // with a quorum and applied everything committed before the call.
  readIndex(groupId: GroupId): Promise<void> {
    const group = this.group(groupId);
    const notLeader = this.refuseUnlessLeader(group);
    if (notLeader !== null) return Promise.reject(notLeader);
    const requestId = this.newRequestId();
    const refused = group.rawNode.readIndex(readRequestContext(requestId));
    if (refused !== undefined) return Promise.reject(new AtollError(StatusCode.UNAVAILABLE, `group ${groupId}: read index refused: ${refused.message}`));
    const done = new Promise<void>((resolve, reject) => {
      group.reads.set(requestId, { resolve: resolve as (value: unknown) => void, reject, expiresAtTick: this.tickCount + this.limits.requestTimeoutTicks, index: null });
    });
    this.requestCycle();
    return done;
  }

  transferLeadership(groupId: GroupId, to: NodeId): void {
    const refused = this.group(groupId).rawNode.transferLeadership(to);
    if (refused !== undefined) throw new AtollError(StatusCode.INVALID_ARGUMENT, `group ${groupId}: transfer to ${to} refused: ${refused.message}`);
    this.requestCycle();
  }

  // One logical tick for every group (elections, heartbeats, timeouts).
  tick(): void {
    if (this.stopped) return;
    this.tickCount += 1;
    for (const group of this.groups.values()) {
      group.rawNode.tick();
      group.expireWaiters(this.tickCount);
    }
    const clock = this.options.leaseReads;
    if (clock !== undefined) {
      this.driftAfterTicks.push(this.ticksBehind(clock));
      if (this.driftAfterTicks.length > this.electionTicks + 1) this.driftAfterTicks.shift();
    }
    this.requestCycle();
  }

  // Lease reads: periods of the clock since the host started, less the ticks it ran.
  private ticksBehind(clock: { readonly nowMs: () => number; readonly tickMs: number }): number {
    return (clock.nowMs() - this.clockStartMs) / clock.tickMs - this.tickCount;
  }

  // Lease reads: a lease rests on a heartbeat sent at most an election timeout ago, so
  // what matters is how far real time ran ahead of the ticks since the tick an election
  // timeout ago: how far the ticks are behind the clock now (between two ticks, the part
  // of a period since the last one included) less how far they were behind right after
  // that tick. The core weighs it against the lease it has left (RaftConfig.
  // leaseClockLagTicks). Until the host has run that many ticks: unknown, no lease.
  private readonly leaseClockLag = (): number => {
    const clock = this.options.leaseReads;
    const window = this.driftAfterTicks;
    if (clock === undefined || window.length <= this.electionTicks) return Number.POSITIVE_INFINITY;
    return this.ticksBehind(clock) - window[0]!;
  };

  // Messages from other instances; `from` is the sender's own address record.
  receive(messages: readonly GroupMessage[], from?: PeerAddress): void {
    if (this.stopped) return;
    this.counters.messagesReceived += messages.length;
    for (const { groupId, message } of messages) {
      const group = this.groups.get(groupId);
      if (group === undefined) {
        // A group this node does not hold (yet, or any more): the master decides membership.
        this.logger.debug({ groupId, from: message.from, type: MessageType[message.type] }, 'raft message for an unknown group dropped');
        continue;
      }
      // A member this replica has no record of (it joined while this one was down) can
      // still be answered; a record it has is never replaced from a message.
      if (from !== undefined && from.nodeId === message.from && !group.peers.has(message.from)) {
        group.peers.set(message.from, from);
        this.logger.info({ groupId, peer: from.nodeId }, 'raft peer record learned from its message');
      }
      const refused = group.rawNode.step(message);
      if (refused !== undefined) this.logger.debug({ groupId, from: message.from, reason: refused.message }, 'raft message refused');
    }
    this.requestCycle();
  }

  reportUnreachable(groupId: GroupId, nodeId: NodeId): void {
    this.groups.get(groupId)?.rawNode.reportUnreachable(nodeId);
  }

  // Resolves when no cycle is running and none is needed (tests and orderly shutdown).
  settled(): Promise<void> {
    // A stopped (or halted) host runs no more cycles: what its cores still hold stays
    // there, and only a cycle already running is waited for.
    if (!this.cycleRunning && (this.stopped || (!this.cycleScheduled && !this.anyReady()))) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  // Stops at once, as a crash would: no more cycles, ticks or messages; every waiter fails
  // with UNAVAILABLE (its outcome unknown). What the disk holds is all that remains.
  halt(): void {
    this.stopped = true;
    const error = new AtollError(StatusCode.UNAVAILABLE, `node ${this.nodeId} halted`);
    for (const group of this.groups.values()) group.failAll(error);
    const waiting = this.idle;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  // The persisted log of a group as its core reads it, for checkers and diagnostics.
  inspectLog(groupId: GroupId): { firstIndex: number; lastIndex: number; entries: Entry[] } {
    const storage = this.group(groupId).storage;
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    const entries = lastIndex >= firstIndex ? storage.entries(firstIndex, (lastIndex + 1) as never, Number.MAX_SAFE_INTEGER) : [];
    return { firstIndex, lastIndex, entries };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.settled();
    const error = new AtollError(StatusCode.UNAVAILABLE, `node ${this.nodeId} is stopping`);
    for (const group of this.groups.values()) group.failAll(error);
  }

  private group(groupId: GroupId): RaftGroup {
    const group = this.groups.get(groupId);
    if (group === undefined) throw new AtollError(StatusCode.NOT_FOUND, `raft group ${groupId} is not on node ${this.nodeId}`);
    return group;
  }

  private refuseUnlessLeader(group: RaftGroup): AtollError | null {
    if (this.stopped) return new AtollError(StatusCode.UNAVAILABLE, `node ${this.nodeId} is stopping`);
    if (group.isLeader) return null;
    const leader = group.leader;
    return new AtollError(StatusCode.NOT_LEADER, `group ${group.groupId}: node ${this.nodeId} is not the leader${leader !== 0 ? `; node ${leader} is` : ''}`, { leaderHint: leader !== 0 ? `node:${leader}` : '' });
  }

  private newRequestId(): number {
    const requestId = this.nextRequestId;
    this.nextRequestId += 1;
    return requestId;
  }

  private waitForProposal(group: RaftGroup, requestId: number): Promise<unknown> {
    const done = new Promise<unknown>((resolve, reject) => {
      group.proposals.set(requestId, { resolve, reject, expiresAtTick: this.tickCount + this.limits.requestTimeoutTicks });
    });
    this.requestCycle();
    return done;
  }

  private anyReady(): boolean {
    if (this.proposing.size > 0) return true;
    for (const group of this.groups.values()) if (group.rawNode.hasReady()) return true;
    return false;
  }

  private requestCycle(): void {
    if (this.cycleRunning) {
      this.cycleRequested = true;
      return;
    }
    if (this.cycleScheduled) return;
    this.cycleScheduled = true;
    this.options.defer(() => {
      this.cycleScheduled = false;
      void this.runCycles();
    });
  }

  private async runCycles(): Promise<void> {
    if (this.cycleRunning) return;
    this.cycleRunning = true;
    try {
      for (let cycles = 0; cycles < this.limits.cyclesPerRunMax && !this.stopped; cycles++) {
        this.cycleRequested = false;
        const worked = await this.cycle();
        if (!worked && !this.cycleRequested) break;
      }
    } catch (error) {
      // Persistence failed mid-cycle: nothing after this point may be trusted.
      this.halt();
      this.cycleRunning = false;
      if (this.options.onFatalError === undefined) throw error;
      this.options.onFatalError(error);
      return;
    } finally {
      this.cycleRunning = false;
    }
    if (this.stopped) {
      const waiting = this.idle;
      this.idle = [];
      for (const resolve of waiting) resolve();
      return;
    }
    if (this.cycleRequested || this.anyReady()) {
      this.requestCycle();
      return;
    }
    const waiting = this.idle;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }

  // Steps the commands queued since the last cycle into the cores, one batch per group.
  private proposeQueued(): void {
    for (const group of this.proposing) {
      const { commands, requestIds } = group.takeQueuedProposals();
      if (commands.length === 0) continue;
      const refused = group.rawNode.proposeBatch(commands);
      if (refused === undefined) continue;
      // The core is no longer the leader (or cannot take more): the callers retry, at the
      // leader if one is known.
      const leader = group.rawNode.status().lead;
      const hint = leader !== 0 && leader !== this.nodeId ? `node:${leader}` : '';
      group.rejectProposals(requestIds, new AtollError(StatusCode.NOT_LEADER, `group ${group.groupId}: ${refused.message}`, { leaderHint: hint }));
    }
    this.proposing.clear();
  }

  // One Ready round over all groups; false when no group had anything.
  private async cycle(): Promise<boolean> {
    this.proposeQueued();
    const batch: Array<{ group: RaftGroup; ready: Ready }> = [];
    for (const group of this.groups.values()) {
      if (group.rawNode.hasReady()) batch.push({ group, ready: group.rawNode.ready() });
    }
    if (batch.length === 0) return false;
    const persistence = this.options.persistence;
    this.counters.cycles += 1;

    // 0. A leader's Appends and heartbeats go out before its own disk write (Raft thesis
    // 10.2.1): the followers persist in parallel with it. Safe because the leader
    // acknowledges nothing, and announces no commit, before a later cycle, which starts
    // only once this one's sync is done; see leaderMessagesNow().
    const now: Array<{ group: RaftGroup; messages: readonly Message[] }> = [];
    const afterSync: Array<{ group: RaftGroup; messages: readonly Message[] }> = [];
    for (const { group, ready } of batch) {
      if (ready.messages.length === 0) continue;
      const early = this.leaderMessagesNow(group, ready);
      if (early === null) {
        afterSync.push({ group, messages: ready.messages });
        continue;
      }
      now.push({ group, messages: early.now });
      if (early.afterSync.length > 0) afterSync.push({ group, messages: early.afterSync });
    }
    if (now.length > 0) this.send(now);

    // 1. Persist every group's Ready; one sync for all of them.
    let mustSync = false;
    for (const { group, ready } of batch) {
      if (ready.snapshot !== undefined) {
        const { metadata, data } = ready.snapshot;
        await persistence.saveSnapshot(group.groupId, { index: metadata.index, term: metadata.term, confState: metadata.confState, data });
        // A crash while writing: the dead node must not go on (nor send) after it.
        if (this.stopped) return false;
      }
      if (ready.entries.length > 0) {
        persistence.appendEntries(group.groupId, ready.entries);
        this.counters.entriesPersisted += ready.entries.length;
      }
      if (ready.hardState !== undefined) persistence.setHardState(group.groupId, ready.hardState);
      mustSync ||= ready.mustSync;
    }
    if (mustSync) {
      this.counters.syncedCycles += 1;
      await persistence.sync();
    }
    if (this.stopped) return false;
    // What is durable now goes into the log the cores read (etcd's order: disk first).
    for (const { group, ready } of batch) {
      if (ready.snapshot !== undefined) group.storage.applySnapshot(ready.snapshot);
      if (ready.entries.length > 0) group.storage.append(ready.entries as Entry[]);
      if (ready.hardState !== undefined) group.storage.setHardState(ready.hardState);
    }

    // 2. Send the rest: heartbeats of all groups per peer together, the rest batched per peer.
    this.send(afterSync);
    // The transport writes what it was given once this turn of the event loop is over. A
    // follower's acknowledgement must not wait behind the apply below (the entries the
    // leader's last commit covered: a whole batch under load), so yield first when both.
    if (afterSync.length > 0 && batch.some(({ ready }) => ready.committedEntries.length > 0)) {
      await new Promise<void>((resolve) => this.options.defer(resolve));
      if (this.stopped) return false;
    }

    // 3. Apply, and note leadership changes.
    for (const { group, ready } of batch) {
      if (ready.softState !== undefined) {
        const wasLeader = group.isLeader;
        group.leader = ready.softState.lead;
        group.role = ready.softState.role;
        if (wasLeader && !group.isLeader) {
          group.failReads(new AtollError(StatusCode.NOT_LEADER, `group ${group.groupId}: leadership moved while a read waited`));
        }
        this.logger.info({ groupId: group.groupId, role: group.role, leader: group.leader }, 'raft role changed');
      }
      if (ready.snapshot !== undefined) group.installSnapshot(ready.snapshot);
      if (ready.committedEntries.length > 0) group.applyEntries(ready.committedEntries);
      if (ready.readStates.length > 0) group.noteReadStates(ready.readStates);
    }

    // 4. Advance, then take snapshots where the log has grown long.
    for (const { group, ready } of batch) group.rawNode.advance(ready);
    for (const { group } of batch) {
      if (this.stopped) return false;
      if (this.snapshotDue(group)) await this.takeSnapshot(group);
    }
    return true;
  }

  // Which of a Ready's messages may leave before the Ready is durable: a leader's Appends
  // and heartbeats, when the Ready changes neither term nor vote (a new term must be on
  // disk before anyone hears of it) and they announce no commit beyond what this node
  // already holds durably (a single voter commits on its own: its learners must not apply
  // what it could still lose). Everything else waits for the sync. null: all of them wait.
  private leaderMessagesNow(group: RaftGroup, ready: Ready): { now: Message[]; afterSync: Message[] } | null {
    const role = ready.softState?.role ?? group.role;
    if (role !== Role.Leader || ready.snapshot !== undefined) return null;
    const durable = group.storage.initialState().hardState;
    if (ready.hardState !== undefined && (ready.hardState.term !== durable.term || ready.hardState.vote !== durable.vote)) return null;
    const durableIndex = group.storage.lastIndex();
    const now: Message[] = [];
    const afterSync: Message[] = [];
    for (const message of ready.messages) {
      const early = (message.type === MessageType.Append || message.type === MessageType.Heartbeat) && message.commit <= durableIndex;
      (early ? now : afterSync).push(message);
    }
    return { now, afterSync };
  }

  private send(batch: ReadonlyArray<{ group: RaftGroup; messages: readonly Message[] }>): void {
    const heartbeats = new Map<string, { peer: PeerAddress; messages: GroupMessage[] }>();
    const others = new Map<string, { peer: PeerAddress; messages: GroupMessage[] }>();
    const transport = this.options.transport;
    for (const { group, messages } of batch) {
      for (const message of messages) {
        const peer = group.peers.get(message.to);
        if (peer === undefined) {
          this.logger.warn({ groupId: group.groupId, to: message.to, type: MessageType[message.type] }, 'raft peer has no address record; message dropped');
          group.rawNode.reportUnreachable(message.to);
          continue;
        }
        const groupMessage = { groupId: group.groupId, message };
        if (message.type === MessageType.Snapshot) {
          transport.sendSnapshot(peer, groupMessage).then(
            (delivered) => this.reportSnapshot(group.groupId, message.to, delivered),
            () => this.reportSnapshot(group.groupId, message.to, false),
          );
          continue;
        }
        const buckets = message.type === MessageType.Heartbeat || message.type === MessageType.HeartbeatResponse ? heartbeats : others;
        const key = `${peer.nodeId}@${peer.host}:${peer.heartbeatPort}:${peer.replicaPort}`;
        let bucket = buckets.get(key);
        if (bucket === undefined) {
          bucket = { peer, messages: [] };
          buckets.set(key, bucket);
        }
        bucket.messages.push(groupMessage);
      }
    }
    for (const { peer, messages } of heartbeats.values()) {
      this.counters.messagesSent += messages.length;
      transport.sendHeartbeats(peer, messages);
    }
    for (const { peer, messages } of others.values()) {
      this.counters.messagesSent += messages.length;
      transport.send(peer, messages);
    }
  }

  private reportSnapshot(groupId: GroupId, to: NodeId, delivered: boolean): void {
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    group.rawNode.reportSnapshot(to, delivered);
    this.requestCycle();
  }

  private snapshotDue(group: RaftGroup): boolean {
    return group.applied - group.snapshotIndex >= this.limits.snapshotEntriesMin;
  }

  private async takeSnapshot(group: RaftGroup): Promise<void> {
    const index = group.applied;
    const data = group.encodeSnapshotData();
    const snapshot = group.storage.createSnapshot(index as never, group.confState, data);
    await this.options.persistence.saveSnapshot(group.groupId, { index, term: snapshot.metadata.term, confState: group.confState, data });
    group.snapshotIndex = index;
    // Keep some entries behind the snapshot, so a follower that lags a little catches up
    // from the log instead of needing the whole snapshot.
    const compactTo = index - this.limits.entriesKeptAfterSnapshot;
    if (compactTo > group.storage.firstIndex()) group.storage.compact(compactTo as never);
    this.logger.debug({ groupId: group.groupId, index }, 'raft snapshot taken');
  }
}

// Encodes an AddVoter/AddLearner/RemoveNode change the way the host proposes it (used by
// tools and tests that build conf change entries directly).
export function encodeHostConfChange(type: ConfChangeType, peer: PeerAddress, requestId: number): Uint8Array {
  const address = WirePeerAddress.encode({ nodeId: peer.nodeId, host: peer.host, heartbeatPort: peer.heartbeatPort, replicaPort: peer.replicaPort });
  return encodeConfChange({ type, nodeId: peer.nodeId, context: wrapCommand(requestId, address) });
}
