// TEST SUPPORT ONLY: builds MasterState objects for the master's tests. Production code
// never imports this file; the real state is only ever changed by applying commands.
//
// Ids are allocated in call order from 1, as the state machine does, so a test can name
// them; every field a test does not set gets a plain default (an active node that just
// sent a heartbeat, an empty read-write partition, ...).
import type {
  ClusterSettings,
  DataPartitionRecord,
  MasterState,
  MetaPartitionRecord,
  NodeRecord,
  NodeRoleName,
  NodeStateName,
  PartitionRecord,
  PartitionStatusName,
  VolumeRecord,
  VolumeStatusName,
} from '../state.js';
import { defaultClusterSettings, rootInode } from '../state.js';

export interface TestNodeOptions {
  readonly host?: string;
  readonly zone?: string;
  readonly state?: NodeStateName;
  readonly stateSinceMs?: number;
  readonly replaced?: boolean;
  readonly lastHeartbeatAtMs?: number;
  /** 0: unknown. */
  readonly capacityBytes?: number;
  readonly usedBytes?: number;
}

export interface TestVolumeOptions {
  readonly replicaCount?: number;
  readonly status?: VolumeStatusName;
}

export interface TestPartitionOptions {
  /** Defaults to the peers (a formed group whose leader reported). */
  readonly reportedMembers?: readonly number[];
  readonly leaderNodeId?: number;
  readonly leaderTerm?: number;
  readonly status?: PartitionStatusName;
  readonly preferredLeaderNodeId?: number;
}

export interface TestMetaPartitionOptions extends TestPartitionOptions {
  readonly inodeStart?: number;
  readonly inodeEnd?: number;
  readonly inodeCursor?: number;
}

export interface TestDataPartitionOptions extends TestPartitionOptions {
  readonly capacityBytes?: number;
  readonly usedBytes?: number;
}

export const testNowMs = 1_000_000_000;

export class StateBuilder {
  private readonly settings: ClusterSettings;
  private readonly nodes: Record<string, NodeRecord> = {};
  private readonly volumes: Record<string, VolumeRecord> = {};
  private readonly partitions: Record<string, PartitionRecord> = {};
  private nextNodeId = 1;
  private nextVolumeId = 1;
  private nextPartitionId = 1;

  constructor(settings: Partial<ClusterSettings> = {}) {
    this.settings = { ...defaultClusterSettings, ...settings };
  }

  /** Adds one node and returns its id. */
  node(role: NodeRoleName, options: TestNodeOptions = {}): number {
    const id = this.nextNodeId++;
    this.nodes[String(id)] = {
      id,
      role,
      instance: `${role}-${id}`,
      host: options.host ?? `10.0.0.${id}`,
      servicePort: 17_000 + id,
      httpPort: 18_000 + id,
      raftHeartbeatPort: 19_000 + id,
      raftReplicaPort: 20_000 + id,
      zone: options.zone ?? '',
      registrationToken: `token-${id}`,
      capacityBytes: options.capacityBytes ?? 0,
      usedBytes: options.usedBytes ?? 0,
      registeredAtMs: 0,
      lastHeartbeatAtMs: options.lastHeartbeatAtMs ?? testNowMs,
      state: options.state ?? 'active',
      stateSinceMs: options.stateSinceMs ?? 0,
      replaced: options.replaced ?? false,
    };
    return id;
  }

  /** One node per host given (a host may repeat: several instances on one machine). */
  nodesOn(role: NodeRoleName, hosts: readonly string[], options: TestNodeOptions = {}): number[] {
    return hosts.map((host) => this.node(role, { ...options, host }));
  }

  metanodes(hosts: readonly string[], options: TestNodeOptions = {}): number[] {
    return this.nodesOn('metanode', hosts, options);
  }

  datanodes(hosts: readonly string[], options: TestNodeOptions = {}): number[] {
    return this.nodesOn('datanode', hosts, options);
  }

  volume(name: string, options: TestVolumeOptions = {}): this {
    const id = this.nextVolumeId++;
    this.volumes[name] = {
      id,
      name,
      owner: 'owner',
      accessKey: `access-${id}`,
      secretKey: `secret-${id}`,
      capacityBytes: 0,
      replicaCount: options.replicaCount ?? 3,
      trashRetentionHours: 0,
      status: options.status ?? 'active',
      createdAtMs: 0,
      viewVersion: 0,
      description: '',
    };
    return this;
  }

  metaPartition(volume: string, peers: readonly number[], options: TestMetaPartitionOptions = {}): number {
    const id = this.nextPartitionId++;
    const inodeStart = options.inodeStart ?? rootInode;
    const record: MetaPartitionRecord = {
      ...this.partitionBase(id, volume, peers, options),
      kind: 'meta',
      inodeStart,
      inodeEnd: options.inodeEnd ?? 0,
      inodeCursor: options.inodeCursor ?? inodeStart,
      inodeCount: 0,
      dentryCount: 0,
    };
    this.partitions[String(id)] = record;
    return id;
  }

  dataPartition(volume: string, peers: readonly number[], options: TestDataPartitionOptions = {}): number {
    const id = this.nextPartitionId++;
    const record: DataPartitionRecord = {
      ...this.partitionBase(id, volume, peers, options),
      kind: 'data',
      capacityBytes: options.capacityBytes ?? this.settings.dataPartitionCapacityBytes,
      usedBytes: options.usedBytes ?? 0,
      extentCount: 0,
    };
    this.partitions[String(id)] = record;
    return id;
  }

  build(): MasterState {
    return {
      formatVersion: 1,
      clusterName: 'test-cluster',
      appliedIndex: 1,
      nextNodeId: this.nextNodeId,
      nextVolumeId: this.nextVolumeId,
      nextPartitionId: this.nextPartitionId,
      strayPartitionIds: [],
      settings: this.settings,
      nodes: structuredClone(this.nodes),
      volumes: structuredClone(this.volumes),
      partitions: structuredClone(this.partitions),
    };
  }

  private partitionBase(id: number, volume: string, peers: readonly number[], options: TestPartitionOptions) {
    return {
      id,
      volume,
      peers: [...peers],
      reportedMembers: [...(options.reportedMembers ?? peers)],
      leaderNodeId: options.leaderNodeId ?? peers[0] ?? 0,
      leaderTerm: options.leaderTerm ?? 1,
      status: options.status ?? 'read-write',
      createdAtMs: 0,
      preferredLeaderNodeId: options.preferredLeaderNodeId ?? 0,
      readOnlyByOperator: false,
    };
  }
}
