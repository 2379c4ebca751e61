// One Raft group hosted by a RaftHost: its Raft core, the in-memory view of its log,
// its state machine, the records of its peers, and the callers waiting on it.
import {
  ConfChangeType,
  MemoryStorage,
  RawNode,
  ReadOnlyOption,
  Role,
  decodeConfChange,
  type ConfState,
  type Entry,
  type NodeId,
  type RaftLimits,
  type RaftSimulationFaults,
  type ReadState,
  type Snapshot,
} from '../raft/index.js';
import type { Random } from '../random/index.js';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { GroupSnapshotData, PeerAddress as WirePeerAddress } from '../proto/generated/raft.js';
import { unwrapCommand } from './proposal-envelope.js';
import type { GroupId, GroupStateMachine, PeerAddress } from './types.js';

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (error: AtollError) => void;
  expiresAtTick: number;
}

interface ReadWaiter extends Waiter {
  // Set when the read index is known; the read completes once applied reaches it.
  index: number | null;
}

export interface RecoveredGroupState {
  readonly hardState: { term: number; vote: number; commit: number };
  readonly snapshot: { index: number; term: number; confState: ConfState; data: Uint8Array } | null;
  readonly entries: readonly Entry[];
}

export interface RaftGroupOptions {
  readonly groupId: GroupId;
  readonly nodeId: NodeId;
  readonly peers: readonly PeerAddress[];
  readonly stateMachine: GroupStateMachine;
  readonly random: Random;
  readonly raftLimits?: Partial<RaftLimits>;
  // A new group whose founding members are `peers`.
  readonly bootstrap: boolean;
  readonly campaignEnabled: boolean;
  readonly recovered?: RecoveredGroupState;
  readonly simulationFaults?: RaftSimulationFaults;
  // Read index from the leader's check-quorum lease (RaftHostOptions.leaseReads), with
  // how far real time ran ahead of the host's ticks (RaftConfig.leaseClockLagTicks).
  readonly leaseReads?: { readonly clockLagTicks: () => number };
  // Sees every entry this replica applies, in order (the simulator's safety checker).
  readonly onApplied?: (entry: Entry) => void;
}

export class RaftGroup {
  readonly groupId: GroupId;
  readonly nodeId: NodeId;
  readonly storage: MemoryStorage;
  readonly rawNode: RawNode;
  readonly stateMachine: GroupStateMachine;
  readonly peers = new Map<NodeId, PeerAddress>();
  readonly proposals = new Map<number, Waiter>();
  // Commands proposed since the last cycle, with their request ids: the host steps them
  // into the core together, so they travel in one Append per follower.
  queuedCommands: Uint8Array[] = [];
  queuedRequestIds: number[] = [];
  readonly reads = new Map<number, ReadWaiter>();
  applied = 0;
  snapshotIndex = 0;
  confState: ConfState = { voters: [], learners: [] };
  leader: NodeId = 0 as NodeId;
  role: Role = Role.Follower;
  removed = false;
  private readonly onApplied: ((entry: Entry) => void) | undefined;

  constructor(options: RaftGroupOptions) {
    this.onApplied = options.onApplied;
    this.groupId = options.groupId;
    this.nodeId = options.nodeId;
    this.stateMachine = options.stateMachine;
    this.storage = new MemoryStorage();
    for (const peer of options.peers) this.peers.set(peer.nodeId, peer);
    const recovered = options.recovered;
    if (recovered !== undefined) {
      if (recovered.snapshot !== null) {
        const snapshot: Snapshot = {
          metadata: { index: recovered.snapshot.index as never, term: recovered.snapshot.term as never, confState: recovered.snapshot.confState },
          data: recovered.snapshot.data,
        };
        this.storage.applySnapshot(snapshot);
        this.restoreSnapshotData(snapshot.data, recovered.snapshot.index);
        this.confState = recovered.snapshot.confState;
      }
      if (recovered.entries.length > 0) this.storage.append(recovered.entries);
      this.storage.setHardState(recovered.hardState as never);
    }
    this.rawNode = new RawNode({
      id: options.nodeId,
      storage: this.storage,
      random: options.random,
      applied: this.applied as never,
      limits: options.raftLimits,
      preVote: true,
      checkQuorum: true,
      readOnlyOption: options.leaseReads !== undefined ? ReadOnlyOption.LeaseBased : ReadOnlyOption.Safe,
      leaseClockLagTicks: options.leaseReads?.clockLagTicks,
      campaignEnabled: options.campaignEnabled,
      // Callers propose at the leader; a follower answers NOT_LEADER instead of forwarding,
      // so a proposal's fate is known on the node that made it.
      disableProposalForwarding: true,
      simulationFaults: options.simulationFaults,
      // Followers learn a new commit index from the next Append or heartbeat (a tick at
      // most) instead of one more Append and answer per follower per commit: under load
      // that halved the Raft messages per entry with 64 groups (bench:raft). Callers are
      // answered by the leader, which applies at once.
      skipCommitBroadcast: true,
    });
    if (options.bootstrap && recovered === undefined) {
      this.rawNode.bootstrap(options.peers.map((peer) => peer.nodeId));
      this.confState = { voters: options.peers.map((peer) => peer.nodeId), learners: [] };
    }
  }

  get isLeader(): boolean {
    return this.role === Role.Leader;
  }

  // Applies committed entries to the state machine and membership, and wakes waiters.
  applyEntries(entries: readonly Entry[]): void {
    if (this.stateMachine.applyBatch === undefined) this.applyEach(entries);
    else this.stateMachine.applyBatch(() => this.applyEach(entries));
    this.completeReads();
  }

