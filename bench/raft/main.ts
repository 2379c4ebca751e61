// bench:raft — committed entries per second, commit latency and fdatasyncs per entry of
// the Raft stack end to end: three replicas of the test key-value service as separate
// processes on loopback (RPC layer, multi-raft host, RPC Raft transport, shared
// write-ahead log with real fdatasync), in a temporary directory on the real disk
// (BENCH_DIR, default the OS temp directory).
//
// Scenarios: 1 and 64 groups, 1 and 256 proposals in flight (closed loop: each caller
// sends its next Put when the previous one is acknowledged), 128-byte values. Callers
// hash a key to its group and send the Put straight to that group's leader, which every
// replica names through TestKv.Leaders; a NOT_LEADER answer updates the route.
// Before and after each scenario, with the replicas idle, the disk's bare ceiling is
// measured in the same directory (append 128 bytes + fdatasync, one entry per sync); the
// ratio of each scenario to the mean of its two ceilings is the figure to compare
// between runs. The fdatasync rate of the shared disk drifts (from under 1,000 to over
// 4,000 per second within minutes), hence a ceiling on each side.
//
// The machine is shared and noisy, so every scenario runs in several rounds; the table
// shows, per scenario, the round with the median ratio to the ceiling, and the JSON adds
// every round's rate and ratio. Each row shows the CPU of the replicas and the client,
// and of everything else on the machine in the window ("others").
//
// Environment: BENCH_SECONDS (measured window per scenario, default 3),
// BENCH_WARMUP_SECONDS (default 1), BENCH_CLUSTER_WARMUP_SECONDS (default 3),
// BENCH_CEILING_SECONDS (default 2), BENCH_ROUNDS
// (default 3), BENCH_ONLY (run
// only scenarios whose name contains it), BENCH_DIR, BENCH_TICK_MS (default 50),
// BENCH_KV_EXEC_ARGV (extra node options for the replicas, space separated, e.g.
// "--cpu-prof --cpu-prof-dir=/tmp/prof").
// The last line printed is one JSON object with every figure.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtollError } from '../../src/errors/atoll-error.js';
import { StatusCode } from '../../src/proto/generated/common.js';
import { TestKv, type KvStateResponse } from '../../src/proto/generated/testkv.js';
import { groupOfKey } from '../../src/raftstore/testing/kv-routing.js';
import { RpcClient } from '../../src/rpc/index.js';
import { ceilingAppend, type CeilingMeasurement } from '../wal/ceiling.js';
import { KvCluster } from './kv-cluster.js';
import { machineBusyCpuSeconds, processCpuSeconds } from './process-cpu.js';

const seconds = Number(process.env.BENCH_SECONDS ?? '3');
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? '1');
// Once per cluster, before its first scenario: load at the highest concurrency, not
// measured, so that the first round does not pay for the replicas' JIT compilation (the
// first round at 1 in flight ran at about 60% of the later ones without it).
const clusterWarmupSeconds = Number(process.env.BENCH_CLUSTER_WARMUP_SECONDS ?? '3');
const ceilingSeconds = Number(process.env.BENCH_CEILING_SECONDS ?? '2');
const rounds = Number(process.env.BENCH_ROUNDS ?? '3');
const only = process.env.BENCH_ONLY ?? '';
const tickMs = Number(process.env.BENCH_TICK_MS ?? '50');
const kvExecArgv = (process.env.BENCH_KV_EXEC_ARGV ?? '').split(' ').filter((option) => option !== '');
const valueBytes = 128;
// Each caller cycles over its own few keys, so the replicated state (and the snapshots
// the replicas take every few thousand entries) stays small.
const keysPerCaller = 16;
// Bounds: latencies kept per scenario, failed calls before a scenario gives up, and the
// whole run.
const latenciesMax = 4_000_000;
const failuresMax = 10_000;
const runTimeoutMs = 10 * 60 * 1000;
const callDeadlineMs = 10_000;

interface Scenario {
  name: string;
  groups: number;
  inflight: number;
}

