// TEST ONLY: a group of real masters for integration tests, either inside the test
// process (MasterServer objects, so a test can switch on a fault hook) or as separate
// `atoll master` processes (so a test can SIGKILL or SIGSTOP one). Either way they talk
// over real TCP on loopback with real Raft logs on disk.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../config/index.js';
import { freePorts } from '../../launcher/index.js';
import { createLogger } from '../../observability/index.js';
import { Master } from '../../proto/generated/master.js';
import { RpcClient } from '../../rpc/index.js';
import { MasterServer } from '../master-server.js';

const atollBin = fileURLToPath(new URL('../../../../bin/atoll.js', import.meta.url));
const host = '127.0.0.1';

export interface MasterPorts {
  readonly service: number;
  readonly http: number;
  readonly raftHeartbeat: number;
  readonly raftReplica: number;
}

export interface MasterGroupPlan {
  readonly root: string;
  readonly secret: string;
  readonly secretFile: string;
  readonly adminToken: string;
  readonly adminTokenFile: string;
  readonly ports: readonly MasterPorts[];
  /** Service addresses, in the order of `ports`. */
  readonly addresses: readonly string[];
  /** Given to every master after the others (e.g. the etcd backend's flags). */
  readonly extraArguments: readonly string[];
}

/** A new temporary cluster directory with a random secret and admin token in their files. */
export async function temporaryClusterRoot(prefix: string): Promise<{ root: string; secret: string; secretFile: string; adminToken: string; adminTokenFile: string }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const secret = randomBytes(16).toString('hex');
  const adminToken = randomBytes(16).toString('hex');
  const secretFile = join(root, 'cluster-secret');
  const adminTokenFile = join(root, 'admin-token');
  await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
  await writeFile(adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
  return { root, secret, secretFile, adminToken, adminTokenFile };
}

/** The flags that put a group on etcd, under a prefix of its own. */
export function etcdBackendArguments(endpoint: string, prefix: string, leaseTtl = '3s'): string[] {
  return ['--backend', 'etcd', '--etcd', endpoint, '--etcd-prefix', prefix, '--etcd-lease-ttl', leaseTtl];
}

export async function planMasterGroup(count: number, extraArguments: readonly string[] = []): Promise<MasterGroupPlan> {
  const { root, secret, secretFile, adminToken, adminTokenFile } = await temporaryClusterRoot('atoll-master-');
  const free = await freePorts(host, count * 4);
  const ports = Array.from({ length: count }, (_, index) => ({ service: free[index * 4]!, http: free[index * 4 + 1]!, raftHeartbeat: free[index * 4 + 2]!, raftReplica: free[index * 4 + 3]! }));
  return { root, secret, secretFile, adminToken, adminTokenFile, ports, addresses: ports.map((port) => `${host}:${port.service}`), extraArguments };
}

export function masterArguments(plan: MasterGroupPlan, index: number): string[] {
  const ports = plan.ports[index]!;
  return [
    '--instance', `master-${index + 1}`,
    '--host', host,
    '--port', String(ports.service),
    '--http-port', String(ports.http),
    '--raft-heartbeat-port', String(ports.raftHeartbeat),
    '--raft-replica-port', String(ports.raftReplica),
    '--data-dir', join(plan.root, `master-${index + 1}`),
    '--cluster-secret-file', plan.secretFile,
    '--admin-token-file', plan.adminTokenFile,
    '--peers', plan.addresses.join(','),
    '--log-level', process.env.ATOLL_TEST_LOG_LEVEL ?? 'warn',
    ...plan.extraArguments,
  ];
}

/** Starts one master inside this process. */
export async function startMasterInProcess(plan: MasterGroupPlan, index: number): Promise<MasterServer> {
  const { config } = loadConfig('master', masterArguments(plan, index));
  const logger = createLogger({ role: 'master', instance: config.instance, level: config.logLevel });
  return MasterServer.start({ config, logger });
}

/** Starts every master inside this process (they wait for each other, so all at once). */
export async function startMasterGroupInProcess(plan: MasterGroupPlan): Promise<MasterServer[]> {
  return Promise.all(plan.ports.map((_ports, index) => startMasterInProcess(plan, index)));
}

/** Starts one master as its own `atoll master` process. */
export function spawnMaster(plan: MasterGroupPlan, index: number): ChildProcess {
  const child = spawn(process.execPath, [atollBin, 'master', ...masterArguments(plan, index)], { stdio: ['ignore', 'ignore', 'inherit'] });
  return child;
}

/** Resolves when the child process has exited (at once if it has). */
export async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

export async function removePlan(plan: MasterGroupPlan): Promise<void> {
  await rm(plan.root, { recursive: true, force: true });
}

export function newTestRpcClient(plan: MasterGroupPlan, instance = 'master-test'): RpcClient {
  return new RpcClient({ secret: plan.secret, instance, limits: { reconnectBackoffMinMs: 20, reconnectBackoffMaxMs: 200 } });
}

/** Waits until `check` returns a value (not undefined), polling; fails after deadlineMs. */
export async function waitFor<Value>(what: string, deadlineMs: number, check: () => Promise<Value | undefined> | Value | undefined, pollMs = 50): Promise<Value> {
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${lastError === null ? '' : `: last error: ${(lastError as Error).message}`}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The leader every reachable master agrees on (service address), once there is one. */
export async function waitForLeader(client: RpcClient, addresses: readonly string[], deadlineMs = 20_000, exclude: readonly string[] = []): Promise<string> {
  return waitFor('a master leader', deadlineMs, async () => {
    const answers = await Promise.all(addresses.filter((address) => !exclude.includes(address)).map((address) => client.call(address, Master.clusterInfo, {}, { deadlineMs: 500 }).catch(() => null)));
    const leaders = new Set(answers.filter((answer) => answer !== null).map((answer) => answer!.leader));
    const leader = [...leaders][0];
    if (leaders.size !== 1 || leader === undefined || leader === '' || exclude.includes(leader)) return undefined;
    return leader;
  });
}

/**
 * Asks one master (no retry, no failover) to create a volume over the `Master.Admin` RPC;
 * a call that fails answers httpStatus 0 with the error in the body.
 */
export async function createVolumeAt(client: RpcClient, plan: MasterGroupPlan, address: string, name: string, deadlineMs = 15_000): Promise<{ httpStatus: number; bodyJson: string; handledBy: string }> {
  return client.call(address, Master.admin, {
    method: 'POST',
    path: '/api/v1/volumes',
    bodyJson: JSON.stringify({ name, capacityBytes: 2 ** 30 }),
    adminToken: plan.adminToken,
    forwardedHops: 0,
  }, { deadlineMs }).catch((error: Error) => ({ httpStatus: 0, bodyJson: JSON.stringify({ error: error.message }), handledBy: '' }));
}

/** An admin API request over HTTP, as curl would send it. */
export async function httpAdmin(httpPort: number, method: string, path: string, options: { body?: unknown; rawBody?: string; token?: string } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`http://${host}:${httpPort}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: keep the text for the assertion message.
  }
  return { status: response.status, body: parsed };
}
