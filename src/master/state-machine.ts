// The apply side of the master: every replica applies the same committed commands in the
// same order and reaches the same state. Apply reads nothing but the state and the
// command (no clock, no randomness), and refuses a command that does not fit the state
// with an AtollError, which is the command's result on the proposer, not a failure of
// the replica. Anything else thrown is a bug and stops the replica.
import { createHash } from 'node:crypto';
import { assert } from '../errors/assert.js';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import type { GroupStateMachine } from '../raftstore/index.js';
import { decodeCommand, type MasterCommand, type NewPartition, type RegisterNodeCommand } from './commands.js';
import { validateSettings } from './settings.js';
import {
  defaultClusterSettings,
  rootInode,
  type DataPartitionRecord,
  type MasterState,
  type MetaPartitionRecord,
  type NodeEndpoint,
  type NodeRecord,
  type PartitionRecord,
  type VolumeRecord,
} from './state.js';

type Mutable<T> = { -readonly [Key in keyof T]: T[Key] };

export function emptyMasterState(clusterName: string): MasterState {
  return {
    formatVersion: 1,
    clusterName,
    appliedIndex: 0,
    nextNodeId: 1,
    nextVolumeId: 1,
    nextPartitionId: 1,
    strayPartitionIds: [],
    settings: { ...defaultClusterSettings },
    nodes: {},
    volumes: {},
    partitions: {},
  };
}

export interface RegisterNodeResult {
  readonly nodeId: number;
  readonly created: boolean;
}

export class MasterStateMachine implements GroupStateMachine {
  #state: Mutable<MasterState>;
  readonly #clusterName: string;
  // Called after every apply with the command and the volumes whose view changed, so the
  // leader can push fresh views to followers.
  onApplied: ((index: number, command: MasterCommand, changedVolumes: ReadonlySet<string>) => void) | null = null;

  constructor(clusterName: string) {
    this.#clusterName = clusterName;
    this.#state = emptyMasterState(clusterName) as Mutable<MasterState>;
  }

  /** The current state; callers must not change it (it is replaced, not copied, on restore). */
  get state(): MasterState {
    return this.#state;
  }

  apply(index: number, bytes: Uint8Array): unknown {
    const command = decodeCommand(bytes);
    assert(index > this.#state.appliedIndex, `master apply: index ${index} after ${this.#state.appliedIndex}`);
    const changed = new Set<string>();
    try {
      return this.#applyCommand(index, command, changed);
    } finally {
      // A refused command still consumed its index: the applied index moves on every
      // replica alike, so a snapshot at any index is the same everywhere.
      this.#state.appliedIndex = index;
      for (const name of changed) {
        const volume = this.#state.volumes[name];
        if (volume !== undefined) (volume as Mutable<VolumeRecord>).viewVersion = index;
      }
      this.onApplied?.(index, command, changed);
    }
  }

  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.#state), 'utf8');
  }

  restore(bytes: Uint8Array, index: number): void {
    if (bytes.length === 0) {
      this.#state = emptyMasterState(this.#clusterName) as Mutable<MasterState>;
      this.#state.appliedIndex = index;
      return;
    }
    const parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Mutable<MasterState>;
    assert(parsed.formatVersion === 1, `master snapshot format ${String(parsed.formatVersion)} is not understood by this version`);
    parsed.settings = { ...defaultClusterSettings, ...parsed.settings };
    // Snapshots written before stray partitions were tracked.
    parsed.strayPartitionIds ??= [];
    parsed.appliedIndex = index;
    this.#state = parsed;
  }

  /** Equal on replicas with equal state. */
  digest(): string {
    return createHash('sha256').update(this.snapshot()).digest('hex');
  }

