// A whole AtollFS cluster on this host: several instances of every role as separate
// processes on loopback, each with its own ports and data directory under one cluster
// directory. The plan (instances, ports, secret) is saved in <cluster-dir>/cluster.json
// on the first start, so the next start brings the same cluster back with its data.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, stopClusterMount } from './cluster-mount.js';
import { freePorts, type FreePortsOptions } from './free-ports.js';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import type { ServerRole } from '../config/index.js';
import { EtcdProcess, etcdBinary, etcdVersion } from '../etcd/etcd-process.js';

export interface PlannedInstance {
  readonly role: ServerRole;
  readonly name: string;
  readonly dataDir: string;
  readonly ports: { readonly service: number; readonly http: number; readonly raftHeartbeat: number; readonly raftReplica: number };
}

export interface ClusterPlan {
  readonly formatVersion: 1;
  readonly host: string;
  readonly secretFile: string;
  /** The masters' admin API token (plans made before it existed get one at the next start). */
  readonly adminTokenFile?: string;
  readonly instances: readonly PlannedInstance[];
  /** Set when the masters run on etcd: the local etcd the launcher starts for them. */
  readonly etcd?: PlannedEtcd;
}

export interface PlannedEtcd {
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly prefix: string;
}

export type MasterBackendName = 'raft' | 'etcd';

export interface ClusterShape {
  readonly masters: number;
  readonly metanodes: number;
  readonly datanodes: number;
}

// What `atoll stop` needs to find the processes of a detached cluster.
interface LauncherRecord {
  readonly launcherPid: number;
  readonly detached: boolean;
  readonly pids: Readonly<Record<string, number>>;
  /** The FUSE mount process atoll start added, if any. */
  readonly mount?: { readonly pid: number; readonly dir: string };
}

export const instancesPerRoleMax = 16;
const readyTimeoutMs = 60_000;
const stopTimeoutMs = 20_000;

const atollBin = fileURLToPath(new URL('../../../bin/atoll.js', import.meta.url));

export function serviceAddress(plan: ClusterPlan, instance: PlannedInstance): string {
  return `${plan.host}:${instance.ports.service}`;
}

export function mastersOf(plan: ClusterPlan): string[] {
  return plan.instances.filter((instance) => instance.role === 'master').map((instance) => serviceAddress(plan, instance));
}

// Loads the saved plan, or makes and saves a new one. A saved plan wins over the shape
// asked for: the data of a cluster belongs to the instances it was made with.
export async function loadOrCreatePlan(clusterDirGiven: string, shape: ClusterShape, host = '127.0.0.1', backend: MasterBackendName = 'raft'): Promise<{ plan: ClusterPlan; created: boolean }> {
  // Paths in the plan are absolute: the admin commands read it from any directory.
  const clusterDir = resolve(clusterDirGiven);
  const planPath = join(clusterDir, 'cluster.json');
  if (existsSync(planPath)) {
    const plan = JSON.parse(await readFile(planPath, 'utf8')) as ClusterPlan;
    if (plan.formatVersion !== 1 || !Array.isArray(plan.instances)) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `${planPath}: not a cluster plan this version understands`);
    }
    if (plan.adminTokenFile === undefined) {
      const withToken: ClusterPlan = { ...plan, adminTokenFile: await ensureSecretFile(join(clusterDir, 'admin-token')) };
      await writePlan(planPath, withToken);
      return { plan: withToken, created: false };
    }
    return { plan, created: false };
  }
  for (const [role, count] of Object.entries(shape)) {
    if (!Number.isInteger(count) || count < 1 || count > instancesPerRoleMax) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `--${role}: must be from 1 to ${instancesPerRoleMax}, got ${count}`);
    }
  }
  await mkdir(clusterDir, { recursive: true });
  const secretFile = await ensureSecretFile(join(clusterDir, 'cluster-secret'));
  const adminTokenFile = await ensureSecretFile(join(clusterDir, 'admin-token'));
  // The ports stay reserved while the cluster directory exists (free-ports.ts).
  const instances = await planInstances(clusterDir, shape, host, { owner: { clusterDir } });
  let etcd: PlannedEtcd | undefined;
  if (backend === 'etcd') {
    const [clientPort, peerPort] = await freePorts(host, 2, { owner: { clusterDir } });
    etcd = { clientPort: clientPort!, peerPort: peerPort!, dataDir: join(clusterDir, 'etcd'), prefix: '/atollfs/atoll' };
  }
  const plan: ClusterPlan = { formatVersion: 1, host, secretFile, adminTokenFile, instances, ...(etcd === undefined ? {} : { etcd }) };
  await writePlan(planPath, plan);
  return { plan, created: true };
}

