// Three replicas of the test key-value service (src/raftstore/testing/kv-process.ts) as
// separate processes on loopback, for bench:raft. Each child gets a pipe for stdin and
// exits when it closes, so even a benchmark killed by SIGKILL leaves no replica behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../src/launcher/index.js';
import { TestKv, type KvStateResponse } from '../../src/proto/generated/testkv.js';
import type { RpcClient } from '../../src/rpc/index.js';

const kvProcessScript = fileURLToPath(new URL('../../src/raftstore/testing/kv-process.js', import.meta.url));
const startTimeoutMs = 15_000;
const stopTimeoutMs = 10_000;
const leadersTimeoutMs = 30_000;

export interface KvMember {
  nodeId: number;
  host: string;
  servicePort: number;
  heartbeatPort: number;
  replicaPort: number;
}

export interface KvClusterOptions {
  // Holds one data directory per replica.
  root: string;
  groups: number;
  tickMs: number;
  secret: string;
  // Extra node options for the replicas (e.g. --cpu-prof).
  execArgv: readonly string[];
}

export function serviceAddress(member: KvMember): string {
  return `${member.host}:${member.servicePort}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class KvCluster {
  private readonly children: ChildProcess[] = [];

  private constructor(
    readonly members: readonly KvMember[],
    private readonly options: KvClusterOptions,
  ) {}

  static async start(options: KvClusterOptions): Promise<KvCluster> {
    const ports = await freePorts('127.0.0.1', 9);
    const members: KvMember[] = [1, 2, 3].map((nodeId, position) => ({
      nodeId,
      host: '127.0.0.1',
      servicePort: ports[position * 3]!,
      heartbeatPort: ports[position * 3 + 1]!,
      replicaPort: ports[position * 3 + 2]!,
    }));
    const cluster = new KvCluster(members, options);
    try {
      // Started together, so that no replica waits long for the others' first votes.
      await Promise.all(members.map((member) => cluster.startReplica(member)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get pids(): number[] {
    return this.children.map((child) => child.pid ?? 0);
  }

  private async startReplica(member: KvMember): Promise<void> {
    const processOptions = {
      nodeId: member.nodeId,
      dataDir: join(this.options.root, `node-${member.nodeId}`),
      secret: this.options.secret,
      groups: this.options.groups,
      tickMs: this.options.tickMs,
      cluster: this.members,
      exitWhenStdinEnds: true,
    };
    const child = spawn(process.execPath, [...this.options.execArgv, kvProcessScript, JSON.stringify(processOptions)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.children.push(child);
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      const timer = setTimeout(() => reject(new Error(`start kv replica ${member.nodeId}: no ready line within ${startTimeoutMs} ms`)), startTimeoutMs);
      const onExit = (code: number | null, signal: string | null): void => {
        clearTimeout(timer);
        reject(new Error(`start kv replica ${member.nodeId}: exited with code ${code} signal ${signal}`));
      };
      child.once('exit', onExit);
      // Later lines are read and dropped, so the child never blocks on a full pipe.
      lines.once('line', () => {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve();
      });
    });
  }

  // Waits until every replica names the same live leader for every group; returns the
  // leaders' service addresses by group (index 0 is group 1).
  async agreedLeaders(client: RpcClient): Promise<string[]> {
    const deadline = Date.now() + leadersTimeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const views = await Promise.all(
        this.members.map((member) => client.call(serviceAddress(member), TestKv.leaders, {}, { deadlineMs: 2_000 }).then((reply) => reply.leaderAddresses, () => null)),
      );
      const first = views[0];
      if (
        first !== null &&
        first !== undefined &&
        first.length === this.options.groups &&
        first.every((address) => address !== '') &&
        views.every((view) => view !== null && view.length === first.length && view.every((address, index) => address === first[index]))
      ) {
        return first;
      }
      last = JSON.stringify(views.map((view) => view?.filter((address) => address === '').length ?? 'unreachable'));
      await sleep(50);
    }
    throw new Error(`kv cluster: the replicas did not agree on a leader for each of ${this.options.groups} groups within ${leadersTimeoutMs} ms (groups without a leader per replica: ${last})`);
  }

  async counters(client: RpcClient): Promise<KvStateResponse[]> {
    return Promise.all(this.members.map((member) => client.call(serviceAddress(member), TestKv.state, { countersOnly: true }, { deadlineMs: 5_000 })));
  }

  // SIGTERM (orderly: the replica syncs and closes its log, and writes a CPU profile if
  // asked to), then SIGKILL for any that did not exit in time.
  async stop(): Promise<void> {
    const running = this.children.filter((child) => child.exitCode === null && child.signalCode === null);
    const exited = running.map((child) => new Promise<void>((resolve) => child.once('exit', () => resolve())));
    for (const child of running) child.kill('SIGTERM');
    const timedOut = await Promise.race([Promise.all(exited).then(() => false), sleep(stopTimeoutMs).then(() => true)]);
    if (timedOut) {
      for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await Promise.all(exited);
    }
  }

  // Last resort on the way out of a failed run: no waiting.
  killNow(): void {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
