// `atoll start` and `atoll stop`: a whole local cluster on this host.
import { defineSchema, booleanKey, enumKey, integerKey, pathKey, resolveConfig, describeSchemaFlags, isHelpRequested, ConfigError } from '../config/index.js';
import {
  instancesPerRoleMax,
  loadOrCreatePlan,
  mastersOf,
  probe,
  spawnInstance,
  startPlannedEtcd,
  stopCluster,
  waitReady,
  writeLauncherRecord,
  type ClusterPlan,
  type RunningInstance,
} from '../launcher/index.js';
import { ensureDefaultVolume, startClusterMount, stopClusterMount, type ClusterMount } from '../launcher/index.js';
import { fuseAvailability } from '../fuse/availability.js';
import { mkdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { AtollError } from '../errors/atoll-error.js';
import { exitCodes } from './exit-codes.js';

interface StartConfig {
  readonly masters: number;
  readonly metanodes: number;
  readonly datanodes: number;
  readonly dataDir: string;
  readonly mount: string;
  readonly detach: boolean;
  readonly json: boolean;
  readonly backend: 'raft' | 'etcd';
}

const countKey = (role: string) =>
  integerKey({ default: 3, min: 1, max: instancesPerRoleMax, description: `${role} instances (on the first start; a saved cluster keeps its shape)` });

export const startSchema = defineSchema<StartConfig>({
  name: 'start',
  keys: {
    masters: countKey('master'),
    metanodes: countKey('metanode'),
    datanodes: countKey('datanode'),
    dataDir: pathKey({ default: '.atoll', description: 'cluster directory: the plan, the secret and one directory per instance' }),
    mount: pathKey({ default: 'mnt', description: 'where to mount the default volume with FUSE when this machine can (--no-mount: no mount)' }),
    detach: booleanKey({ default: false, description: 'return once every instance is ready, leaving the cluster running (stop it with atoll stop)' }),
    json: booleanKey({ default: false, description: 'print the cluster as one JSON object' }),
    backend: enumKey({
      values: ['raft', 'etcd'] as const,
      default: 'raft',
      description: 'masters on their own Raft group, or on a local etcd started with the cluster (on the first start; a saved cluster keeps its backend)',
    }),
  },
});

interface StopConfig {
  readonly dataDir: string;
}

export const stopSchema = defineSchema<StopConfig>({
  name: 'stop',
  keys: { dataDir: pathKey({ default: '.atoll', description: 'cluster directory given to atoll start' }) },
});

/** The local cluster's admin token, read from its file (a local cluster prints it for scripts and curl). */
function adminTokenOf(plan: ClusterPlan): string | null {
  if (plan.adminTokenFile === undefined) return null;
  return readFileSync(plan.adminTokenFile, 'utf8').replace(/\n$/, '');
}

function clusterSummary(plan: ClusterPlan, running: readonly RunningInstance[], clusterDir: string, volume: string, mount: ClusterMount | null): Record<string, unknown> {
  return {
    masters: mastersOf(plan),
    etcd: plan.etcd === undefined ? null : `${plan.host}:${plan.etcd.clientPort}`,
    clusterDir,
    secretFile: plan.secretFile,
    adminToken: adminTokenOf(plan),
    adminTokenFile: plan.adminTokenFile ?? null,
    volume,
    mount: mount?.dir ?? null,
    mountPid: mount?.child.pid ?? null,
    instances: running.map((instance) => ({
      role: instance.planned.role,
      name: instance.planned.name,
      address: `${plan.host}:${instance.planned.ports.service}`,
      pid: instance.child.pid ?? null,
      httpPort: instance.planned.ports.http,
      raftHeartbeatPort: instance.planned.ports.raftHeartbeat,
      raftReplicaPort: instance.planned.ports.raftReplica,
      dataDir: instance.planned.dataDir,
    })),
  };
}

function printHuman(plan: ClusterPlan, running: readonly RunningInstance[], created: boolean, clusterDir: string, volume: string, mount: ClusterMount | null, noMountReason: string | null): void {
  const lines = [
    `AtollFS local cluster ${created ? 'created' : 'restarted'} in ${clusterDir}`,
    '',
    'instance      service           http   raft-hb raft-rep pid',
  ];
  for (const instance of running) {
    const { ports, name } = instance.planned;
    lines.push(`${name.padEnd(13)} ${`${plan.host}:${ports.service}`.padEnd(17)} ${String(ports.http).padEnd(6)} ${String(ports.raftHeartbeat).padEnd(7)} ${String(ports.raftReplica).padEnd(8)} ${instance.child.pid}`);
  }
  const firstMaster = running.find((instance) => instance.planned.role === 'master')!;
  const clusterFlag = clusterDir === '.atoll' ? '' : ` --cluster-dir ${clusterDir}`;
  lines.push(
    '',
    `masters:      ${mastersOf(plan).join(',')}${plan.etcd === undefined ? '' : ` (on etcd ${plan.host}:${plan.etcd.clientPort}, prefix ${plan.etcd.prefix})`}`,
    `secret file:  ${plan.secretFile}`,
    `admin token:  ${adminTokenOf(plan) ?? '(none)'}${plan.adminTokenFile === undefined ? '' : ` (in ${plan.adminTokenFile})`}`,
    `volume:       ${volume}`,
    '',
    'Try the admin commands (they find this cluster through its directory):',
    `  atoll cluster info${clusterFlag}`,
    `  atoll volume info ${volume}${clusterFlag}`,
    `  atoll volume create photos --capacity 10GiB${clusterFlag}`,
    `  atoll node list${clusterFlag}`,
    `  curl http://${plan.host}:${firstMaster.planned.ports.http}/api/v1/cluster`,
    '',
    '',
    'Use the volume:',
  );
  if (mount !== null) {
    lines.push(`  mounted at ${mount.dir} (FUSE; log: ${mount.logPath}): use it as any directory`, `  ls -l ${mount.dir}; echo hello > ${mount.dir}/hello.txt; df -h ${mount.dir}`);
  } else {
    lines.push(`  not mounted: ${noMountReason ?? 'no mount asked for'}`);
  }
  lines.push(
    `  atoll fs ls /${clusterFlag}                 (files without a mount: ls, put, get, cat, mkdir, rm, mv, ln, df)`,
    `  atoll fs put ./file.txt /file.txt${clusterFlag}`,
    `  atoll mount ${volume} <dir>${clusterFlag}   (another mount, from this or another shell)`,
    '  from Node.js: import { Volume } from \'atollfs/client\' (README.md)',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function startCommand(argv: readonly string[]): Promise<number> {
  if (isHelpRequested(argv)) {
    process.stdout.write(`atoll start: runs a whole AtollFS cluster on this host.\n\n${describeSchemaFlags(startSchema)}\n`);
    return exitCodes.ok;
  }
  let config: StartConfig;
  // --no-mount: the mount key takes a directory, so its negation is read here.
  const noMount = argv.includes('--no-mount');
  try {
    const loaded = resolveConfig(startSchema, argv.filter((arg) => arg !== '--no-mount'));
    if (loaded.positional.length > 0) throw ConfigError.forKey(loaded.positional[0]!, 'unexpected argument', 'flag');
    config = loaded.config;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`atoll start: ${error.message}\n`);
      return exitCodes.usage;
    }
    throw error;
  }
  const { plan, created } = await loadOrCreatePlan(config.dataDir, { masters: config.masters, metanodes: config.metanodes, datanodes: config.datanodes }, undefined, config.backend);
  if (!created && (plan.etcd === undefined ? 'raft' : 'etcd') !== config.backend && argv.some((arg) => arg.startsWith('--backend'))) {
    process.stderr.write(`atoll start: the cluster in ${config.dataDir} keeps the backend it was made with (${plan.etcd === undefined ? 'raft' : 'etcd'}); --backend ${config.backend} applies to a new cluster only\n`);
  }
  // Each instance, the mount and etcd in a process group of its own: a Ctrl-C reaches
  // this launcher only, which stops the mount first (it publishes buffered writes while
  // the cluster is up), then the rest.
  let etcd: Awaited<ReturnType<typeof startPlannedEtcd>> = null;
  let running: RunningInstance[] = [];
  let mount: ClusterMount | null = null;
  let noMountReason: string | null = noMount ? 'started with --no-mount' : null;
  const stopAll = async (): Promise<void> => {
    if (mount !== null) await stopClusterMount(mount.child.pid ?? null, mount.dir);
    for (const instance of running) if (!instance.exited) instance.child.kill('SIGTERM');
    const deadline = Date.now() + 20_000;
    while (running.some((instance) => !instance.exited) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const instance of running) if (!instance.exited) instance.child.kill('SIGKILL');
    await etcd?.stop();
  };
  // A Ctrl-C (or SIGTERM, a hangup) before the cluster is up: the instances do not get the
  // terminal's signal themselves, so starting stops after the step it is in (or at once,
  // for the long waits) and what was started is stopped (exit 128 + the signal's number).
  const earlySignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  let earlySignal: NodeJS.Signals | null = null;
  let onEarlySignal!: (signal: NodeJS.Signals) => void;
  const interrupted = new Promise<NodeJS.Signals>((resolve) => (onEarlySignal = (signal) => {
    earlySignal ??= signal;
    resolve(signal);
  }));
  for (const signal of earlySignals) process.on(signal, onEarlySignal);
  const endEarlyStop = (): void => {
    for (const signal of earlySignals) process.off(signal, onEarlySignal);
  };
  const stopInterrupted = async (signal: NodeJS.Signals): Promise<number> => {
    endEarlyStop();
    process.stderr.write(`atoll start: ${signal} while starting; stopping what was started\n`);
    await stopAll();
    return 128 + (osConstants.signals[signal] ?? 0);
  };
  /** The step's value, or the signal that came first. */
  const unlessInterrupted = <T>(step: Promise<T>): Promise<{ value: T } | { signal: NodeJS.Signals }> =>
    Promise.race([step.then((value) => ({ value })), interrupted.then((signal) => ({ signal }))]);
  try {
    etcd = await startPlannedEtcd(plan, config.detach, true);
  } catch (error) {
    endEarlyStop();
    process.stderr.write(`atoll start: ${(error as Error).message}\n`);
    return exitCodes.unavailable;
  }
  if (earlySignal !== null) return await stopInterrupted(earlySignal);
  running = plan.instances.map((instance) => spawnInstance(plan, instance, config.detach, { ownProcessGroup: true }));
  await writeLauncherRecord(config.dataDir, running, config.detach, undefined, etcd?.pid);
  if (earlySignal !== null) return await stopInterrupted(earlySignal);
  let volume: string;
  try {
    const ready = await unlessInterrupted((async () => {
      await waitReady(plan, running);
      return ensureDefaultVolume(plan);
    })());
    if ('signal' in ready) return await stopInterrupted(ready.signal);
    volume = ready.value.name;
    if (!ready.value.partitionsLed) process.stderr.write(`atoll start: some partitions of volume ${volume} have no leader yet; it takes reads and writes once they do (atoll partition list --volume ${volume})\n`);
  } catch (error) {
    endEarlyStop();
    process.stderr.write(`atoll start: ${(error as Error).message}\n`);
    await stopAll();
    return error instanceof AtollError ? exitCodes.unavailable : exitCodes.internal;
  }
  if (!noMount) {
    const availability = fuseAvailability();
    if (!availability.available) {
      noMountReason = `FUSE is not available here (${availability.reason})`;
    } else {
      try {
        await mkdir(config.mount, { recursive: true });
        const starting = startClusterMount(config.dataDir, volume, config.mount, config.detach, true);
        const started = await unlessInterrupted(starting);
        if ('signal' in started) {
          // The mount may still come up: stop it too once it has.
          const late = await starting.catch(() => null);
          if (late !== null) mount = late;
          return await stopInterrupted(started.signal);
        }
        mount = started.value;
        await writeLauncherRecord(config.dataDir, running, config.detach, { pid: mount.child.pid ?? 0, dir: mount.dir }, etcd?.pid);
      } catch (error) {
        noMountReason = `the mount failed: ${(error as Error).message}`;
        process.stderr.write(`atoll start: ${noMountReason}\n`);
      }
    }
  }
  if (config.json) process.stdout.write(`${JSON.stringify(clusterSummary(plan, running, config.dataDir, volume, mount))}\n`);
  else printHuman(plan, running, created, config.dataDir, volume, mount, noMountReason);
  if (config.detach) {
    endEarlyStop();
    if (!config.json) process.stdout.write(`\nRunning in the background; stop it with: atoll stop --data-dir ${config.dataDir}\n`);
    return exitCodes.ok;
  }
  if (!config.json) process.stdout.write('\nPress Ctrl-C to stop the cluster.\n');
  // Live status: report every instance whose readiness changes, until a signal.
  const lastState = new Map<string, string>();
  let stopping = false;
  // Kept for the whole stop: a second Ctrl-C must not end this launcher halfway, with
  // instances (in their own process groups) left running. The hangup of a closed terminal
  // no longer reaches the instances either.
  const signalled = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => resolve());
  });
  endEarlyStop();
  const watch = async (): Promise<void> => {
    while (!stopping) {
      for (const instance of running) {
        const state = instance.exited ? `exited (code ${instance.exitCode})` : (await probe(plan.host, instance.planned.ports.http, '/readyz')).ok ? 'ready' : 'not ready';
        if (lastState.get(instance.planned.name) !== state) {
          if (lastState.has(instance.planned.name)) process.stdout.write(`${new Date().toISOString()} ${instance.planned.name}: ${state}\n`);
          lastState.set(instance.planned.name, state);
        }
      }
      if (mount !== null && mount.child.exitCode !== null && lastState.get('mount') !== 'exited') {
        process.stdout.write(`${new Date().toISOString()} mount ${mount.dir}: exited (code ${mount.child.exitCode}; see ${mount.logPath})\n`);
        lastState.set('mount', 'exited');
      }
      await Promise.race([signalled, new Promise((resolve) => setTimeout(resolve, 1000))]);
    }
  };
  const watching = watch();
  await signalled;
  stopping = true;
  await watching;
  process.stdout.write('stopping the cluster...\n');
  await stopAll();
  process.stdout.write('stopped.\n');
  return exitCodes.ok;
}

export async function stopCommand(argv: readonly string[]): Promise<number> {
  if (isHelpRequested(argv)) {
    process.stdout.write(`atoll stop: stops a cluster started with atoll start --detach.\n\n${describeSchemaFlags(stopSchema)}\n`);
    return exitCodes.ok;
  }
  try {
    const { config } = resolveConfig(stopSchema, argv);
    const { stopped, alreadyDown } = await stopCluster(config.dataDir);
    process.stdout.write(`stopped: ${stopped.join(', ') || 'none'}${alreadyDown.length > 0 ? `; not running: ${alreadyDown.join(', ')}` : ''}\n`);
    return exitCodes.ok;
  } catch (error) {
    process.stderr.write(`atoll stop: ${(error as Error).message}\n`);
    return error instanceof ConfigError ? exitCodes.usage : error instanceof AtollError ? exitCodes.notFound : exitCodes.internal;
  }
}
