// The admin verbs over the master's admin API (docs/cli.md): `atoll cluster`, `atoll
// node`, `atoll volume`, `atoll partition`. Each sends one request (or two) through the
// master client; --json prints the API's body as it is, otherwise a table.
import type { NodeRecord } from '../master/state.js';
import { booleanKey, byteSizeKey, enumKey, formatByteSize, integerKey, optionalKey, stringKey } from '../config/index.js';
import { AtollError } from '../errors/atoll-error.js';
import type { AdminResult, MasterClientState } from '../masterclient/index.js';
import { CliUsageError } from './admin-connection.js';
import { defineVerb, exitCodeOfHttp, exitCodeOfStatus, nounCommand, answerMessage, type Verb } from './admin-command.js';
import { exitCodes } from './exit-codes.js';
import { formatFields, formatTable } from './text-table.js';

// ------------------------------------------------------------------ the API's bodies

interface ClusterMemberBody {
  readonly address: string;
  readonly nodeId: number;
  readonly state: string;
  readonly httpPort: number;
  readonly term: number;
  readonly appliedIndex: number;
  readonly lastSeenMsAgo: number;
}

interface ClusterBody {
  readonly clusterName: string;
  readonly leader: string;
  readonly term: number;
  readonly appliedIndex: number;
  readonly members: readonly ClusterMemberBody[];
}

// A node as the admin API shows it (src/master/views.ts nodeJson).
type NodeBody = Omit<NodeRecord, 'registrationToken'> & { readonly replicaCount: number };

interface DecommissionBody {
  readonly replicasRemaining: number;
  readonly partitionsRemaining: readonly number[];
}

interface VolumeBody {
  readonly id: number;
  readonly name: string;
  readonly owner: string;
  readonly accessKey: string;
  readonly secretKey?: string;
  readonly capacityBytes: number;
  readonly replicaCount: number;
  readonly trashRetentionHours: number;
  readonly status: string;
  readonly createdAtMs: number;
  readonly viewVersion: number;
  readonly description: string;
  readonly metaPartitionCount?: number;
  readonly dataPartitionCount?: number;
}

interface PartitionBody {
  readonly id: number;
  readonly volume: string;
  readonly kind: string;
  readonly peers: readonly number[];
  readonly reportedMembers?: readonly number[];
  readonly leaderNodeId: number;
  readonly status: string;
  readonly inodeStart?: number;
  readonly inodeEnd?: number;
  readonly inodeCursor?: number;
  readonly inodeCount?: number;
  readonly dentryCount?: number;
  readonly capacityBytes?: number;
  readonly usedBytes?: number;
}

interface PeerAddressBody {
  readonly nodeId: number;
  readonly host: string;
  readonly servicePort: number;
  readonly raftHeartbeatPort: number;
  readonly raftReplicaPort: number;
  readonly state: string;
}

// ------------------------------------------------------------------ formatting

function show(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.join(',');
  return String(value);
}