const allScenarios: Scenario[] = [
  { name: '1 group, 1 in flight', groups: 1, inflight: 1 },
  { name: '1 group, 256 in flight', groups: 1, inflight: 256 },
  { name: '64 groups, 1 in flight', groups: 64, inflight: 1 },
  { name: '64 groups, 256 in flight', groups: 64, inflight: 256 },
];
const scenarios = allScenarios.filter((scenario) => scenario.name.includes(only));

interface ScenarioResult {
  groups: number;
  inflight: number;
  // Acknowledged Puts per second in the measured window.
  entriesPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  // fdatasyncs of the three replicas' logs per entry committed in the window.
  syncsPerEntry: number;
  syncsPerSecondPerReplica: number;
  // Entries persisted per host cycle that synced, over the three replicas; host cycles
  // (synced or not) per second of one replica.
  entriesPerSyncedCycle: number;
  cyclesPerSecondPerReplica: number;
  // Raft messages the three replicas sent (heartbeats included) per committed entry.
  raftMessagesPerEntry: number;
  acknowledged: number;
  committed: number;
  failedCalls: number;
  leaderChanges: number;
  // CPU use in the window: of each replica and of the benchmark process (the client), in
  // percent of one core, and in all four per acknowledged entry.
  replicaCpuPercent: number[];
  clientCpuPercent: number;
  // The rest of the machine's busy CPU in the window (other processes, the kernel's own
  // threads), in percent of one core.
  othersCpuPercent: number;
  cpuMicrosecondsPerEntry: number;
  // The ceiling measured right before and right after, and their mean.
  ceilingBeforeSyncsPerSecond: number;
  ceilingAfterSyncsPerSecond: number;
  ceilingSyncsPerSecond: number;
  ratioToCeiling: number;
}

type Measured = Omit<ScenarioResult, 'ceilingBeforeSyncsPerSecond' | 'ceilingAfterSyncsPerSecond' | 'ceilingSyncsPerSecond' | 'ratioToCeiling'>;

