// What the multi-raft host works with: groups, peers and the contracts with the state
// machine above it and the persistence and transport beside it.
import type { ConfState, Entry, HardState, Message, NodeId } from '../raft/index.js';

export type GroupId = number;

// Where one replica of a group lives. Raft replica ids are instance node ids (assigned
// by the master), so one record names an instance's Raft ports for every group it holds.
export interface PeerAddress {
  readonly nodeId: NodeId;
  readonly host: string;
  readonly heartbeatPort: number;
  readonly replicaPort: number;
}

// The replicated state machine of one group (a meta partition, a data partition, the
// master's state). apply() must be deterministic: every replica applies the same
// commands in the same order and must reach the same state.
export interface GroupStateMachine {
  // Applies one committed command; the result goes back to the proposer on this node.
  apply(index: number, command: Uint8Array): unknown;
  // The whole state as of the last applied index (for snapshots).
  snapshot(): Uint8Array;
  // Replaces the whole state with a snapshot's.
  restore(state: Uint8Array, index: number): void;
  // Optional: runs the application of one run of committed entries (those of one Ready),
  // so that a state machine on disk can commit them together (one transaction and one
  // flush instead of one per entry). It must call `run` exactly once, synchronously.
  applyBatch?(run: () => void): void;
}

// Durable storage of every group's Raft log and hard state (the instance's shared
// write-ahead log). Writes are buffered; sync() makes everything written before it
// durable with one flush for all groups (group commit).
export interface RaftPersistence {
  appendEntries(groupId: GroupId, entries: readonly Entry[]): void;
  setHardState(groupId: GroupId, hardState: HardState): void;
  // The group's snapshot at index is durable; entries at or below it are obsolete.
  saveSnapshot(groupId: GroupId, snapshot: { index: number; term: number; confState: ConfState; data: Uint8Array }): Promise<void>;
  removeGroup(groupId: GroupId): void;
  sync(): Promise<void>;
}

// One Raft message of one group.
export interface GroupMessage {
  readonly groupId: GroupId;
  readonly message: Message;
}

// Sends Raft messages to other instances. Fire and forget: Raft retransmits what is
// lost; an unreachable peer is reported back through onUnreachable.
// Implementations put the sender's own PeerAddress on every batch; the receiving host
// learns it for groups where it lacks a record of that member (RaftHost.receive).
export interface RaftTransport {
  // Heartbeats and heartbeat responses of many groups for one peer: one send per tick.
  sendHeartbeats(to: PeerAddress, messages: readonly GroupMessage[]): void;
  // Everything else except snapshots, batched per peer.
  send(to: PeerAddress, messages: readonly GroupMessage[]): void;
  // A snapshot message (with its data); resolves true when the peer has it all.
  sendSnapshot(to: PeerAddress, message: GroupMessage): Promise<boolean>;
}