  private applyEach(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index <= this.applied) continue;
      if (entry.type === 1 /* EntryType.ConfChange */) this.applyConfChangeEntry(entry);
      else this.applyNormalEntry(entry);
      this.applied = entry.index;
      this.onApplied?.(entry);
    }
  }

  private applyNormalEntry(entry: Entry): void {
    const unwrapped = unwrapCommand(entry.data);
    if (unwrapped === null) return; // a leader's empty entry
    let result: unknown;
    let failure: AtollError | null = null;
    try {
      result = this.stateMachine.apply(entry.index, unwrapped.command);
    } catch (error) {
      // An expected refusal of the state machine (e.g. a name that exists) is the
      // command's result; anything else is a bug and must stop this replica.
      if (!(error instanceof AtollError)) throw error;
      failure = error;
    }
    const waiter = this.proposals.get(unwrapped.requestId);
    if (waiter === undefined) return;
    this.proposals.delete(unwrapped.requestId);
    if (failure !== null) waiter.reject(failure);
    else waiter.resolve(result);
  }

  private applyConfChangeEntry(entry: Entry): void {
    const change = decodeConfChange(entry.data);
    this.confState = this.rawNode.applyConfChange(change);
    // The context of a change proposed through the host is [request envelope][PeerAddress].
    const unwrapped = unwrapCommand(change.context);
    if (unwrapped !== null && unwrapped.command.length > 0 && change.type !== ConfChangeType.RemoveNode) {
      const wire = WirePeerAddress.decode(unwrapped.command);
      this.peers.set(wire.nodeId as NodeId, { nodeId: wire.nodeId as NodeId, host: wire.host, heartbeatPort: wire.heartbeatPort, replicaPort: wire.replicaPort });
    }
    if (change.type === ConfChangeType.RemoveNode) {
      if (change.nodeId === this.nodeId) this.removed = true;
      else this.peers.delete(change.nodeId);
    }
    if (unwrapped !== null) {
      const waiter = this.proposals.get(unwrapped.requestId);
      if (waiter !== undefined) {
        this.proposals.delete(unwrapped.requestId);
        waiter.resolve(this.confState);
      }
    }
  }

  // A snapshot from the leader (or recovered): the state machine and the peers it names.
  installSnapshot(snapshot: Snapshot): void {
    this.restoreSnapshotData(snapshot.data, snapshot.metadata.index);
    this.confState = snapshot.metadata.confState;
    this.completeReads();
  }

  private restoreSnapshotData(data: Uint8Array, index: number): void {
    const decoded = GroupSnapshotData.decode(data);
    for (const peer of decoded.peers) {
      this.peers.set(peer.nodeId as NodeId, { nodeId: peer.nodeId as NodeId, host: peer.host, heartbeatPort: peer.heartbeatPort, replicaPort: peer.replicaPort });
    }
    this.stateMachine.restore(decoded.state, index);
    this.applied = index;
    this.snapshotIndex = index;
  }

  // The snapshot data this group's snapshots carry: peers and state machine state.
  encodeSnapshotData(): Uint8Array {
    return GroupSnapshotData.encode({
      peers: [...this.peers.values()].map((peer) => ({ nodeId: peer.nodeId, host: peer.host, heartbeatPort: peer.heartbeatPort, replicaPort: peer.replicaPort })),
      state: this.stateMachine.snapshot(),
    });
  }

  noteReadStates(readStates: readonly ReadState[]): void {
    for (const state of readStates) {
      const requestId = readRequestId(state.requestCtx);
      const waiter = this.reads.get(requestId);
      if (waiter !== undefined) waiter.index = state.index;
    }
    this.completeReads();
  }

  private completeReads(): void {
    for (const [requestId, waiter] of this.reads) {
      if (waiter.index !== null && waiter.index <= this.applied) {
        this.reads.delete(requestId);
        waiter.resolve(undefined);
      }
    }
  }

  // Fails every waiter whose deadline (in ticks) has passed.
  expireWaiters(tick: number): void {
    for (const [requestId, waiter] of this.proposals) {
      if (waiter.expiresAtTick <= tick) {
        this.proposals.delete(requestId);
        waiter.reject(new AtollError(StatusCode.TIMEOUT, `group ${this.groupId}: proposal not applied in time; it may or may not take effect`));
      }
    }
    for (const [requestId, waiter] of this.reads) {
      if (waiter.expiresAtTick <= tick) {
        this.reads.delete(requestId);
        waiter.reject(new AtollError(StatusCode.TIMEOUT, `group ${this.groupId}: read index not confirmed in time`));
      }
    }
  }

  // Leadership moved away: reads waiting for a quorum of this leader will never get it.
  failReads(error: AtollError): void {
    for (const waiter of this.reads.values()) waiter.reject(error);
    this.reads.clear();
  }

  // The proposals queued since the last cycle, handed over and forgotten.
  takeQueuedProposals(): { commands: Uint8Array[]; requestIds: number[] } {
    const taken = { commands: this.queuedCommands, requestIds: this.queuedRequestIds };
    this.queuedCommands = [];
    this.queuedRequestIds = [];
    return taken;
  }

  // Fails the waiters of proposals the core refused.
  rejectProposals(requestIds: readonly number[], error: AtollError): void {
    for (const requestId of requestIds) {
      const waiter = this.proposals.get(requestId);
      if (waiter === undefined) continue;
      this.proposals.delete(requestId);
      waiter.reject(error);
    }
  }

  failAll(error: AtollError): void {
    this.takeQueuedProposals();
    for (const waiter of this.proposals.values()) waiter.reject(error);
    this.proposals.clear();
    this.failReads(error);
  }
}

export function readRequestContext(requestId: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(requestId));
  return bytes;
}

function readRequestId(context: Uint8Array): number {
  if (context.length !== 8) return -1;
  return Number(new DataView(context.buffer, context.byteOffset, 8).getBigUint64(0));
}
