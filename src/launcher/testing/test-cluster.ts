// TEST ONLY: a whole cluster of real `atoll` processes on loopback for end-to-end tests
// (N masters, M metanodes, K datanodes), built on the launcher's plan, spawn and
// readiness probes. A test starts it, creates volumes through the admin API, talks to the
// instances by name, kills (SIGKILL, SIGTERM) and restarts them, and stops everything in
// its `after` hook. Every process it starts is stopped by its own pid; nothing else is
// touched. The cluster directory is removed at stop unless ATOLL_TEST_KEEP_CLUSTER is set
// (its path is then printed, with every instance's log).
//
//   const cluster = await TestCluster.start({ masters: 1, metanodes: 3, datanodes: 3 });
//   after(() => cluster.stop());
//   await cluster.createVolume('v1');
//   const client = new DataClient({ rpc: cluster.rpc, masterClient: cluster.masterClient, volume: 'v1' });
//   await cluster.kill('datanode-2');
//   await cluster.restart('datanode-2');
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerRole } from '../../config/index.js';
import { MasterClient } from '../../masterclient/index.js';
import { temporaryClusterRoot } from '../../master/testing/master-group.js';
import { RpcClient } from '../../rpc/index.js';
import { planInstances, probe, spawnInstance, waitReady, type ClusterPlan, type PlannedInstance, type Probe, type RunningInstance } from '../local-cluster.js';

export interface TestClusterOptions {
  readonly masters?: number;
  readonly metanodes?: number;
  readonly datanodes?: number;
  /** Extra flags of an instance (after the planned ones), e.g. `--disk-capacity`. */
  readonly args?: (instance: PlannedInstance) => readonly string[];
  /** Extra environment of an instance (test hooks). */
  readonly env?: (instance: PlannedInstance) => Readonly<Record<string, string>> | undefined;
  /** Log level of every instance; ATOLL_TEST_LOG_LEVEL, else `warn`. */
  readonly logLevel?: string;
  readonly readyTimeoutMs?: number;
}

export interface VolumeOptions {
  readonly capacityBytes?: number;
  readonly replicaCount?: number;
}

const host = '127.0.0.1';
const stopTimeoutMs = 20_000;
const startAttemptsMax = 3;

export class TestCluster {
  readonly #running = new Map<string, RunningInstance>();
  readonly #options: TestClusterOptions;
  #stopped = false;

  private constructor(
    readonly root: string,
    readonly plan: ClusterPlan,
    readonly secret: string,
    readonly adminToken: string,
    readonly rpc: RpcClient,
    readonly masterClient: MasterClient,
    options: TestClusterOptions,
  ) {
    this.#options = options;
  }

