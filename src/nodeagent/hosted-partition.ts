// What a role (metanode, datanode) plugs into the partition host: a factory that opens a
// partition's local state, and the partition it returns. The host owns everything the
// roles share: the Raft groups, the write-ahead log, the registry of partitions on disk,
// staged start-up, the tasks of the master and the reports back.
import type { Logger } from '../observability/index.js';
import type { NodeTask, PartitionKind, PartitionStatus } from '../proto/generated/master.js';
import type { GroupStateMachine, PeerAddress } from '../raftstore/index.js';

/** A partition as the master created it; kept as `spec.json` in the partition's directory. */
export interface PartitionSpec {
  readonly kind: PartitionKind;
  readonly partitionId: number;
  readonly volume: string;
  /** Meta partitions: the inode range at creation, [inodeStart, inodeEnd); 0 = unbounded. */
  readonly inodeStart: number;
  readonly inodeEnd: number;
  /** Data partitions: the capacity the master planned for. */
  readonly capacityBytes: number;
  /** The members the replica was created with (the group's own configuration rules after). */
  readonly peers: readonly PeerAddress[];
}

/** The figures a partition adds to its heartbeat report. */
export interface PartitionUsage {
  readonly usedBytes?: number;
  readonly inodeCount?: number;
  readonly dentryCount?: number;
  readonly inodeCursor?: number;
  readonly inodeEnd?: number;
  readonly extentCount?: number;
  /** Read-only: a full inode range, a full disk. Absent: read-write. */
  readonly status?: PartitionStatus;
}

/** What the host offers a partition: its Raft group, seen from this replica. */
export interface PartitionContext {
  readonly partitionId: number;
  readonly nodeId: number;
  readonly logger: Logger;
  /** Replicates a command; resolves with the state machine's result here. Leader only. */
  propose(command: Uint8Array): Promise<unknown>;
  /** Linearizable read barrier (leader only). */
  readIndex(): Promise<void>;
  isLeader(): boolean;
  /** Current leader's node id, 0 if unknown. */
  leaderNodeId(): number;
  /** Node ids of the group's voters as this replica knows them. */
  members(): number[];
  /** Raft addresses of the group's peers as this replica knows them. */
  peers(): PeerAddress[];
  /** The index of the last entry this replica applied. */
  appliedIndex(): number;
}

/** What a partition says of its state for GET /partitions. */
export interface PartitionStateHash {
  /** Hex digest of the state (meta: the key-value records; data: extent ids, sizes, block CRCs). */
  readonly hash: string;
  /** Meta: the engine's applied index the records are at. */
  readonly stateIndex?: number;
  readonly records?: number;
  readonly extents?: number;
  readonly bytes?: number;
  readonly caughtUp?: boolean;
}

export interface HostedPartition {
  readonly stateMachine: GroupStateMachine;
  /** The group is created and replaying; the context is usable from now on. */
  attach?(context: PartitionContext): void;
  usage(): PartitionUsage;
  /** Leadership of this replica changed (checked every tick). */
  onLeadershipChange?(leading: boolean, term: number): void;
  /** A task the host does not handle itself (TASK_SET_INODE_END). Idempotent. */
  handleTask?(task: NodeTask): Promise<void>;
  /**
   * A digest of the replica's state for comparing replicas (GET /partitions): equal on
   * replicas that hold the same state. Read-only; computed beside the apply loop without
   * holding it for long. `caughtUp` false: the replica knows it may lack data (repair).
   */
  stateHash?(): Promise<PartitionStateHash>;
  /** Periodic work (every tick of the host, ~100 ms); must not block. */
  tick?(nowMs: number): void;
  /** Stops background work and releases files; the state stays on disk. */
  close(): Promise<void>;
  /**
   * The replica was deleted (after close): removes state kept outside the partition's
   * directory, such as a datanode's extents on another disk. The host removes the
   * directory itself.
   */
  destroy?(): Promise<void>;
}

export interface PartitionFactory {
  readonly kind: PartitionKind;
  /**
   * Opens (creating when absent) the partition's local state in `dir`. Resolves once the
   * local state is loaded; the Raft group is then created and replays its log.
   */
  open(spec: PartitionSpec, dir: string): Promise<HostedPartition>;
}
