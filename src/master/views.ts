// The read side of the master's state: client views of volumes (protobuf, for the RPC
// path and the follower cache) and the JSON shapes of the admin API.
import {
  PartitionStatus,
  type DataPartitionView,
  type MetaPartitionView,
  type VolumeView,
} from '../proto/generated/master.js';
import type { PeerAddress } from '../proto/generated/raft.js';
import type { MasterState, NodeRecord, PartitionRecord, PartitionStatusName, VolumeRecord } from './state.js';

const partitionStatusOfName: Readonly<Record<PartitionStatusName, PartitionStatus>> = {
  'read-write': PartitionStatus.PARTITION_READ_WRITE,
  'read-only': PartitionStatus.PARTITION_READ_ONLY,
  unavailable: PartitionStatus.PARTITION_UNAVAILABLE,
};

export function partitionStatusName(status: PartitionStatus): PartitionStatusName {
  if (status === PartitionStatus.PARTITION_READ_ONLY) return 'read-only';
  if (status === PartitionStatus.PARTITION_UNAVAILABLE) return 'unavailable';
  return 'read-write';
}

/** The members clients should reach: the leader's reported ones once it reported. */
export function servingMembers(partition: PartitionRecord): readonly number[] {
  return partition.reportedMembers.length > 0 ? partition.reportedMembers : partition.peers;
}

function membersOf(state: MasterState, partition: PartitionRecord): { peers: PeerAddress[]; services: string[] } {
  const peers: PeerAddress[] = [];
  const services: string[] = [];
  for (const nodeId of servingMembers(partition)) {
    const node = state.nodes[nodeId];
    if (node === undefined) continue;
    peers.push({ nodeId, host: node.host, heartbeatPort: node.raftHeartbeatPort, replicaPort: node.raftReplicaPort });
    services.push(`${node.host}:${node.servicePort}`);
  }
  return { peers, services };
}

/** What a client needs to reach a volume's partitions; undefined for an unknown volume. */
export function volumeView(state: MasterState, name: string): VolumeView | undefined {
  const volume = state.volumes[name];
  if (volume === undefined) return undefined;
  const metaPartitions: MetaPartitionView[] = [];
  const dataPartitions: DataPartitionView[] = [];
  for (const partition of partitionsOfVolume(state, name)) {
    const { peers, services } = membersOf(state, partition);
    const status = volume.status === 'active' ? partitionStatusOfName[partition.status] : PartitionStatus.PARTITION_READ_ONLY;
    if (partition.kind === 'meta') {
      metaPartitions.push({ partitionId: partition.id, inodeStart: partition.inodeStart, inodeEnd: partition.inodeEnd, peers, peerServiceAddresses: services, leaderNodeId: partition.leaderNodeId, status });
    } else {
      dataPartitions.push({ partitionId: partition.id, peers, peerServiceAddresses: services, leaderNodeId: partition.leaderNodeId, status });
    }
  }
  return {
    volume: volume.name,
    version: volume.viewVersion,
    metaPartitions,
    dataPartitions,
    replicaCount: volume.replicaCount,
    capacityBytes: volume.capacityBytes,
    trashRetentionHours: volume.trashRetentionHours,
    volumeId: volume.id,
    readOnly: volume.status !== 'active',
  };
}

/** The volume's partitions in id order. */
export function partitionsOfVolume(state: MasterState, name: string): PartitionRecord[] {
  return Object.values(state.partitions).filter((partition) => partition.volume === name);
}

export function replicaCountOfNode(state: MasterState, nodeId: number): number {
  let count = 0;
  for (const partition of Object.values(state.partitions)) if (partition.peers.includes(nodeId)) count += 1;
  return count;
}

export function nodeJson(state: MasterState, node: NodeRecord): Record<string, unknown> {
  const { registrationToken: _token, ...fields } = node;
  return { ...fields, replicaCount: replicaCountOfNode(state, node.id) };
}

export function volumeJson(state: MasterState, volume: VolumeRecord, options: { withSecretKey?: boolean } = {}): Record<string, unknown> {
  const { secretKey, ...fields } = volume;
  let metaPartitionCount = 0;
  let dataPartitionCount = 0;
  for (const partition of partitionsOfVolume(state, volume.name)) {
    if (partition.kind === 'meta') metaPartitionCount += 1;
    else dataPartitionCount += 1;
  }
  return { ...fields, metaPartitionCount, dataPartitionCount, ...(options.withSecretKey === true ? { secretKey } : {}) };
}

export function partitionJson(partition: PartitionRecord): Record<string, unknown> {
  return { ...partition };
}

export function peerAddressesJson(state: MasterState, partition: PartitionRecord): Array<Record<string, unknown>> {
  const ids = [...new Set([...partition.peers, ...partition.reportedMembers])].sort((a, b) => a - b);
  return ids.map((nodeId) => {
    const node = state.nodes[nodeId];
    const role = partition.peers.includes(nodeId) ? (partition.reportedMembers.includes(nodeId) || partition.reportedMembers.length === 0 ? 'member' : 'joining') : 'leaving';
    if (node === undefined) return { nodeId, state: 'unknown', replica: role };
    return { nodeId, host: node.host, servicePort: node.servicePort, raftHeartbeatPort: node.raftHeartbeatPort, raftReplicaPort: node.raftReplicaPort, state: node.state, replica: role, leader: partition.leaderNodeId === nodeId };
  });
}