function withCeilings(measured: Measured, before: CeilingMeasurement, after: CeilingMeasurement): ScenarioResult {
  const ceilingSyncsPerSecond = (before.syncsPerSecond + after.syncsPerSecond) / 2;
  return {
    ...measured,
    ceilingBeforeSyncsPerSecond: before.syncsPerSecond,
    ceilingAfterSyncsPerSecond: after.syncsPerSecond,
    ceilingSyncsPerSecond,
    ratioToCeiling: measured.entriesPerSecond / ceilingSyncsPerSecond,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

function sumDelta(before: readonly KvStateResponse[], after: readonly KvStateResponse[], field: keyof KvStateResponse): number {
  let sum = 0;
  for (let position = 0; position < after.length; position++) sum += (after[position]![field] as number) - (before[position]![field] as number);
  return sum;
}

// One scenario: warm up, then count and time what is acknowledged in the window.
async function runScenario(cluster: KvCluster, client: RpcClient, scenario: Scenario, timing = { warmupSeconds, seconds }): Promise<Measured> {
  const routes = await cluster.agreedLeaders(client);
  const routesAtStart = routes.join(',');
  const value = Buffer.alloc(valueBytes, 0x61);
  const callers = Array.from({ length: scenario.inflight }, (_, caller) =>
    Array.from({ length: keysPerCaller }, (_, slot) => {
      const key = `${scenario.groups}g-c${caller}-k${slot}`;
      return { key, groupIndex: groupOfKey(key, scenario.groups) - 1 };
    }),
  );
  const latencies = new Float64Array(latenciesMax);
  let measuring = false;
  let stopping = false;
  let acknowledged = 0;
  let recorded = 0;
  let failedCalls = 0;
  let refreshing: Promise<void> | null = null;
  const refreshRoutes = (): Promise<void> => {
    refreshing ??= cluster
      .agreedLeaders(client)
      .then((fresh) => fresh.forEach((address, index) => (routes[index] = address)))
      .finally(() => (refreshing = null));
    return refreshing;
  };
  const caller = async (keys: Array<{ key: string; groupIndex: number }>): Promise<void> => {
    for (let sequence = 0; !stopping; sequence++) {
      const { key, groupIndex } = keys[sequence % keys.length]!;
      const sentAt = performance.now();
      try {
        await client.call(routes[groupIndex]!, TestKv.put, { key, value }, { deadlineMs: callDeadlineMs });
      } catch (error) {
        failedCalls += 1;
        if (failedCalls > failuresMax) throw new Error(`${scenario.name}: ${failedCalls} failed calls; last: ${error instanceof Error ? error.message : String(error)}`);
        if (error instanceof AtollError && error.status === StatusCode.NOT_LEADER && error.leaderHint !== '') routes[groupIndex] = error.leaderHint;
        else await refreshRoutes();
        continue;
      }
      if (measuring) {
        acknowledged += 1;
        if (recorded < latenciesMax) latencies[recorded++] = performance.now() - sentAt;
      }
    }
  };
  const running = Promise.all(callers.map((keys) => caller(keys)));
  // A caller that gives up stops the others at once.
  running.catch(() => (stopping = true));
  try {
    await Promise.race([sleep(timing.warmupSeconds * 1000), running]);
    const before = await cluster.counters(client);
    const replicaCpuBefore = await Promise.all(cluster.pids.map(processCpuSeconds));
    const machineBusyBefore = await machineBusyCpuSeconds();
    const clientCpuBefore = process.cpuUsage();
    const started = performance.now();
    measuring = true;
    await Promise.race([sleep(timing.seconds * 1000), running]);
    measuring = false;
    const elapsedSeconds = (performance.now() - started) / 1000;
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const machineBusySeconds = (await machineBusyCpuSeconds()) - machineBusyBefore;
    const replicaCpuSeconds = (await Promise.all(cluster.pids.map(processCpuSeconds))).map((cpu, position) => cpu - replicaCpuBefore[position]!);
    const clientCpuSeconds = (clientCpu.user + clientCpu.system) / 1e6;
    const after = await cluster.counters(client);
    stopping = true;
    await running;
    const measured = latencies.subarray(0, recorded).sort();
    const syncs = sumDelta(before, after, 'walSyncs');
    // Every replica holds every group, so each one's commit indexes move by the entries
    // committed cluster-wide; the most advanced replica is the closest count.
    const committed = Math.max(...after.map((state, position) => state.committedEntries - before[position]!.committedEntries));
    const syncedCycles = sumDelta(before, after, 'hostSyncedCycles');
    const entriesPerSecond = acknowledged / elapsedSeconds;
    const routesAtEnd = (await cluster.agreedLeaders(client)).join(',');
    return {
      groups: scenario.groups,
      inflight: scenario.inflight,
      entriesPerSecond,
      latencyP50Ms: percentile(measured, 0.5),
      latencyP99Ms: percentile(measured, 0.99),
      syncsPerEntry: committed > 0 ? syncs / committed : Number.NaN,
      syncsPerSecondPerReplica: syncs / elapsedSeconds / after.length,
      raftMessagesPerEntry: committed > 0 ? sumDelta(before, after, 'hostMessagesSent') / committed : Number.NaN,
      cyclesPerSecondPerReplica: sumDelta(before, after, 'hostCycles') / elapsedSeconds / after.length,
      entriesPerSyncedCycle: syncedCycles > 0 ? sumDelta(before, after, 'hostEntriesPersisted') / syncedCycles : Number.NaN,
      acknowledged,
      committed,
      failedCalls,
      replicaCpuPercent: replicaCpuSeconds.map((cpu) => (100 * cpu) / elapsedSeconds),
      clientCpuPercent: (100 * clientCpuSeconds) / elapsedSeconds,
      othersCpuPercent: Math.max(0, (100 * (machineBusySeconds - clientCpuSeconds - replicaCpuSeconds.reduce((sum, cpu) => sum + cpu, 0))) / elapsedSeconds),
      cpuMicrosecondsPerEntry: acknowledged > 0 ? ((replicaCpuSeconds.reduce((sum, cpu) => sum + cpu, 0) + clientCpuSeconds) * 1e6) / acknowledged : Number.NaN,
      leaderChanges: routesAtStart === routesAtEnd ? 0 : routesAtStart.split(',').filter((address, index) => address !== routesAtEnd.split(',')[index]).length,
    };
  } finally {
    stopping = true;
    await running.catch(() => undefined);
  }
}

function formatRow(name: string, result: ScenarioResult): string {
  const rate = Math.round(result.entriesPerSecond).toLocaleString('en-US').padStart(8);
  const ceiling = Math.round(result.ceilingSyncsPerSecond).toLocaleString('en-US').padStart(6);
  return [
    name.padEnd(34),
    `${rate} entries/s`,
    `p50 ${result.latencyP50Ms.toFixed(2).padStart(6)} ms`,
    `p99 ${result.latencyP99Ms.toFixed(2).padStart(7)} ms`,
    `${result.syncsPerEntry.toFixed(4)} fdatasync/entry`,
    `${result.entriesPerSyncedCycle.toFixed(1).padStart(6)} entries/synced cycle`,
    `${result.raftMessagesPerEntry.toFixed(2).padStart(5)} msgs/entry`,
    `cpu ${result.replicaCpuPercent.map((cpu) => cpu.toFixed(0)).join('+')}+${result.clientCpuPercent.toFixed(0)}% (others ${result.othersCpuPercent.toFixed(0)}%) ${Math.round(result.cpuMicrosecondsPerEntry).toLocaleString('en-US').padStart(6)} us/entry`,
    `ceiling ${ceiling} syncs/s`,
    `ratio ${result.ratioToCeiling.toFixed(2).padStart(5)}x`,
  ].join('  ');
}

async function main(): Promise<void> {
  const base = process.env.BENCH_DIR ?? tmpdir();
  const directory = await mkdtemp(join(base, 'atoll-bench-raft-'));
  const secret = randomBytes(24).toString('hex');
  const client = new RpcClient({ secret, instance: 'bench-raft', limits: { reconnectBackoffMinMs: 20, reconnectBackoffMaxMs: 200 } });
  let cluster: KvCluster | null = null;
  let cleaned = false;
  const cleanUp = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await client.close().catch(() => undefined);
    if (cluster !== null) await cluster.stop().catch(() => cluster?.killNow());
    await rm(directory, { recursive: true, force: true });
  };
  // The run is bounded as a whole, and an interrupt cleans up as a failure does.
  const abort = (reason: string): void => {
    console.error(`bench:raft: ${reason}; stopping the replicas and removing ${directory}`);
    cluster?.killNow();
    void cleanUp().finally(() => process.exit(1));
  };
  const watchdog = setTimeout(() => abort(`not done within ${runTimeoutMs / 1000} s`), runTimeoutMs);
  watchdog.unref();
  process.once('SIGINT', () => abort('interrupted'));
  process.once('SIGTERM', () => abort('terminated'));

  const fileSystem = await statfs(directory);
  console.log(
    `bench:raft on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, dir ${directory} (fs type 0x${fileSystem.type.toString(16)}), ` +
      `3 replica processes, ${valueBytes}-byte values, tick ${tickMs} ms, ${clusterWarmupSeconds} s warm-up per cluster, ${warmupSeconds} s warm-up + ${seconds} s per scenario, ceiling ${ceilingSeconds} s before and after each`,
  );
  const perRound: Record<string, ScenarioResult[]> = {};
  try {
    for (const groups of [...new Set(scenarios.map((scenario) => scenario.groups))]) {
      const root = join(directory, `cluster-${groups}`);
      cluster = await KvCluster.start({ root, groups, tickMs, secret, execArgv: kvExecArgv });
      const clusterScenarios = scenarios.filter((candidate) => candidate.groups === groups);
      const busiest = clusterScenarios.reduce((left, right) => (right.inflight > left.inflight ? right : left));
      if (clusterWarmupSeconds > 0) await runScenario(cluster, client, busiest, { warmupSeconds: clusterWarmupSeconds, seconds: 0.1 });
      let ceilingBefore = await ceilingAppend(directory, ceilingSeconds, valueBytes);
      for (let round = 1; round <= rounds; round++) {
        for (const scenario of clusterScenarios) {
          const measured = await runScenario(cluster, client, scenario);
          const ceilingAfter = await ceilingAppend(directory, ceilingSeconds, valueBytes);
          const result = withCeilings(measured, ceilingBefore, ceilingAfter);
          ceilingBefore = ceilingAfter;
          (perRound[scenario.name] ??= []).push(result);
          console.log(formatRow(`round ${round}: ${scenario.name}`, result));
        }
      }
      await cluster.stop();
      cluster = null;
      await rm(root, { recursive: true, force: true });
    }
  } finally {
    await cleanUp();
    clearTimeout(watchdog);
  }

  // Per scenario, the round with the median ratio to its ceiling.
  const results: Record<string, ScenarioResult> = {};
  console.log(`median of ${rounds} round${rounds === 1 ? '' : 's'} (by ratio to the mean ceiling measured right before and after):`);
  for (const scenario of scenarios) {
    const sorted = [...perRound[scenario.name]!].sort((left, right) => left.ratioToCeiling - right.ratioToCeiling);
    results[scenario.name] = sorted[Math.floor((sorted.length - 1) / 2)]!;
    console.log(formatRow(scenario.name, results[scenario.name]!));
  }
  const loaded = Object.values(results).filter((result) => result.inflight >= 256);
  const goals = {
    ratioToCeilingMin: 5,
    syncsPerEntryMax: 0.1,
    met: loaded.length > 0 && loaded.every((result) => result.ratioToCeiling >= 5 && result.syncsPerEntry < 0.1),
  };
  for (const [name, list] of Object.entries(perRound)) {
    list.forEach((result, index) => {
      if (result.failedCalls > 0 || result.leaderChanges > 0 || Math.abs(result.committed - result.acknowledged) > result.acknowledged * 0.05 + result.inflight) {
        console.log(`note: round ${index + 1}: ${name}: ${result.failedCalls} failed calls, ${result.leaderChanges} leader changes, ${result.committed} committed vs ${result.acknowledged} acknowledged in the window`);
      }
    });
  }
  console.log(`goals (256 in flight, median round: >= 5x the ceiling and < 0.1 fdatasync per entry): ${goals.met ? 'met' : 'NOT met'}`);
  const rounded = (value: number, digits: number): number => Number(value.toFixed(digits));
  const summary = Object.fromEntries(
    Object.entries(results).map(([name, result]) => [
      name,
      {
        ...result,
        entriesPerSecond: Math.round(result.entriesPerSecond),
        latencyP50Ms: rounded(result.latencyP50Ms, 3),
        latencyP99Ms: rounded(result.latencyP99Ms, 3),
        syncsPerEntry: rounded(result.syncsPerEntry, 4),
        syncsPerSecondPerReplica: Math.round(result.syncsPerSecondPerReplica),
        entriesPerSyncedCycle: rounded(result.entriesPerSyncedCycle, 2),
        cyclesPerSecondPerReplica: Math.round(result.cyclesPerSecondPerReplica),
        raftMessagesPerEntry: rounded(result.raftMessagesPerEntry, 3),
        replicaCpuPercent: result.replicaCpuPercent.map((cpu) => Math.round(cpu)),
        clientCpuPercent: Math.round(result.clientCpuPercent),
        othersCpuPercent: Math.round(result.othersCpuPercent),
        cpuMicrosecondsPerEntry: Math.round(result.cpuMicrosecondsPerEntry),
        ceilingBeforeSyncsPerSecond: Math.round(result.ceilingBeforeSyncsPerSecond),
        ceilingAfterSyncsPerSecond: Math.round(result.ceilingAfterSyncsPerSecond),
        ceilingSyncsPerSecond: Math.round(result.ceilingSyncsPerSecond),
        ratioToCeiling: rounded(result.ratioToCeiling, 3),
        entriesPerSecondPerRound: perRound[name]!.map((round) => Math.round(round.entriesPerSecond)),
        ratioToCeilingPerRound: perRound[name]!.map((round) => rounded(round.ratioToCeiling, 3)),
      },
    ]),
  );
  console.log(JSON.stringify({ bench: 'raft', node: process.version, seconds, warmupSeconds, clusterWarmupSeconds, ceilingSeconds, rounds, valueBytes, tickMs, results: summary, goals }));
}

await main();