/**
 * Instances `<role>-<n>` of each role in the order master, metanode, datanode, each with
 * four free ports and `<cluster-dir>/<name>` as data directory. Counts are not checked
 * here (a test cluster may have no metanode).
 */
export async function planInstances(clusterDir: string, shape: ClusterShape, host: string, ports: FreePortsOptions = {}): Promise<PlannedInstance[]> {
  const roles: Array<[ServerRole, number]> = [
    ['master', shape.masters],
    ['metanode', shape.metanodes],
    ['datanode', shape.datanodes],
  ];
  const chosen = await freePorts(host, (shape.masters + shape.metanodes + shape.datanodes) * 4, ports);
  const instances: PlannedInstance[] = [];
  for (const [role, count] of roles) {
    for (let index = 1; index <= count; index++) {
      const base = instances.length * 4;
      const name = `${role}-${index}`;
      instances.push({
        role,
        name,
        dataDir: join(clusterDir, name),
        ports: { service: chosen[base]!, http: chosen[base + 1]!, raftHeartbeat: chosen[base + 2]!, raftReplica: chosen[base + 3]! },
      });
    }
  }
  return instances;
}

async function writePlan(planPath: string, plan: ClusterPlan): Promise<void> {
  await writeFile(`${planPath}.tmp`, `${JSON.stringify(plan, null, 2)}\n`);
  await rename(`${planPath}.tmp`, planPath);
}