  #applyCommand(index: number, command: MasterCommand, changed: Set<string>): unknown {
    switch (command.type) {
      case 'registerNode':
        return this.#registerNode(command, changed);
      case 'recordReports':
        return this.#recordReports(command, changed);
      case 'setNodeState': {
        const node = this.#node(command.nodeId);
        if (node.state === 'decommissioned' && command.state !== 'decommissioned') {
          throw new AtollError(StatusCode.INVALID_ARGUMENT, `node ${node.id} is decommissioned; it cannot become ${command.state}`);
        }
        if (node.state !== command.state) node.stateSinceMs = command.nowMs;
        node.state = command.state;
        node.replaced = command.replaced ?? false;
        return { node: node.id, state: node.state };
      }
      case 'createVolume':
        return this.#createVolume(index, command);
      case 'updateVolume': {
        const volume = this.#volume(command.name);
        if (volume.status === 'deleting') throw new AtollError(StatusCode.INVALID_ARGUMENT, `volume ${volume.name} is being deleted`);
        if (command.capacityBytes !== undefined) volume.capacityBytes = command.capacityBytes;
        if (command.trashRetentionHours !== undefined) volume.trashRetentionHours = command.trashRetentionHours;
        if (command.status !== undefined) volume.status = command.status;
        if (command.description !== undefined) volume.description = command.description;
        changed.add(volume.name);
        return { volume: volume.name };
      }
      case 'deleteVolume': {
        const volume = this.#volume(command.name);
        // Followers must drop its view at once: the leader pushes after a change.
        changed.add(volume.name);
        for (const [id, partition] of Object.entries(this.#state.partitions)) {
          if (partition.volume === volume.name) delete (this.#state.partitions as Record<string, PartitionRecord>)[id];
        }
        delete (this.#state.volumes as Record<string, VolumeRecord>)[volume.name];
        return { deleted: volume.name };
      }
      case 'createPartitions': {
        const volume = this.#volume(command.volume);
        if (command.kind === 'meta') {
          throw new AtollError(StatusCode.INVALID_ARGUMENT, 'meta partitions are added by splitting the last one, not created directly');
        }
        const ids = command.partitions.map((partition) => this.#addDataPartition(volume, partition, command.nowMs).id);
        changed.add(volume.name);
        return { partitionIds: ids };
      }
      case 'splitMetaPartition': {
        const partition = this.#partition(command.partitionId);
        if (partition.kind !== 'meta') throw new AtollError(StatusCode.INVALID_ARGUMENT, `partition ${partition.id} is a data partition; only meta partitions split`);
        if (partition.inodeEnd !== 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, `partition ${partition.id} already ends at inode ${partition.inodeEnd}; only the volume's last meta partition splits`);
        if (!(command.inodeEnd > partition.inodeStart && command.inodeEnd > partition.inodeCursor)) {
          throw new AtollError(StatusCode.INVALID_ARGUMENT, `split of partition ${partition.id} at inode ${command.inodeEnd}: must be above its start ${partition.inodeStart} and cursor ${partition.inodeCursor}`);
        }
        const volume = this.#volume(partition.volume);
        this.#checkPeers(command.peers, 'metanode');
        (partition as Mutable<MetaPartitionRecord>).inodeEnd = command.inodeEnd;
        const created = this.#addMetaPartition(volume, { peers: command.peers, inodeStart: command.inodeEnd, inodeEnd: 0 }, command.nowMs);
        changed.add(volume.name);
        return { partitionId: created.id, inodeEnd: command.inodeEnd };
      }
      case 'setPartitionPeers': {
        const partition = this.#partition(command.partitionId) as Mutable<PartitionRecord>;
        // Two decisions made from the same members must not undo each other.
        if (partition.peers.join(',') !== command.expectedPeers.join(',')) {
          throw new AtollError(StatusCode.CONFLICT, `partition ${partition.id}: its replicas changed meanwhile (now ${partition.peers.join(', ')}, expected ${command.expectedPeers.join(', ')}); read it again`);
        }
        this.#checkPeers(command.peers, partition.kind === 'meta' ? 'metanode' : 'datanode');
        partition.peers = [...command.peers];
        if (!partition.peers.includes(partition.preferredLeaderNodeId)) partition.preferredLeaderNodeId = 0;
        changed.add(partition.volume);
        return { partitionId: partition.id, peers: partition.peers };
      }
      case 'setPartitionStatus': {
        const partition = this.#partition(command.partitionId) as Mutable<PartitionRecord>;
        partition.status = command.status;
        partition.readOnlyByOperator = command.status === 'read-only';
        changed.add(partition.volume);
        return { partitionId: partition.id, status: partition.status };
      }
      case 'setPreferredLeader': {
        const partition = this.#partition(command.partitionId) as Mutable<PartitionRecord>;
        if (command.nodeId !== 0 && !partition.peers.includes(command.nodeId)) {
          throw new AtollError(StatusCode.INVALID_ARGUMENT, `node ${command.nodeId} is not a replica of partition ${partition.id} (replicas: ${partition.peers.join(', ')})`);
        }
        partition.preferredLeaderNodeId = command.nodeId;
        return { partitionId: partition.id, preferredLeaderNodeId: command.nodeId };
      }
      case 'updateSettings': {
        const settings = { ...this.#state.settings, ...command.settings };
        const problem = validateSettings(settings);
        if (problem !== null) throw new AtollError(StatusCode.INVALID_ARGUMENT, problem);
        this.#state.settings = settings;
        return { settings };
      }
      default: {
        const unknown: never = command;
        throw new Error(`master apply: unhandled command ${JSON.stringify(unknown)}`);
      }
    }
  }

  #registerNode(command: Extract<MasterCommand, { type: 'registerNode' }>, changed: Set<string>): RegisterNodeResult {
    let node: Mutable<NodeRecord> | undefined;
    if (command.nodeId !== 0) {
      node = this.#state.nodes[command.nodeId] as Mutable<NodeRecord> | undefined;
      if (node === undefined) {
        throw new AtollError(StatusCode.NOT_FOUND, `node id ${command.nodeId} is unknown to cluster ${this.#state.clusterName}: the data directory belongs to another cluster`);
      }
    } else if (command.registrationToken.length > 0) {
      node = Object.values(this.#state.nodes).find((candidate) => candidate.registrationToken === command.registrationToken) as Mutable<NodeRecord> | undefined;
    }
    if (node !== undefined) {
      if (node.role !== command.role) {
        throw new AtollError(StatusCode.INVALID_ARGUMENT, `node ${node.id} registered as a ${node.role}, not a ${command.role}`);
      }
      const moved = node.host !== command.host || node.servicePort !== command.servicePort || node.raftHeartbeatPort !== command.raftHeartbeatPort || node.raftReplicaPort !== command.raftReplicaPort;
      Object.assign(node, endpointOf(command));
      node.capacityBytes = command.capacityBytes;
      node.lastHeartbeatAtMs = command.nowMs;
      if (moved) this.#markVolumesOfNode(node.id, changed);
      return { nodeId: node.id, created: false };
    }
    const id = this.#state.nextNodeId;
    this.#state.nextNodeId = id + 1;
    const record: NodeRecord = {
      id,
      ...endpointOf(command),
      registrationToken: command.registrationToken,
      capacityBytes: command.capacityBytes,
      usedBytes: 0,
      registeredAtMs: command.nowMs,
      lastHeartbeatAtMs: command.nowMs,
      state: 'active',
      stateSinceMs: command.nowMs,
      replaced: false,
    };
    (this.#state.nodes as Record<string, NodeRecord>)[id] = record;
    return { nodeId: id, created: true };
  }

  #recordReports(command: Extract<MasterCommand, { type: 'recordReports' }>, changed: Set<string>): unknown {
    for (const usage of command.nodes) {
      const node = this.#state.nodes[usage.nodeId] as Mutable<NodeRecord> | undefined;
      if (node === undefined) continue;
      node.capacityBytes = usage.capacityBytes;
      node.usedBytes = usage.usedBytes;
      node.lastHeartbeatAtMs = Math.max(node.lastHeartbeatAtMs, usage.lastHeartbeatAtMs);
    }
    for (const usage of command.partitions) {
      const partition = this.#state.partitions[usage.partitionId] as Mutable<PartitionRecord> | undefined;
      // The partition may have been deleted after the report was gathered.
      if (partition === undefined) continue;
      // A report from an older term than the recorded leader's is stale.
      if (usage.leaderTerm < partition.leaderTerm) continue;
      const members = [...usage.members].sort((a, b) => a - b);
      const status = partition.readOnlyByOperator && usage.status === 'read-write' ? 'read-only' : usage.status;
      if (partition.leaderNodeId !== usage.leaderNodeId || partition.status !== status || members.join(',') !== partition.reportedMembers.join(',')) {
        changed.add(partition.volume);
      }
      partition.leaderNodeId = usage.leaderNodeId;
      partition.leaderTerm = usage.leaderTerm;
      partition.reportedMembers = members;
      // An operator's read-only stands whatever the replica reports.
      partition.status = status;
      if (partition.kind === 'data') {
        partition.usedBytes = usage.usedBytes;
        partition.extentCount = usage.extentCount;
      } else {
        partition.inodeCursor = Math.max(partition.inodeCursor, usage.inodeCursor);
        partition.inodeCount = usage.inodeCount;
        partition.dentryCount = usage.dentryCount;
      }
    }
    // Partitions this state never created, past its counter: it was restored from an older
    // copy. Their ids must never be handed out again (another partition would share them).
    const strays = new Set(this.#state.strayPartitionIds);
    for (const id of [...(command.strayPartitionIds ?? [])].sort((left, right) => left - right)) {
      if (this.#state.partitions[String(id)] !== undefined || id < this.#state.nextPartitionId) continue;
      strays.add(id);
      this.#state.nextPartitionId = id + 1;
    }
    if (strays.size !== this.#state.strayPartitionIds.length) this.#state.strayPartitionIds = [...strays].sort((left, right) => left - right);
    return { nodes: command.nodes.length, partitions: command.partitions.length };
  }

  #createVolume(index: number, command: Extract<MasterCommand, { type: 'createVolume' }>): unknown {
    if (this.#state.volumes[command.name] !== undefined) {
      throw new AtollError(StatusCode.EXISTS, `volume ${command.name} already exists`);
    }
    if (command.metaPartitions.length === 0 || command.dataPartitions.length === 0) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `volume ${command.name}: needs at least one meta and one data partition`);
    }
    const id = this.#state.nextVolumeId;
    this.#state.nextVolumeId = id + 1;
    const volume: VolumeRecord = {
      id,
      name: command.name,
      owner: command.owner,
      accessKey: command.accessKey,
      secretKey: command.secretKey,
      capacityBytes: command.capacityBytes,
      replicaCount: command.replicaCount,
      trashRetentionHours: command.trashRetentionHours,
      status: 'active',
      createdAtMs: command.nowMs,
      viewVersion: index,
      description: command.description,
    };
    for (const partition of command.metaPartitions) this.#checkPeers(partition.peers, 'metanode');
    for (const partition of command.dataPartitions) this.#checkPeers(partition.peers, 'datanode');
    (this.#state.volumes as Record<string, VolumeRecord>)[volume.name] = volume;
    // Initial meta partitions split the inode space in ranges; the last one is unbounded.
    const range = this.#state.settings.metaPartitionInodeRange;
    const count = command.metaPartitions.length;
    command.metaPartitions.forEach((partition, position) => {
      const inodeStart = rootInode + position * range;
      const inodeEnd = position === count - 1 ? 0 : inodeStart + range;
      this.#addMetaPartition(volume, { peers: partition.peers, inodeStart, inodeEnd }, command.nowMs);
    });
    for (const partition of command.dataPartitions) this.#addDataPartition(volume, partition, command.nowMs);
    return { volumeId: id };
  }

  #addMetaPartition(volume: VolumeRecord, partition: NewPartition, nowMs: number): MetaPartitionRecord {
    const id = this.#state.nextPartitionId;
    this.#state.nextPartitionId = id + 1;
    const inodeStart = partition.inodeStart ?? rootInode;
    const record: MetaPartitionRecord = {
      ...this.#partitionBase(id, volume, partition, nowMs),
      kind: 'meta',
      inodeStart,
      inodeEnd: partition.inodeEnd ?? 0,
      inodeCursor: inodeStart,
      inodeCount: 0,
      dentryCount: 0,
    };
    (this.#state.partitions as Record<string, PartitionRecord>)[id] = record;
    return record;
  }

  #addDataPartition(volume: VolumeRecord, partition: NewPartition, nowMs: number): DataPartitionRecord {
    this.#checkPeers(partition.peers, 'datanode');
    const id = this.#state.nextPartitionId;
    this.#state.nextPartitionId = id + 1;
    const record: DataPartitionRecord = {
      ...this.#partitionBase(id, volume, partition, nowMs),
      kind: 'data',
      capacityBytes: this.#state.settings.dataPartitionCapacityBytes,
      usedBytes: 0,
      extentCount: 0,
    };
    (this.#state.partitions as Record<string, PartitionRecord>)[id] = record;
    return record;
  }

  #partitionBase(id: number, volume: VolumeRecord, partition: NewPartition, nowMs: number) {
    return {
      id,
      volume: volume.name,
      peers: [...partition.peers],
      reportedMembers: [] as number[],
      leaderNodeId: 0,
      leaderTerm: 0,
      status: 'read-write' as const,
      createdAtMs: nowMs,
      preferredLeaderNodeId: 0,
      readOnlyByOperator: false,
    };
  }

  #checkPeers(peers: readonly number[], role: 'metanode' | 'datanode'): void {
    if (peers.length === 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'a partition needs at least one replica');
    if (new Set(peers).size !== peers.length) throw new AtollError(StatusCode.INVALID_ARGUMENT, `replicas must be distinct nodes: ${peers.join(', ')}`);
    for (const nodeId of peers) {
      const node = this.#state.nodes[nodeId];
      if (node === undefined) throw new AtollError(StatusCode.NOT_FOUND, `node ${nodeId} does not exist`);
      if (node.role !== role) throw new AtollError(StatusCode.INVALID_ARGUMENT, `node ${nodeId} is a ${node.role}, not a ${role}`);
    }
  }

  #markVolumesOfNode(nodeId: number, changed: Set<string>): void {
    for (const partition of Object.values(this.#state.partitions)) {
      if (partition.peers.includes(nodeId) || partition.reportedMembers.includes(nodeId)) changed.add(partition.volume);
    }
  }

  #node(nodeId: number): Mutable<NodeRecord> {
    const node = this.#state.nodes[nodeId];
    if (node === undefined) throw new AtollError(StatusCode.NOT_FOUND, `node ${nodeId} does not exist`);
    return node as Mutable<NodeRecord>;
  }

  #volume(name: string): Mutable<VolumeRecord> {
    const volume = this.#state.volumes[name];
    if (volume === undefined) throw new AtollError(StatusCode.NOT_FOUND, `volume ${name} does not exist`);
    return volume as Mutable<VolumeRecord>;
  }

  #partition(partitionId: number): PartitionRecord {
    const partition = this.#state.partitions[partitionId];
    if (partition === undefined) throw new AtollError(StatusCode.NOT_FOUND, `partition ${partitionId} does not exist`);
    return partition;
  }
}

function endpointOf(command: RegisterNodeCommand): NodeEndpoint {
  const { role, instance, host, servicePort, httpPort, raftHeartbeatPort, raftReplicaPort, zone } = command;
  return { role, instance, host, servicePort, httpPort, raftHeartbeatPort, raftReplicaPort, zone };
}
