// The commands of the master's Raft log. The leader decides (placement, ids of nothing:
// ids are allocated in apply), puts every input apply needs into the command (times,
// chosen peers, generated keys), and proposes it; apply (state-machine.ts) is then a
// deterministic function of the state and the command on every replica.
//
// Encoding: UTF-8 JSON with a `type` field. The master's log is small and rarely on a
// hot path; JSON keeps the log and snapshots readable with standard tools.
import type { ClusterSettings, NodeEndpoint, NodeStateName, PartitionKindName, PartitionStatusName, VolumeStatusName } from './state.js';

export interface RegisterNodeCommand extends NodeEndpoint {
  readonly type: 'registerNode';
  readonly nowMs: number;
  /** 0 for a first registration; else the id the node has in its data directory. */
  readonly nodeId: number;
  readonly registrationToken: string;
  readonly capacityBytes: number;
}

export interface NodeUsage {
  readonly nodeId: number;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly lastHeartbeatAtMs: number;
}

/** What a partition's leader last reported; fields not applying to the kind are 0. */
export interface PartitionUsage {
  readonly partitionId: number;
  readonly leaderNodeId: number;
  readonly leaderTerm: number;
  readonly members: readonly number[];
  readonly status: PartitionStatusName;
  readonly usedBytes: number;
  readonly extentCount: number;
  readonly inodeCursor: number;
  readonly inodeCount: number;
  readonly dentryCount: number;
}

/** Heartbeat facts gathered by the leader in memory and recorded in batches. */
export interface RecordReportsCommand {
  readonly type: 'recordReports';
  readonly nowMs: number;
  readonly nodes: readonly NodeUsage[];
  readonly partitions: readonly PartitionUsage[];
  /** Ids of partitions reported by nodes that the state does not know, at or past its next partition id. */
  readonly strayPartitionIds?: readonly number[];
}

export interface SetNodeStateCommand {
  readonly type: 'setNodeState';
  readonly nowMs: number;
  readonly nodeId: number;
  readonly state: NodeStateName;
  /** Set with state 'inactive' once the node's replicas were replaced. */
  readonly replaced?: boolean;
}

export interface NewPartition {
  readonly peers: readonly number[];
  /** Meta partitions only. */
  readonly inodeStart?: number;
  readonly inodeEnd?: number;
}

export interface CreateVolumeCommand {
  readonly type: 'createVolume';
  readonly nowMs: number;
  readonly name: string;
  readonly owner: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly capacityBytes: number;
  readonly replicaCount: number;
  readonly trashRetentionHours: number;
  readonly description: string;
  readonly metaPartitions: readonly NewPartition[];
  readonly dataPartitions: readonly NewPartition[];
}

export interface UpdateVolumeCommand {
  readonly type: 'updateVolume';
  readonly name: string;
  readonly capacityBytes?: number;
  readonly trashRetentionHours?: number;
  readonly status?: Exclude<VolumeStatusName, 'deleting'>;
  readonly description?: string;
}

export interface DeleteVolumeCommand {
  readonly type: 'deleteVolume';
  readonly name: string;
}

export interface CreatePartitionsCommand {
  readonly type: 'createPartitions';
  readonly nowMs: number;
  readonly volume: string;
  readonly kind: PartitionKindName;
  readonly partitions: readonly NewPartition[];
}

/** Ends the volume's last meta partition at inodeEnd and starts a new last one there. */
export interface SplitMetaPartitionCommand {
  readonly type: 'splitMetaPartition';
  readonly nowMs: number;
  readonly partitionId: number;
  readonly inodeEnd: number;
  readonly peers: readonly number[];
}

/** The members a partition should have; reconciliation adds and removes replicas. */
export interface SetPartitionPeersCommand {
  readonly type: 'setPartitionPeers';
  readonly partitionId: number;
  /** The members the decision was made from; apply refuses (CONFLICT) if they changed since. */
  readonly expectedPeers: readonly number[];
  readonly peers: readonly number[];
}

export interface SetPartitionStatusCommand {
  readonly type: 'setPartitionStatus';
  readonly partitionId: number;
  readonly status: PartitionStatusName;
}

export interface SetPreferredLeaderCommand {
  readonly type: 'setPreferredLeader';
  readonly partitionId: number;
  /** 0 clears the preference. */
  readonly nodeId: number;
}

export interface UpdateSettingsCommand {
  readonly type: 'updateSettings';
  readonly settings: Partial<ClusterSettings>;
}

export type MasterCommand =
  | RegisterNodeCommand
  | RecordReportsCommand
  | SetNodeStateCommand
  | CreateVolumeCommand
  | UpdateVolumeCommand
  | DeleteVolumeCommand
  | CreatePartitionsCommand
  | SplitMetaPartitionCommand
  | SetPartitionPeersCommand
  | SetPartitionStatusCommand
  | SetPreferredLeaderCommand
  | UpdateSettingsCommand;

export type MasterCommandType = MasterCommand['type'];

const commandTypes: ReadonlySet<string> = new Set<MasterCommandType>([
  'registerNode',
  'recordReports',
  'setNodeState',
  'createVolume',
  'updateVolume',
  'deleteVolume',
  'createPartitions',
  'splitMetaPartition',
  'setPartitionPeers',
  'setPartitionStatus',
  'setPreferredLeader',
  'updateSettings',
]);

export function encodeCommand(command: MasterCommand): Uint8Array {
  return Buffer.from(JSON.stringify(command), 'utf8');
}

// A command in the log was written by a leader of this program; one that does not parse
// is corruption or a version mismatch, and the replica must stop rather than diverge.
export function decodeCommand(bytes: Uint8Array): MasterCommand {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`master command does not parse: ${(error as Error).message}`);
  }
  const type = (parsed as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !commandTypes.has(type)) {
    throw new Error(`master command of unknown type: ${String(type)}`);
  }
  return parsed as MasterCommand;
}
