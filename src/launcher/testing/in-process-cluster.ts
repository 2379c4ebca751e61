// TEST ONLY: a whole cluster inside the test process: one master and metanodes and
// datanodes started as in `atoll metanode` / `atoll datanode` (the same start-up code,
// real TCP on loopback, real Raft logs and engines on disk), so a test can stop, crash
// (halt without a clean shutdown) and restart a node on its own ports and data, and look
// inside a node's partitions. Real processes (SIGKILL) are in test-cluster.ts.
import { join } from 'node:path';
import { nodeRolePlug } from '../../cli/role-plug.js';
import { loadConfig, type DatanodeConfig, type MetadataEngine, type MetanodeConfig } from '../../config/index.js';
import { MasterClient } from '../../masterclient/index.js';
import type { MasterServer } from '../../master/index.js';
import { httpAdmin, newTestRpcClient, planMasterGroup, removePlan, startMasterInProcess, waitFor, type MasterGroupPlan } from '../../master/testing/master-group.js';
import { MetaClient } from '../../metaclient/index.js';
import { startNodeRole, type NodeRole, type NodeRoleOptions } from '../../nodeagent/index.js';
import type { RpcClient } from '../../rpc/index.js';
import { freePorts } from '../free-ports.js';

const host = '127.0.0.1';

export interface InProcessNode {
  readonly role: 'metanode' | 'datanode';
  readonly name: string;
  readonly args: string[];
  readonly serviceAddress: string;
  readonly httpPort: number;
  /** Null while stopped. */
  node: NodeRole | null;
}

export interface InProcessClusterOptions {
  readonly metanodes?: number;
  readonly datanodes?: number;
  readonly engine?: MetadataEngine;
  /** Master settings applied before the volume is created. */
  readonly settings?: Record<string, unknown>;
  readonly volume?: string;
  readonly trashRetentionHours?: number;
  /** Options of every node's partition host (e.g. small snapshot thresholds). */
  readonly nodeOptions?: NodeRoleOptions;
}

export class InProcessCluster {
  readonly nodes: InProcessNode[] = [];
  master: MasterServer | null = null;
  masterClient!: MasterClient;
  metaClient!: MetaClient;

  private constructor(
    readonly plan: MasterGroupPlan,
    readonly rpc: RpcClient,
    readonly volume: string,
    readonly nodeOptions: NodeRoleOptions,
  ) {}

  static async start(options: InProcessClusterOptions = {}): Promise<InProcessCluster> {
    const plan = await planMasterGroup(1);
    const cluster = new InProcessCluster(plan, newTestRpcClient(plan, 'cluster-test'), options.volume ?? 'vol', options.nodeOptions ?? {});
    try {
      cluster.master = await startMasterInProcess(plan, 0);
      const counts = { metanode: options.metanodes ?? 3, datanode: options.datanodes ?? 3 };
      const ports = await freePorts(host, (counts.metanode + counts.datanode) * 4);
      let next = 0;
      for (const role of ['metanode', 'datanode'] as const) {
        for (let index = 0; index < counts[role]; index++) {
          const [service, http, heartbeat, replica] = ports.slice(next, next + 4) as [number, number, number, number];
          next += 4;
          const name = `${role}-${index + 1}`;
          const args = [
            '--instance', name, '--host', host, '--port', String(service), '--http-port', String(http),
            '--raft-heartbeat-port', String(heartbeat), '--raft-replica-port', String(replica),
            '--data-dir', join(plan.root, name), '--cluster-secret-file', plan.secretFile,
            '--masters', plan.addresses.join(','), '--log-level', process.env.ATOLL_TEST_LOG_LEVEL ?? 'warn',
          ];
          if (role === 'metanode') args.push('--engine', options.engine ?? 'memory');
          cluster.nodes.push({ role, name, args, serviceAddress: `${host}:${service}`, httpPort: http, node: null });
        }
      }
      const started = await Promise.all(cluster.nodes.map((node) => cluster.startNode(node.name)));
      await Promise.all(started.map((node) => node.started));
      cluster.masterClient = new MasterClient({ masters: plan.addresses, rpc: cluster.rpc, adminToken: plan.adminToken });
      cluster.masterClient.start();
      if (options.settings !== undefined) await cluster.admin('PATCH', '/api/v1/cluster/settings', options.settings);
      await cluster.admin('POST', '/api/v1/volumes', { name: cluster.volume, capacityBytes: 2 ** 30, trashRetentionHours: options.trashRetentionHours ?? 0 });
      cluster.metaClient = new MetaClient({ rpc: cluster.rpc, masterClient: cluster.masterClient, volume: cluster.volume });
      // Ready for use: every partition of the volume has a leader.
      await waitFor('a leader for every partition of the volume', 30_000, async () => {
        const view = await cluster.masterClient.getVolumeView(cluster.volume);
        return [...view.metaPartitions, ...view.dataPartitions].every((partition) => partition.leaderNodeId !== 0) ? true : undefined;
      }, 100);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** An admin API call; retried while the master answers 503 (no leader yet). */
  async admin(method: string, path: string, body?: unknown): Promise<any> {
    for (let attempt = 0; ; attempt++) {
      const reply = await httpAdmin(this.plan.ports[0]!.http, method, path, { body, token: this.plan.adminToken });
      if (reply.status === 503 && attempt < 100) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      if (reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
      return reply.body;
    }
  }

  byName(name: string): InProcessNode {
    const node = this.nodes.find((candidate) => candidate.name === name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  }

  async startNode(name: string, extra: NodeRoleOptions = {}): Promise<NodeRole> {
    const options: NodeRoleOptions = { partitionHost: { ...this.nodeOptions.partitionHost, ...extra.partitionHost } };
    const entry = this.byName(name);
    if (entry.node !== null) throw new Error(`${name} is running`);
    const { config } = loadConfig(entry.role, entry.args);
    entry.node = await startNodeRole(entry.role, config as MetanodeConfig | DatanodeConfig, nodeRolePlug(entry.role, config as MetanodeConfig | DatanodeConfig), options);
    return entry.node;
  }

  /** A clean stop: Raft settles, engines close. */
  async stopNode(name: string): Promise<void> {
    const entry = this.byName(name);
    const node = entry.node;
    entry.node = null;
    await node?.stop();
  }

  /** As a crash: Raft stops at once (nothing more is written), then the ports close. */
  async crashNode(name: string): Promise<void> {
    const entry = this.byName(name);
    const node = entry.node;
    entry.node = null;
    if (node === null) return;
    node.partitions.halt();
    await node.stop();
  }

  /** The metanode (name) leading a meta partition, once one leads and the root exists. */
  async metaLeader(partitionId: number, deadlineMs = 20_000): Promise<InProcessNode> {
    return waitFor(`a leader of meta partition ${partitionId}`, deadlineMs, () => {
      for (const entry of this.nodes) {
        if (entry.role !== 'metanode' || entry.node === null) continue;
        try {
          const { context } = entry.node.partitions.get(partitionId);
          if (context.isLeader()) return entry;
        } catch {
          // Not here, or loading.
        }
      }
      return undefined;
    });
  }

  async stop(): Promise<void> {
    await this.masterClient?.stop().catch(() => undefined);
    for (const entry of this.nodes) await this.stopNode(entry.name).catch(() => undefined);
    await this.master?.stop().catch(() => undefined);
    await this.rpc.close().catch(() => undefined);
    await removePlan(this.plan);
  }
}