  /** Plans ports and directories, starts every instance and waits until all are ready. */
  static async start(options: TestClusterOptions = {}): Promise<TestCluster> {
    // A port taken by another program between the plan and the spawn: plan again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await TestCluster.#startOnce(options);
      } catch (error) {
        if (attempt >= startAttemptsMax || !/already in use/.test((error as Error).message)) throw error;
      }
    }
  }

  static async #startOnce(options: TestClusterOptions): Promise<TestCluster> {
    const { root, secret, secretFile, adminToken, adminTokenFile } = await temporaryClusterRoot('atoll-cluster-');
    // The launcher's plan: names, directories, ports below the ephemeral range (free-ports.ts).
    const instances = await planInstances(root, { masters: options.masters ?? 1, metanodes: options.metanodes ?? 0, datanodes: options.datanodes ?? 0 }, host);
    const plan: ClusterPlan = { formatVersion: 1, host, secretFile, adminTokenFile, instances };
    const rpc = new RpcClient({ secret, instance: 'test-cluster', limits: { reconnectBackoffMinMs: 20, reconnectBackoffMaxMs: 200 } });
    const masters = instances.filter((instance) => instance.role === 'master').map((instance) => `${host}:${instance.ports.service}`);
    const masterClient = new MasterClient({ masters, rpc, adminToken });
    const cluster = new TestCluster(root, plan, secret, adminToken, rpc, masterClient, options);
    try {
      for (const instance of instances) cluster.#spawn(instance);
      await waitReady(plan, [...cluster.#running.values()], options.readyTimeoutMs ?? 60_000);
      masterClient.start();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  #spawn(instance: PlannedInstance, env?: Readonly<Record<string, string>>): RunningInstance {
    // A test body still running after its suite's `after` stopped the cluster (a failure
    // elsewhere ended the test) must not leave an instance behind that nobody stops.
    if (this.#stopped) throw new Error(`test cluster: ${instance.name} not started: the cluster was stopped`);
    const args = ['--log-level', this.#options.logLevel ?? process.env.ATOLL_TEST_LOG_LEVEL ?? 'warn', ...(this.#options.args?.(instance) ?? [])];
    const running = spawnInstance(this.plan, instance, false, { args, env: { ...this.#options.env?.(instance), ...env } });
    this.#running.set(instance.name, running);
    return running;
  }

  /** Instance names, of one role or all, in plan order (`master-1`, `datanode-2`...). */
  names(role?: ServerRole): string[] {
    return this.plan.instances.filter((instance) => role === undefined || instance.role === role).map((instance) => instance.name);
  }

  instance(name: string): PlannedInstance {
    const instance = this.plan.instances.find((candidate) => candidate.name === name);
    if (instance === undefined) throw new Error(`test cluster: no instance named ${name} (have ${this.names().join(', ')})`);
    return instance;
  }

  serviceAddress(name: string): string {
    return `${host}:${this.instance(name).ports.service}`;
  }

  masterAddresses(): string[] {
    return this.names('master').map((name) => this.serviceAddress(name));
  }

  /** The instance's name for a service address, if it is one of this cluster's. */
  nameOfAddress(address: string): string | undefined {
    return this.plan.instances.find((instance) => `${host}:${instance.ports.service}` === address)?.name;
  }

  isRunning(name: string): boolean {
    const running = this.#running.get(name);
    return running !== undefined && !running.exited;
  }

  pid(name: string): number | undefined {
    return this.#running.get(name)?.child.pid;
  }

  logPath(name: string): string {
    return join(this.instance(name).dataDir, 'instance.log');
  }

  probe(name: string, path: string, timeoutMs?: number): Promise<Probe> {
    return probe(host, this.instance(name).ports.http, path, timeoutMs);
  }

  /** An admin API call through the master client (token included). */
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    return this.masterClient.admin(method, path, body) as Promise<{ status: number; body: any }>;
  }

  /** Creates a volume (3 replicas, 10 GiB unless told) and returns the API's answer. */
  async createVolume(name: string, options: VolumeOptions = {}): Promise<any> {
    const created = await this.admin('POST', '/api/v1/volumes', { name, capacityBytes: options.capacityBytes ?? 10 * 2 ** 30, replicaCount: options.replicaCount ?? 3 });
    if (created.status !== 201) throw new Error(`test cluster: create volume ${name}: HTTP ${created.status} ${JSON.stringify(created.body)}`);
    return created.body;
  }

  /** Sends `signal` to the instance and waits until it has exited. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL', timeoutMs = stopTimeoutMs): Promise<void> {
    const running = this.#running.get(name);
    if (running === undefined || running.exited) return;
    const exited = new Promise<void>((resolve) => running.child.once('exit', () => resolve()));
    running.child.kill(signal);
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    if ((await Promise.race([exited, timer])) === 'timeout') {
      running.child.kill('SIGKILL');
      await exited;
    }
  }

  /** Starts a stopped instance again (same ports and data); waits for /readyz unless told not to. */
  async restart(name: string, options: { waitReady?: boolean; env?: Readonly<Record<string, string>>; readyTimeoutMs?: number } = {}): Promise<void> {
    await this.kill(name, 'SIGTERM');
    const running = this.#spawn(this.instance(name), options.env);
    if (options.waitReady !== false) await waitReady(this.plan, [running], options.readyTimeoutMs ?? this.#options.readyTimeoutMs ?? 60_000);
  }

  /** Waits for /readyz 200 of the named instances (all when none are named). */
  async waitReady(names: readonly string[] = this.names(), timeoutMs = 60_000): Promise<void> {
    await waitReady(this.plan, names.map((name) => this.#running.get(name)!).filter((running) => running !== undefined), timeoutMs);
  }

  /** Stops every instance (SIGTERM, SIGKILL after a timeout), closes the clients, removes the directory. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.masterClient.stop().catch(() => undefined);
    await Promise.all([...this.#running.keys()].map((name) => this.kill(name, 'SIGTERM')));
    await this.rpc.close();
    if (process.env.ATOLL_TEST_KEEP_CLUSTER !== undefined) {
      process.stderr.write(`test cluster kept in ${this.root}\n`);
      return;
    }
    await rm(this.root, { recursive: true, force: true });
  }
}
