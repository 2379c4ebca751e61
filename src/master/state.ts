// The master's replicated state: every node, volume and partition of the cluster and the
// cluster settings. Plain data (JSON-safe: no Maps, no bigints) so that a snapshot is
// the JSON of this object and every replica can compare digests. Only the state machine
// (state-machine.ts) changes it, by applying committed commands; everything else reads.
//
// Times are wall-clock milliseconds since the epoch, put into commands by the proposer,
// never read during apply: apply must be deterministic on every replica.

export type NodeRoleName = 'metanode' | 'datanode';
export type NodeStateName = 'active' | 'inactive' | 'decommissioning' | 'decommissioned';
export type PartitionStatusName = 'read-write' | 'read-only' | 'unavailable';
export type VolumeStatusName = 'active' | 'read-only' | 'deleting';
export type PartitionKindName = 'meta' | 'data';

/** Where a node is and what it is, as it says when it registers. */
export interface NodeEndpoint {
  readonly role: NodeRoleName;
  readonly instance: string;
  readonly host: string;
  readonly servicePort: number;
  readonly httpPort: number;
  readonly raftHeartbeatPort: number;
  readonly raftReplicaPort: number;
  readonly zone: string;
}

export interface NodeRecord extends NodeEndpoint {
  readonly id: number;
  readonly registrationToken: string;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly registeredAtMs: number;
  /** Last heartbeat the leader recorded in the state (recorded at most every few seconds). */
  readonly lastHeartbeatAtMs: number;
  readonly state: NodeStateName;
  /** When the node last changed state (inactive since, decommissioning since, ...). */
  readonly stateSinceMs: number;
  /** Set when its partitions were given replacement replicas after it stayed inactive. */
  readonly replaced: boolean;
}

export interface VolumeRecord {
  readonly id: number;
  readonly name: string;
  readonly owner: string;
  /** Access keys of the volume; the secret key is returned only when the volume is created. */
  readonly accessKey: string;
  readonly secretKey: string;
  readonly capacityBytes: number;
  readonly replicaCount: number;
  readonly trashRetentionHours: number;
  readonly status: VolumeStatusName;
  readonly createdAtMs: number;
  /** Index of the last command that changed this volume's client view. */
  readonly viewVersion: number;
  readonly description: string;
}

export interface PartitionRecordBase {
  readonly id: number;
  readonly volume: string;
  readonly kind: PartitionKindName;
  /** The members the master wants. Reconciliation moves the Raft group towards it. */
  readonly peers: readonly number[];
  /** The members the partition's leader last reported (its Raft configuration). */
  readonly reportedMembers: readonly number[];
  readonly leaderNodeId: number;
  readonly leaderTerm: number;
  readonly status: PartitionStatusName;
  readonly createdAtMs: number;
  /** An operator's choice of leader (0: none); reconciliation moves leadership to it. */
  readonly preferredLeaderNodeId: number;
  /** An operator made it read-only: reports of read-write do not undo that. */
  readonly readOnlyByOperator: boolean;
}

export interface MetaPartitionRecord extends PartitionRecordBase {
  readonly kind: 'meta';
  readonly inodeStart: number;
  /** Exclusive; 0 while the partition is the volume's last (unbounded) one. */
  readonly inodeEnd: number;
  readonly inodeCursor: number;
  readonly inodeCount: number;
  readonly dentryCount: number;
}

export interface DataPartitionRecord extends PartitionRecordBase {
  readonly kind: 'data';
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly extentCount: number;
}

export type PartitionRecord = MetaPartitionRecord | DataPartitionRecord;

export interface ClusterSettings {
  /** A node without a heartbeat for this long is marked inactive. */
  readonly nodeInactiveAfterMs: number;
  /** An inactive node's replicas are replaced after this long. */
  readonly replicaReplaceAfterMs: number;
  /** Inodes a meta partition is expected to hold; the split threshold applies to it. */
  readonly metaPartitionInodeRange: number;
  /** The last meta partition splits when its cursor passes this percentage of the range. */
  readonly metaPartitionSplitPercent: number;
  /** Writable data partitions a volume keeps at least; more are created below it. */
  readonly dataPartitionsWritableMin: number;
  readonly dataPartitionCapacityBytes: number;
  /** Meta and data partitions a new volume starts with. */
  readonly initialMetaPartitions: number;
  readonly initialDataPartitions: number;
  /** A follower serves a cached view only if the leader confirmed it this recently. */
  readonly viewStalenessMs: number;
}

export interface MasterState {
  readonly formatVersion: 1;
  readonly clusterName: string;
  /** Index of the last command applied into this state. */
  readonly appliedIndex: number;
  readonly nextNodeId: number;
  readonly nextVolumeId: number;
  readonly nextPartitionId: number;
  /**
   * Partitions nodes reported that this state never created, with ids at or past
   * `nextPartitionId` when first reported: the state was restored from an older copy.
   * Sorted. Their ids are never handed out; they stay on their nodes (not deleted, not
   * served) until an operator deals with them (docs/operations.md).
   */
  readonly strayPartitionIds: readonly number[];
  readonly settings: ClusterSettings;
  /** Keyed by decimal id / name; JSON objects keep snapshots plain. */
  readonly nodes: Readonly<Record<string, NodeRecord>>;
  readonly volumes: Readonly<Record<string, VolumeRecord>>;
  readonly partitions: Readonly<Record<string, PartitionRecord>>;
}

export const defaultClusterSettings: ClusterSettings = {
  nodeInactiveAfterMs: 15_000,
  replicaReplaceAfterMs: 120_000,
  metaPartitionInodeRange: 1 << 24,
  metaPartitionSplitPercent: 75,
  dataPartitionsWritableMin: 3,
  dataPartitionCapacityBytes: 16 * 2 ** 30,
  initialMetaPartitions: 1,
  initialDataPartitions: 3,
  viewStalenessMs: 3_000,
};

/** The first inode of every volume (the root directory). */
export const rootInode = 1;
