// A metanode or datanode process as far as the cluster goes: the instance runtime, the
// master client and the node agent (registration, heartbeats). The partitions of each
// role plug in through `reports` and `onTasks`; until a role holds partitions it reports
// none and logs the tasks it cannot carry out yet, once each.
import { mkdir, statfs } from 'node:fs/promises';
import type { DatanodeConfig, MetanodeConfig } from '../config/index.js';
import { ServerInstance } from '../instance/index.js';
import { MasterClient } from '../masterclient/index.js';
import { NodeTaskKind, type NodeTask, type PartitionReport } from '../proto/generated/master.js';
import { RpcClient } from '../rpc/index.js';
import { NodeAgent, type NodeUsageReport } from './node-agent.js';

export interface NodeRole {
  readonly instance: ServerInstance;
  readonly agent: NodeAgent;
  readonly masterClient: MasterClient;
  stop(): Promise<void>;
}

export type NodeRoleConfig = ({ readonly role: 'metanode' } & MetanodeConfig) | ({ readonly role: 'datanode' } & DatanodeConfig);

const tasksLoggedMax = 1_000;

export async function startNodeRole(role: 'metanode' | 'datanode', config: MetanodeConfig | DatanodeConfig): Promise<NodeRole> {
  let registered = false;
  if (role === 'datanode') for (const disk of (config as DatanodeConfig).disks) await mkdir(disk, { recursive: true });
  const instance = await ServerInstance.start({
    role,
    config,
    readiness: () => (registered ? { ready: true } : { ready: false, reason: 'registering with the masters' }),
  });
  const rpc = new RpcClient({ secret: config.clusterSecret!, instance: config.instance });
  const masterClient = new MasterClient({ masters: (config as MetanodeConfig).masters.map((master) => `${master.host}:${master.port}`), rpc });
  masterClient.start();
  const tasksLogged = new Set<string>();
  const usage = role === 'datanode' ? () => datanodeUsage(config as DatanodeConfig) : async (): Promise<NodeUsageReport> => ({ capacityBytes: (config as MetanodeConfig).memoryBudget, usedBytes: 0 });
  const ports = instance.ports;
  const agent = new NodeAgent({
    role,
    instance: config.instance,
    dataDir: config.dataDir,
    zone: config.zone,
    address: { host: config.host, servicePort: ports.service, httpPort: ports.http, raftHeartbeatPort: ports.raftHeartbeat, raftReplicaPort: ports.raftReplica },
    masterClient,
    logger: instance.logger.child({ component: 'node-agent' }),
    usage,
    reports: (): PartitionReport[] => [],
    onTasks: (tasks: readonly NodeTask[]) => {
      for (const task of tasks) {
        const key = `${task.kind}:${task.partitionId}`;
        if (tasksLogged.has(key) || tasksLogged.size >= tasksLoggedMax) continue;
        tasksLogged.add(key);
        instance.logger.warn({ task: NodeTaskKind[task.kind], partitionId: task.partitionId, volume: task.volume }, `${role} partitions are not implemented in this version; the task waits`);
      }
    },
  });
  const stop = async (): Promise<void> => {
    agent.stop();
    await masterClient.stop();
    await instance.stop();
    await rpc.close();
  };
  agent.start().then(
    (identity) => {
      registered = true;
      instance.logger.info({ nodeId: identity.nodeId }, 'ready');
    },
    (error: unknown) => instance.logger.error({ err: (error as Error).message }, 'registration with the masters failed'),
  );
  return { instance, agent, masterClient, stop };
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