/** Exact sizes as the config writes them (10GiB), others rounded (117.7MiB). */
export function humanBytes(bytes: unknown): string {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '-';
  const exact = formatByteSize(bytes);
  // 10GiB reads well; 180678904KiB (exact only because it is a multiple of 1 KiB) does not.
  if (bytes < 1024 || (/[KMGTP]iB$/.test(exact) && Number.parseInt(exact, 10) < 1024)) return exact;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)}${units[unit]}`;
}

/** 850ms, 3.2s, 5m, 2h, 3d. */
export function humanDuration(milliseconds: number): string {
  if (milliseconds < 1_000) return `${Math.round(milliseconds)}ms`;
  if (milliseconds < 60_000) return `${(milliseconds / 1_000).toFixed(1)}s`;
  if (milliseconds < 3_600_000) return `${Math.floor(milliseconds / 60_000)}m`;
  if (milliseconds < 86_400_000) return `${Math.floor(milliseconds / 3_600_000)}h`;
  return `${Math.floor(milliseconds / 86_400_000)}d`;
}

// Wall-clock times of the API (epoch ms) as "3.2s ago".
function ago(epochMs: unknown): string {
  if (typeof epochMs !== 'number' || epochMs <= 0) return '-';
  return `${humanDuration(Math.max(0, Date.now() - epochMs))} ago`;
}

function usage(used: unknown, capacity: unknown): string {
  return `${humanBytes(used)} / ${humanBytes(capacity)}`;
}

function peersWithLeader(partition: PartitionBody): string {
  const peers = partition.peers ?? [];
  if (peers.length === 0) return '-';
  return peers.map((peer) => (peer === partition.leaderNodeId ? `${peer}*` : String(peer))).join(',');
}

function partitionDetail(partition: PartitionBody): string {
  if (partition.kind === 'meta') {
    const end = partition.inodeEnd === undefined || partition.inodeEnd === 0 ? '∞' : String(partition.inodeEnd);
    return `inodes [${show(partition.inodeStart)}, ${end}) cursor ${show(partition.inodeCursor)}; ${show(partition.inodeCount)} inodes, ${show(partition.dentryCount)} dentries`;
  }
  return usage(partition.usedBytes, partition.capacityBytes);
}

function partitionRows(partitions: readonly PartitionBody[], withVolume: boolean): string[][] {
  return partitions.map((partition) => [
    show(partition.id),
    ...(withVolume ? [show(partition.volume), show(partition.kind)] : []),
    show(partition.status),
    peersWithLeader(partition),
    partitionDetail(partition),
  ]);
}

function partitionTable(partitions: readonly PartitionBody[] | undefined, withVolume: boolean): string {
  if (partitions === undefined || partitions.length === 0) return '(none)';
  const headers = ['ID', ...(withVolume ? ['VOLUME', 'KIND'] : []), 'STATUS', 'PEERS (*leader)', 'DETAIL'];
  return formatTable(headers, partitionRows(partitions, withVolume));
}

function renderCluster(cluster: ClusterBody): string {
  const members = cluster.members ?? [];
  return [
    formatFields([
      ['cluster', show(cluster.clusterName)],
      ['leader', show(cluster.leader)],
      ['term', show(cluster.term)],
      ['applied', show(cluster.appliedIndex)],
    ]),
    '',
    formatTable(
      ['ADDRESS', 'STATE', 'NODE', 'TERM', 'APPLIED', 'HTTP', 'LAST SEEN'],
      members.map((member) => [
        show(member.address),
        show(member.state),
        show(member.nodeId),
        show(member.term),
        show(member.appliedIndex),
        show(member.httpPort),
        typeof member.lastSeenMsAgo === 'number' && member.lastSeenMsAgo > 0 ? `${humanDuration(member.lastSeenMsAgo)} ago` : '-',
      ]),
    ),
  ].join('\n');
}

function renderMasters(state: MasterClientState): string {
  return [
    formatTable(
      ['MASTER', 'HEALTHY', 'LEADER', 'TERM', 'CHECKED', 'ERROR'],
      state.masters.map((master) => [
        master.address,
        master.healthy ? 'yes' : 'no',
        master.isLeader ? 'yes' : '',
        master.term === 0 ? '-' : String(master.term),
        master.lastCheckedMsAgo === null ? 'never' : `${humanDuration(master.lastCheckedMsAgo)} ago`,
        master.lastError ?? '',
      ]),
    ),
    `leader: ${state.leader ?? '(unknown)'}`,
  ].join('\n');
}

function nodeAddress(node: NodeBody): string {
  return `${show(node.host)}:${show(node.servicePort)}`;
}

function renderNodes(body: { nodes: readonly NodeBody[] }): string {
  const nodes = body.nodes ?? [];
  if (nodes.length === 0) return '(no nodes)';
  return formatTable(
    ['ID', 'ROLE', 'INSTANCE', 'ADDRESS', 'ZONE', 'STATE', 'USED / CAPACITY', 'REPLICAS', 'HEARTBEAT'],
    nodes.map((node) => [
      show(node.id),
      show(node.role),
      show(node.instance),
      nodeAddress(node),
      show(node.zone),
      show(node.state),
      usage(node.usedBytes, node.capacityBytes),
      show(node.replicaCount),
      ago(node.lastHeartbeatAtMs),
    ]),
  );
}

function renderDecommission(decommission: DecommissionBody | null | undefined): string {
  if (decommission === null || decommission === undefined) return '-';
  return `${show(decommission.replicasRemaining)} replicas left to move (partitions ${show(decommission.partitionsRemaining)})`;
}

function renderNode(body: { node: NodeBody; partitions?: readonly number[]; decommission?: DecommissionBody | null }): string {
  const node = body.node;
  return formatFields([
    ['node', show(node.id)],
    ['role', show(node.role)],
    ['instance', show(node.instance)],
    ['address', nodeAddress(node)],
    ['ports', `http ${show(node.httpPort)}, raft heartbeat ${show(node.raftHeartbeatPort)}, raft replica ${show(node.raftReplicaPort)}`],
    ['zone', show(node.zone)],
    ['state', `${show(node.state)} (since ${ago(node.stateSinceMs)})`],
    ['used', usage(node.usedBytes, node.capacityBytes)],
    ['replicas', show(node.replicaCount)],
    ['heartbeat', ago(node.lastHeartbeatAtMs)],
    ...(body.partitions === undefined ? [] : [['partitions', show(body.partitions)] as [string, string]]),
    ['decommission', renderDecommission(body.decommission)],
  ]);
}

function volumeFields(volume: VolumeBody): [string, string][] {
  return [
    ['volume', show(volume.name)],
    ['id', show(volume.id)],
    ['owner', show(volume.owner)],
    ['status', show(volume.status)],
    ['capacity', humanBytes(volume.capacityBytes)],
    ['replicas', show(volume.replicaCount)],
    ['trash retention', `${show(volume.trashRetentionHours)} h`],
    ['access key', show(volume.accessKey)],
    ['created', typeof volume.createdAtMs === 'number' && volume.createdAtMs > 0 ? new Date(volume.createdAtMs).toISOString() : '-'],
    ['view version', show(volume.viewVersion)],
    ['description', show(volume.description)],
  ];
}

function renderVolumes(body: { volumes: readonly VolumeBody[] }): string {
  const volumes = body.volumes ?? [];
  if (volumes.length === 0) return '(no volumes)';
  return formatTable(
    ['NAME', 'ID', 'OWNER', 'STATUS', 'CAPACITY', 'REPLICAS', 'META', 'DATA', 'TRASH', 'DESCRIPTION'],
    volumes.map((volume) => [
      show(volume.name),
      show(volume.id),
      show(volume.owner),
      show(volume.status),
      humanBytes(volume.capacityBytes),
      show(volume.replicaCount),
      show(volume.metaPartitionCount),
      show(volume.dataPartitionCount),
      `${show(volume.trashRetentionHours)}h`,
      show(volume.description),
    ]),
  );
}

function renderVolume(body: { volume: VolumeBody; metaPartitions?: readonly PartitionBody[]; dataPartitions?: readonly PartitionBody[] }): string {
  return [
    formatFields(volumeFields(body.volume)),
    '',
    'meta partitions:',
    partitionTable(body.metaPartitions, false),
    '',
    'data partitions:',
    partitionTable(body.dataPartitions, false),
  ].join('\n');
}

function renderCreatedVolume(body: { volume: VolumeBody }): string {
  const volume = body.volume;
  return [
    `volume ${show(volume.name)} created`,
    '',
    formatFields([...volumeFields(volume), ['secret key', show(volume.secretKey)]]),
    '',
    'The secret key is shown only now: keep it.',
  ].join('\n');
}

function renderPartition(body: { partition: PartitionBody; peerAddresses?: readonly PeerAddressBody[] }): string {
  const partition = body.partition;
  const peers = body.peerAddresses ?? [];
  return [
    formatFields([
      ['partition', show(partition.id)],
      ['volume', show(partition.volume)],
      ['kind', show(partition.kind)],
      ['status', show(partition.status)],
      ['leader', show(partition.leaderNodeId === 0 ? undefined : partition.leaderNodeId)],
      ['peers', show(partition.peers)],
      ['reported members', show(partition.reportedMembers)],
      [partition.kind === 'meta' ? 'inodes' : 'used', partitionDetail(partition)],
    ]),
    '',
    peers.length === 0
      ? '(no peer addresses)'
      : formatTable(
        ['NODE', 'ADDRESS', 'STATE', 'RAFT HEARTBEAT', 'RAFT REPLICA', 'LEADER'],
        peers.map((peer) => [
          show(peer.nodeId),
          `${show(peer.host)}:${show(peer.servicePort)}`,
          show(peer.state),
          show(peer.raftHeartbeatPort),
          show(peer.raftReplicaPort),
          peer.nodeId === partition.leaderNodeId ? 'yes' : '',
        ]),
      ),
  ].join('\n');
}

// ------------------------------------------------------------------ arguments

function positiveId(text: string, what: string): number {
  const value = /^[1-9][0-9]*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new CliUsageError(`${what} must be a positive integer, got '${text}'`);
  return value;
}

function query(parameters: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) if (value !== undefined) search.set(name, value);
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

const segment = encodeURIComponent;

const noKeys = {};

// ------------------------------------------------------------------ atoll cluster

const clusterVerbs: Record<string, Verb> = {
  info: defineVerb({
    summary: 'the master group: leader, term, members and their states',
    args: [],
    keys: noKeys,
    run: (context) => context.request<ClusterBody>('GET', '/api/v1/cluster', undefined, renderCluster),
  }),
  status: defineVerb({
    summary: 'which masters this client reaches, which one leads, and the cluster info',
    args: [],
    keys: noKeys,
    run: async (context) => {
      const client = context.connection.client;
      await client.refreshHealth();
      let answer: AdminResult | null = null;
      let failure: AtollError | null = null;
      if (client.state().masters.some((master) => master.healthy)) {
        try {
          answer = await client.admin('GET', '/api/v1/cluster');
        } catch (error) {
          if (!(error instanceof AtollError)) throw error;
          failure = error;
        }
      }
      const state = client.state();
      if (context.config.json) {
        context.out(JSON.stringify({ masters: state.masters, leader: state.leader, cluster: answer === null ? null : answer.body }));
      } else {
        context.out(renderMasters(state));
        if (answer !== null && exitCodeOfHttp(answer.status) === exitCodes.ok) context.out(`\n${renderCluster(answer.body as ClusterBody)}`);
      }
      if (answer === null && failure === null) {
        context.err(`${context.command}: no master answered its health check (masters: ${context.connection.masters.join(', ')})`);
        return exitCodes.unavailable;
      }
      if (failure !== null) {
        context.err(`${context.command}: no cluster info from the masters: ${failure.message}`);
        return exitCodeOfStatus(failure.status);
      }
      const code = exitCodeOfHttp(answer!.status);
      if (code !== exitCodes.ok) context.err(`${context.command}: ${answerMessage(answer!)}`);
      return code;
    },
  }),
};

// ------------------------------------------------------------------ atoll node

const nodeVerbs: Record<string, Verb> = {
  list: defineVerb({
    summary: 'the metanodes and datanodes with their state, usage and heartbeat',
    args: [],
    keys: {
      role: optionalKey(enumKey({ values: ['metanode', 'datanode'] as const, default: 'metanode', description: 'only nodes of this role' })),
      state: optionalKey(enumKey({ values: ['active', 'inactive', 'decommissioning', 'decommissioned'] as const, default: 'active', description: 'only nodes in this state' })),
    },
    run: (context) => context.request('GET', `/api/v1/nodes${query({ role: context.config.role, state: context.config.state })}`, undefined, renderNodes),
  }),
  info: defineVerb({
    summary: 'one node: addresses, state, partitions, decommission progress',
    args: ['<id>'],
    keys: noKeys,
    check: (_config, args) => void positiveId(args[0]!, 'node id'),
    run: (context) => context.request('GET', `/api/v1/nodes/${positiveId(context.args[0]!, 'node id')}`, undefined, renderNode),
  }),
  decommission: defineVerb({
    summary: 'move every replica off a node, then retire it (--cancel: stop, the node stays active)',
    args: ['<id>'],
    keys: { cancel: booleanKey({ default: false, description: 'cancel a decommission in progress; replicas already moved stay where they are' }) },
    check: (_config, args) => void positiveId(args[0]!, 'node id'),
    run: (context) =>
      context.request<{ node: NodeBody; decommission: DecommissionBody | null }>(
        context.config.cancel ? 'DELETE' : 'POST',
        `/api/v1/nodes/${positiveId(context.args[0]!, 'node id')}/decommission`,
        undefined,
        (body) => `node ${show(body.node?.id)} is ${show(body.node?.state)}: ${renderDecommission(body.decommission)}`,
      ),
  }),
};

// ------------------------------------------------------------------ atoll volume

const volumeVerbs: Record<string, Verb> = {
  create: defineVerb({
    summary: 'create a volume (prints its access and secret keys)',
    args: ['<name>'],
    keys: {
      capacity: byteSizeKey({ default: 10 * 2 ** 30, min: 1, description: 'quota of the volume' }),
      replicas: optionalKey(integerKey({ default: 3, min: 1, max: 16, description: 'replicas of every partition (when not given, the master decides)' })),
      owner: optionalKey(stringKey({ default: '', description: 'owner of the volume' })),
      trashRetentionHours: optionalKey(integerKey({ default: 0, min: 0, max: 100_000, description: 'hours deleted files stay in the trash (when not given, the master decides)' })),
      description: optionalKey(stringKey({ default: '', description: 'free text shown in listings' })),
    },
    run: (context) => {
      const { capacity, replicas, owner, trashRetentionHours, description } = context.config;
      const body = { name: context.args[0]!, owner, capacityBytes: capacity, replicaCount: replicas, trashRetentionHours, description };
      // Options not given are undefined and left out of the JSON: the master applies its defaults.
      return context.request('POST', '/api/v1/volumes', body, renderCreatedVolume);
    },
  }),
  list: defineVerb({
    summary: 'every volume with its capacity, status and partition counts',
    args: [],
    keys: noKeys,
    run: (context) => context.request('GET', '/api/v1/volumes', undefined, renderVolumes),
  }),
  info: defineVerb({
    summary: 'one volume with its meta and data partitions',
    args: ['<name>'],
    keys: noKeys,
    run: (context) => context.request('GET', `/api/v1/volumes/${segment(context.args[0]!)}`, undefined, renderVolume),
  }),
  update: defineVerb({
    summary: 'change a volume\'s capacity, trash retention, read-only state or description',
    args: ['<name>'],
    keys: {
      capacity: optionalKey(byteSizeKey({ default: 1, min: 1, description: 'new quota of the volume' })),
      trashRetentionHours: optionalKey(integerKey({ default: 0, min: 0, max: 100_000, description: 'hours deleted files stay in the trash' })),
      readOnly: optionalKey(enumKey({ values: ['true', 'false'] as const, default: 'false', description: 'true: refuse writes (status read-only); false: status active' })),
      description: optionalKey(stringKey({ default: '', description: 'free text shown in listings' })),
    },
    check: (config) => {
      if ([config.capacity, config.trashRetentionHours, config.readOnly, config.description].every((value) => value === undefined)) {
        throw new CliUsageError('nothing to update: give --capacity, --trash-retention-hours, --read-only or --description');
      }
    },
    run: (context) => {
      const { capacity, trashRetentionHours, readOnly, description } = context.config;
      const status = readOnly === undefined ? undefined : readOnly === 'true' ? 'read-only' : 'active';
      const body = { capacityBytes: capacity, trashRetentionHours, status, description };
      return context.request<{ volume: VolumeBody }>('PATCH', `/api/v1/volumes/${segment(context.args[0]!)}`, body, (answer) =>
        [`volume ${show(answer.volume?.name)} updated`, '', formatFields(volumeFields(answer.volume))].join('\n'));
    },
  }),
  delete: defineVerb({
    summary: 'delete a volume and all its files (needs --yes)',
    args: ['<name>'],
    keys: { yes: booleanKey({ default: false, description: 'confirm the deletion: every file of the volume is removed' }) },
    check: (config, args) => {
      if (!config.yes) throw new CliUsageError(`deleting volume ${args[0]} removes every file in it; add --yes to confirm`);
    },
    run: (context) => context.request<{ deleted: string }>('DELETE', `/api/v1/volumes/${segment(context.args[0]!)}`, undefined, (body) => `volume ${show(body.deleted)} deleted`),
  }),
};

// ------------------------------------------------------------------ atoll partition

const partitionVerbs: Record<string, Verb> = {
  list: defineVerb({
    summary: 'partitions with their peers, leader and usage',
    args: [],
    keys: {
      volume: optionalKey(stringKey({ default: '', description: 'only partitions of this volume' })),
      kind: optionalKey(enumKey({ values: ['meta', 'data'] as const, default: 'meta', description: 'only meta or only data partitions' })),
    },
    run: (context) =>
      context.request<{ partitions: readonly PartitionBody[] }>('GET', `/api/v1/partitions${query({ volume: context.config.volume, kind: context.config.kind })}`, undefined, (body) =>
        partitionTable(body.partitions, true)),
  }),
  info: defineVerb({
    summary: 'one partition with the addresses of its peers',
    args: ['<id>'],
    keys: noKeys,
    check: (_config, args) => void positiveId(args[0]!, 'partition id'),
    run: (context) => context.request('GET', `/api/v1/partitions/${positiveId(context.args[0]!, 'partition id')}`, undefined, renderPartition),
  }),
};

export const clusterCommand = nounCommand('cluster', clusterVerbs);
export const nodeCommand = nounCommand('node', nodeVerbs);
export const volumeCommand = nounCommand('volume', volumeVerbs);
export const partitionCommand = nounCommand('partition', partitionVerbs);