// A random secret in a file only its owner reads; an existing file is kept.
async function ensureSecretFile(path: string): Promise<string> {
  if (!existsSync(path)) await writeFile(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return path;
}

export function instanceArguments(plan: ClusterPlan, instance: PlannedInstance): string[] {
  const masters = mastersOf(plan).join(',');
  const args = [
    instance.role,
    '--instance', instance.name,
    '--host', plan.host,
    '--port', String(instance.ports.service),
    '--http-port', String(instance.ports.http),
    '--raft-heartbeat-port', String(instance.ports.raftHeartbeat),
    '--raft-replica-port', String(instance.ports.raftReplica),
    '--data-dir', instance.dataDir,
    '--cluster-secret-file', plan.secretFile,
  ];
  if (instance.role === 'master') {
    args.push('--peers', masters);
    if (plan.adminTokenFile !== undefined) args.push('--admin-token-file', plan.adminTokenFile);
    if (plan.etcd !== undefined) args.push('--backend', 'etcd', '--etcd', `${plan.host}:${plan.etcd.clientPort}`, '--etcd-prefix', plan.etcd.prefix);
  }
  else args.push('--masters', masters);
  return args;
}

export interface RunningInstance {
  readonly planned: PlannedInstance;
  readonly child: ChildProcess;
  readonly logPath: string;
  exitCode: number | null;
  exited: boolean;
}

/** Extra flags after the planned ones, and extra environment variables (tests). */
export interface SpawnExtras {
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /**
   * In a process group of its own even when not detached: a Ctrl-C at the terminal then
   * reaches the launcher only, which stops the mount first and the instances after it.
   */
  readonly ownProcessGroup?: boolean;
}

export function spawnInstance(plan: ClusterPlan, instance: PlannedInstance, detached: boolean, extras: SpawnExtras = {}): RunningInstance {
  const logPath = join(instance.dataDir, 'instance.log');
  mkdirSync(instance.dataDir, { recursive: true });
  const logFd = openSync(logPath, 'a');
  // ATOLL_INSTANCE_NODE_ARGS: node flags for every instance started here (for example
  // `--cpu-prof --cpu-prof-dir=DIR` to profile a benchmark's servers).
  const nodeArgs = (process.env.ATOLL_INSTANCE_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
  const child = spawn(process.execPath, [...nodeArgs, atollBin, ...instanceArguments(plan, instance), ...(extras.args ?? [])], {
    stdio: ['ignore', logFd, logFd],
    detached: detached || extras.ownProcessGroup === true,
    ...(extras.env === undefined ? {} : { env: { ...process.env, ...extras.env } }),
  });
  closeSync(logFd);
  const running: RunningInstance = { planned: instance, child, logPath, exitCode: null, exited: false };
  child.once('exit', (code, signal) => {
    running.exited = true;
    running.exitCode = code ?? (signal === null ? -1 : 128);
  });
  if (detached) child.unref();
  return running;
}

export interface Probe {
  readonly ok: boolean;
  readonly status: number;
  readonly body: Record<string, unknown> | null;
}

export async function probe(host: string, port: number, path: string, timeoutMs = 2000): Promise<Probe> {
  try {
    const response = await fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
    return { ok: response.ok, status: response.status, body };
  } catch {
    return { ok: false, status: 0, body: null };
  }
}

function lastLines(path: string, count: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
  } catch {
    return '(no log)';
  }
}

// Waits until every instance answers /readyz with 200; fails naming the instance that
// exited or did not get ready in time, with the end of its log.
export async function waitReady(plan: ClusterPlan, running: readonly RunningInstance[], timeoutMs = readyTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(running);
  while (pending.size > 0) {
    for (const instance of [...pending]) {
      if (instance.exited) {
        throw new AtollError(StatusCode.UNAVAILABLE, `${instance.planned.name} exited with code ${instance.exitCode} while starting; end of ${instance.logPath}:\n${lastLines(instance.logPath, 5)}`);
      }
      if ((await probe(plan.host, instance.planned.ports.http, '/readyz')).ok) pending.delete(instance);
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline) {
      const names = [...pending].map((instance) => instance.planned.name).join(', ');
      const first = [...pending][0]!;
      throw new AtollError(StatusCode.TIMEOUT, `not ready within ${timeoutMs} ms: ${names}; end of ${first.logPath}:\n${lastLines(first.logPath, 8)}`);
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
}

export async function writeLauncherRecord(clusterDir: string, running: readonly RunningInstance[], detached: boolean, mount?: { pid: number; dir: string }, etcdPid?: number): Promise<void> {
  const record: LauncherRecord = {
    launcherPid: process.pid,
    detached,
    pids: { ...Object.fromEntries(running.map((instance) => [instance.planned.name, instance.child.pid ?? 0])), ...(etcdPid === undefined ? {} : { etcd: etcdPid }) },
    ...(mount === undefined ? {} : { mount }),
  };
  await writeFile(join(clusterDir, 'launcher.json'), `${JSON.stringify(record, null, 2)}\n`);
}

// The pid of an instance that is ours to stop: recorded by the launcher and confirmed
// by the instance's own instance.json (so a reused pid is never signalled).
function confirmedPid(instance: PlannedInstance, recorded: number | undefined): number | null {
  if (recorded === undefined || recorded <= 0) return null;
  try {
    const own = JSON.parse(readFileSync(join(instance.dataDir, 'instance.json'), 'utf8')) as { pid?: number };
    return own.pid === recorded && isAlive(recorded) ? recorded : null;
  } catch {
    return null;
  }
}

// The local etcd's pid, confirmed by the etcd.json the launcher wrote beside its data.
function confirmedEtcdPid(etcd: PlannedEtcd, recorded: number | undefined): number | null {
  if (recorded === undefined || recorded <= 0) return null;
  try {
    const own = JSON.parse(readFileSync(etcdRecordPath(etcd), 'utf8')) as { pid?: number };
    return own.pid === recorded && isAlive(recorded) ? recorded : null;
  } catch {
    return null;
  }
}

function etcdRecordPath(etcd: PlannedEtcd): string {
  return `${etcd.dataDir}.json`;
}

async function stopPid(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + stopTimeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

/**
 * Starts the cluster's local etcd (backend etcd) and waits until it answers; null for a
 * cluster on Raft. Its log is `<cluster-dir>/etcd.log`; `etcd.json` names its pid.
 */
export async function startPlannedEtcd(plan: ClusterPlan, detached: boolean, ownProcessGroup = false): Promise<EtcdProcess | null> {
  if (plan.etcd === undefined) return null;
  if (etcdVersion() === null) {
    throw new AtollError(StatusCode.UNAVAILABLE, `this cluster runs its masters on etcd, but no etcd executable runs here (\`${etcdBinary()}\`; Debian: apt-get install etcd-server)`);
  }
  const etcd = await EtcdProcess.start({
    dataDir: plan.etcd.dataDir,
    host: plan.host,
    clientPort: plan.etcd.clientPort,
    peerPort: plan.etcd.peerPort,
    logFile: `${plan.etcd.dataDir}.log`,
    detached,
    ownProcessGroup,
  });
  await writeFile(etcdRecordPath(plan.etcd), `${JSON.stringify({ pid: etcd.pid, endpoint: etcd.endpoint }, null, 2)}\n`);
  return etcd;
}

// Stops a cluster started in the background: SIGTERM to every instance, then waits for
// them to exit (graceful stop drains their calls), SIGKILL after stopTimeoutMs.
export async function stopCluster(clusterDir: string): Promise<{ stopped: string[]; alreadyDown: string[] }> {
  const dir = resolve(clusterDir);
  const planPath = join(dir, 'cluster.json');
  if (!existsSync(planPath)) throw new AtollError(StatusCode.NOT_FOUND, `no cluster in ${dir} (no cluster.json)`);
  const plan = JSON.parse(await readFile(planPath, 'utf8')) as ClusterPlan;
  let record: LauncherRecord | null = null;
  try {
    record = JSON.parse(await readFile(join(dir, 'launcher.json'), 'utf8')) as LauncherRecord;
  } catch {
    record = null;
  }
  const stopped: string[] = [];
  const alreadyDown: string[] = [];
  const etcdPid = plan.etcd === undefined ? null : confirmedEtcdPid(plan.etcd, record?.pids.etcd);
  // The mount first: it publishes buffered writes while the cluster is still up.
  if (record?.mount !== undefined) {
    await stopClusterMount(record.mount.pid, record.mount.dir);
    stopped.push(`mount ${record.mount.dir}`);
  }
  const targets: Array<{ name: string; pid: number }> = [];
  for (const instance of plan.instances) {
    const pid = confirmedPid(instance, record?.pids[instance.name]);
    if (pid === null) alreadyDown.push(instance.name);
    else targets.push({ name: instance.name, pid });
  }
  for (const target of targets) process.kill(target.pid, 'SIGTERM');
  const deadline = Date.now() + stopTimeoutMs;
  while (targets.some((target) => isAlive(target.pid)) && Date.now() < deadline) {
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
  for (const target of targets) {
    if (isAlive(target.pid)) process.kill(target.pid, 'SIGKILL');
    stopped.push(target.name);
  }
  // etcd last: the masters resign from the election in it as they stop.
  if (plan.etcd !== undefined) {
    if (etcdPid === null) alreadyDown.push('etcd');
    else {
      await stopPid(etcdPid);
      stopped.push('etcd');
    }
  }
  return { stopped, alreadyDown };
}
