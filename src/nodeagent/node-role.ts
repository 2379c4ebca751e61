// A metanode or datanode process as far as the cluster goes: the instance runtime, the
// master client, the node agent (registration, heartbeats) and the partition host. The
// role plugs in its partitions (a PartitionFactory) and its service handlers.
//
// Start-up order (staged): ports bound, /healthz answers; partitions on disk listed (from
// here on their requests get PARTITION_NOT_READY); registration with the masters (which
// gives the node id the Raft groups need); partitions loaded one by one; /readyz 200.
import { mkdir, statfs } from 'node:fs/promises';
import type { DatanodeConfig, MetanodeConfig } from '../config/index.js';
import { ServerInstance } from '../instance/index.js';
import { MasterClient } from '../masterclient/index.js';
import type { NodeTask } from '../proto/generated/master.js';
import { RpcClient, type PayloadPoolLimits } from '../rpc/index.js';
import type { PartitionFactory } from './hosted-partition.js';
import { NodeAgent, savedNodeId, type NodeUsageReport } from './node-agent.js';
import { PartitionHost, type PartitionHostOptions } from './partition-host.js';

export interface NodeRole {
  readonly instance: ServerInstance;
  readonly agent: NodeAgent;
  readonly masterClient: MasterClient;
  readonly partitions: PartitionHost;
  /** Resolves when every partition on disk is loaded (or rejects if start-up failed). */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

/** What a role adds to the common node runtime. */
export interface NodeRolePlug {
  readonly factory: PartitionFactory;
  /** Registers the role's service methods on the instance's RPC server (before ports bind). */
  registerService(instance: ServerInstance, partitions: () => PartitionHost, rpc: RpcClient, masterClient: () => MasterClient): void;
  /** Extra figures for /status. */
  statusExtra?(partitions: PartitionHost): Record<string, unknown>;
  /** The node's capacity and usage for heartbeats, when the role knows better than statfs. */
  usage?(): Promise<NodeUsageReport>;
  /** A pool for the service port's large request payloads, whose handlers give them back. */
  readonly servicePayloadPool?: PayloadPoolLimits;
}

export interface NodeRoleOptions {
  /** Test hooks and limits for the partition host. */
  readonly partitionHost?: Pick<PartitionHostOptions, 'limits' | 'raftHostLimits' | 'raftLimits' | 'loadGate'>;
}

export async function startNodeRole(role: 'metanode' | 'datanode', config: MetanodeConfig | DatanodeConfig, plug: NodeRolePlug, options: NodeRoleOptions = {}): Promise<NodeRole> {
  let registered = false;
  let failure: string | null = null;
  let partitions: PartitionHost | null = null;
  let masterClient: MasterClient | null = null;
  if (role === 'datanode') for (const disk of (config as DatanodeConfig).disks) await mkdir(disk, { recursive: true });
  const rpc = new RpcClient({ secret: config.clusterSecret!, instance: config.instance });
  const instance = await ServerInstance.start({
    role,
    config,
    ...(plug.servicePayloadPool === undefined ? {} : { servicePayloadPool: plug.servicePayloadPool }),
    readiness: () => {
      if (failure !== null) return { ready: false, reason: failure };
      const progress = partitions?.loadProgress() ?? { partitionsLoaded: 0, partitionsTotal: 0, listed: false };
      const details = { partitionsLoaded: progress.partitionsLoaded, partitionsTotal: progress.partitionsTotal, ...('partitionsFailed' in progress && progress.partitionsFailed > 0 ? { partitionsFailed: progress.partitionsFailed } : {}) };
      if (!registered) return { ready: false, reason: 'registering with the masters', details };
      if (partitions === null || !partitions.allLoaded()) return { ready: false, reason: 'loading partitions', details };
      return { ready: true, details };
    },
    statusExtra: () => (partitions === null ? {} : { partitions: partitions.loadProgress(), ...plug.statusExtra?.(partitions) }),
    registerHandlers: (bound) => plug.registerService(bound, () => partitions!, rpc, () => masterClient!),
  });
  const ports = instance.ports;
  partitions = new PartitionHost({
    dataDir: config.dataDir,
    factory: plug.factory,
    logger: instance.logger.child({ component: 'partitions' }),
    rpcClient: rpc,
    raftHeartbeatRpc: instance.raftHeartbeatRpc,
    raftReplicaRpc: instance.raftReplicaRpc,
    host: config.host,
    raftHeartbeatPort: ports.raftHeartbeat,
    raftReplicaPort: ports.raftReplica,
    snapshotSendsMax: config.snapshotSendsMax,
    snapshotReceivesMax: config.snapshotReceivesMax,
    ...options.partitionHost,
  });
  const host = partitions;
  // Read-only: each loaded replica's Raft position and state digest, for comparing
  // replicas (docs/api.md, "GET /partitions").
  instance.http.route('GET', '/partitions', async () => ({ status: 200, body: { role, instance: config.instance, nodeId: host.nodeId, partitions: await host.partitionStates() } }));
  await host.list();
  masterClient = new MasterClient({ masters: (config as MetanodeConfig).masters.map((master) => `${master.host}:${master.port}`), rpc });
  masterClient.start();
  // A metanode's capacity is its memory budget; what it uses is the process's resident
  // memory (the in-memory engine's trees, LMDB's mapped pages that are resident).
  const usage = plug.usage !== undefined ? () => plug.usage!() : role === 'datanode' ? () => datanodeUsage(config as DatanodeConfig) : async (): Promise<NodeUsageReport> => ({ capacityBytes: (config as MetanodeConfig).memoryBudget, usedBytes: process.memoryUsage().rss });
  const agent = new NodeAgent({
    role,
    instance: config.instance,
    dataDir: config.dataDir,
    zone: config.zone,
    address: { host: config.host, servicePort: ports.service, httpPort: ports.http, raftHeartbeatPort: ports.raftHeartbeat, raftReplicaPort: ports.raftReplica },
    masterClient,
    logger: instance.logger.child({ component: 'node-agent' }),
    usage,
    reports: () => host.reports(),
    onTasks: (tasks: readonly NodeTask[]) => host.onTasks(tasks),
  });
  const client = masterClient;
  const stop = async (): Promise<void> => {
    agent.stop();
    // The service first: it refuses new calls as shutting down (clients retry elsewhere)
    // and drains the calls in flight, whose proposals need the Raft groups still running.
    // Stopping Raft first failed them as UNAVAILABLE, an unknown outcome for a mutation.
    await instance.rpc.stop();
    await host.stop();
    await client.stop();
    await instance.stop();
    await rpc.close();
  };
  // A node that registered before knows its id: its partitions load and serve at once,
  // even while no master answers. A new node needs the id from its registration first.
  const knownNodeId = await savedNodeId(config.dataDir);
  const loading = knownNodeId > 0 ? host.start(knownNodeId) : null;
  const started = agent.start().then(async (identity) => {
    registered = true;
    if (knownNodeId > 0 && identity.nodeId !== knownNodeId) throw new Error(`the masters answered node id ${identity.nodeId}, this data directory is node ${knownNodeId}`);
    instance.logger.info({ nodeId: identity.nodeId }, loading === null ? 'registered; loading partitions' : 'registered');
    await (loading ?? host.start(identity.nodeId));
    instance.logger.info({ nodeId: identity.nodeId, partitions: host.loadProgress().partitionsLoaded }, 'ready');
  });
  loading?.catch(() => undefined);
  started.catch((error: unknown) => {
    failure = `start-up failed: ${(error as Error).message}`;
    instance.logger.error({ err: (error as Error).message }, 'start-up failed');
  });
  return { instance, agent, masterClient: client, partitions: host, started, stop };
}

async function datanodeUsage(config: DatanodeConfig): Promise<NodeUsageReport> {
  let capacityBytes = 0;
  let usedBytes = 0;
  for (const disk of config.disks) {
    try {
      const stats = await statfs(disk);
      const total = stats.blocks * stats.bsize;
      const available = stats.bavail * stats.bsize;
      capacityBytes += Math.max(0, total - config.diskReserved);
      usedBytes += total - available;
    } catch {
      // A disk that cannot be read counts as no capacity; placement then prefers other nodes.
    }
  }
  return { capacityBytes, usedBytes };
}
