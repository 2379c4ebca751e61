// bench:master — what the master group serves per second, against the RPC floor of the
// same processes: three `atoll master` processes on loopback (a real Raft log with
// fdatasync in a temporary directory on the real disk: the OS temp directory, TMPDIR),
// stand-in metanodes and datanodes registered over the real protocol
// (src/master/testing/node-fleet.ts, heartbeating once a second throughout, as real
// nodes do), and a few volumes created through the admin API.
//
// Scenarios, each closed loop (every caller sends its next call when the previous one is
// answered) with 1 and 64 in flight:
//   - baselines: Diagnostics.Echo to the leader, to a follower, and round-robin over the
//     three masters (the RPC layer of the same processes, nothing else);
//   - GetVolumeView at the leader (each answer waits for a Raft read index);
//   - GetVolumeView at a follower (its cache, fed by the leader's pushes; known_version is
//     the highest version seen, as a client sends it); STALE_VIEW answers are counted;
//   - GetVolumeView through MasterClient.getVolumeView over all three masters (what
//     clients do: round-robin, a stale answer retried at the leader);
//   - NodeHeartbeat at the leader from the registered nodes, with their partition reports
//     (in memory, plus the node's tasks computed afresh);
// and writes, with 1 and 16 in flight: PATCH /api/v1/volumes/:name (a description
// change) through the Master.Admin RPC at the leader, each one proposal through the
// master's Raft group (3 replicas, fdatasync), against the disk's bare ceiling (append
// 128 bytes + fdatasync, bench/wal/ceiling.ts) measured in the same directory before and
// after the writes.
//
// Every round measures each baseline right before the scenarios compared with it; the
// ratio of a scenario to its baseline in the same round is the figure to compare between
// runs (the machine is shared and noisy). The summary shows, per scenario, the round
// with the median ratio; the JSON has every round's rate and ratio.
//
// Besides rate and latency each row shows the CPU of the three masters and of the
// benchmark process (leader first), and of everything else on the machine ("others"),
// in percent of one core; the Raft RPCs the masters served per call (raft-heartbeat and
// raft-replica listeners, from their /metrics); and for the view scenarios how the
// masters answered (leader, follower cache, redirected), from their
// atoll_master_view_requests_total.
//
// Environment: BENCH_SECONDS (measured window per scenario, default 3), BENCH_ROUNDS
// (default 3), BENCH_WARMUP_SECONDS (unmeasured load before each window, default 0.5),
// BENCH_CLUSTER_WARMUP_SECONDS (once, before the first round, default 3),
// BENCH_CEILING_SECONDS (default 2), BENCH_ONLY (run only scenarios whose name contains
// it; their baselines run too).
// The last line printed is one JSON object with every figure.
import type { ChildProcess } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { AtollError } from '../../src/errors/atoll-error.js';
import { Master, VolumeView } from '../../src/proto/generated/master.js';
import { MasterClient } from '../../src/masterclient/index.js';
import { NodeFleet } from '../../src/master/testing/node-fleet.js';
import { newTestRpcClient, planMasterGroup, removePlan, spawnMaster, waitFor, waitForLeader, type MasterGroupPlan } from '../../src/master/testing/master-group.js';
import { echoMethod, type RpcClient } from '../../src/rpc/index.js';
import { machineBusyCpuSeconds, processCpuSeconds } from '../raft/process-cpu.js';
import { ceilingAppend, type CeilingMeasurement } from '../wal/ceiling.js';

const seconds = Number(process.env.BENCH_SECONDS ?? '3');
const rounds = Number(process.env.BENCH_ROUNDS ?? '3');
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? '0.5');
// Once, before the first round: load on every path, not measured, so that the first
// round does not pay for the masters' JIT compilation.
const clusterWarmupSeconds = Number(process.env.BENCH_CLUSTER_WARMUP_SECONDS ?? '3');
const ceilingSeconds = Number(process.env.BENCH_CEILING_SECONDS ?? '2');
const only = process.env.BENCH_ONLY ?? '';

const readInflights = [1, 64];
const writeInflights = [1, 16];
const metanodeCount = 6;
const datanodeCount = 6;
// Volumes whose views are read; the writes go to one more of their own, so that the
// views read keep their version (a description change is a view change).
const readVolumes = ['bench-a', 'bench-b', 'bench-c', 'bench-d'];
const writeVolume = 'bench-writes';
const echoBytes = 16;
const ceilingEntryBytes = 128;
// Bounds: latencies kept per window, failed calls before a window gives up, the run.
const latenciesMax = 4_000_000;
const failuresMax = 100_000;
const runTimeoutMs = 15 * 60 * 1000;
const callDeadlineMs = 10_000;
const stopTimeoutMs = 10_000;

type Baseline = 'echo leader' | 'echo follower' | 'echo all masters';
type Kind = 'echo-leader' | 'echo-follower' | 'echo-all' | 'view-leader' | 'view-follower' | 'view-client' | 'heartbeat' | 'write';

interface Scenario {
  name: string;
  kind: Kind;
  inflight: number;
  // The measurement this one is divided by (same round), or 'ceiling' for writes; null
  // for the baselines themselves.
  baseline: Baseline | 'ceiling' | null;
}

function readScenarios(inflight: number): Scenario[] {
  const at = `${inflight} in flight`;
  return [
    { name: `echo leader, ${at}`, kind: 'echo-leader', inflight, baseline: null },
    { name: `view at leader, ${at}`, kind: 'view-leader', inflight, baseline: 'echo leader' },
    { name: `heartbeat at leader, ${at}`, kind: 'heartbeat', inflight, baseline: 'echo leader' },
    { name: `echo follower, ${at}`, kind: 'echo-follower', inflight, baseline: null },
    { name: `view at follower, ${at}`, kind: 'view-follower', inflight, baseline: 'echo follower' },
    { name: `echo all masters, ${at}`, kind: 'echo-all', inflight, baseline: null },
    { name: `view via MasterClient, ${at}`, kind: 'view-client', inflight, baseline: 'echo all masters' },
  ];
}

const allScenarios: Scenario[] = [
  ...readInflights.flatMap(readScenarios),
  ...writeInflights.map((inflight): Scenario => ({ name: `write PATCH volume, ${inflight} in flight`, kind: 'write', inflight, baseline: 'ceiling' })),
];
// BENCH_ONLY keeps the scenarios whose name contains it, and the baselines they need.
const baselineName = (scenario: Scenario): string => scenario.name.slice(0, scenario.name.indexOf(','));
const wanted = allScenarios.filter((scenario) => scenario.name.includes(only));
const scenarios = allScenarios.filter(
  (scenario) => wanted.includes(scenario) || (scenario.baseline === null && wanted.some((other) => other.inflight === scenario.inflight && other.baseline === baselineName(scenario))),
);

interface Measured {
  calls: number;
  callsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  // Failed calls by status name (STALE_VIEW, NOT_LEADER, HTTP_409...).
  failures: Record<string, number>;
  staleViews: number;
  // Tasks the heartbeats' answers carried (0 in steady state).
  tasks: number;
  // CPU in the window, percent of one core: the masters (leader first), the benchmark
  // process, and everything else on the machine.
  masterCpuPercent: number[];
  clientCpuPercent: number;
  othersCpuPercent: number;
  cpuMicrosecondsPerCall: number;
  // RPCs the three masters served on their Raft listeners, per successful call.
  raftRpcsPerCall: number;
  // Master log entries applied at the leader in the window, per successful call.
  entriesPerCall: number;
  // View requests answered by the leader, from a follower's cache, or redirected (STALE_VIEW).
  viewOutcomes: { leader: number; followerCache: number; redirected: number };
}

interface RoundResult extends Measured {
  round: number;
  baselineCallsPerSecond: number | null;
  ratio: number | null;
  ceilingBeforeSyncsPerSecond?: number;
  ceilingAfterSyncsPerSecond?: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

// ------------------------------------------------------------------ the masters' /metrics

interface MasterCounters {
  raftRpcs: number;
  appliedIndex: number;
  viewLeader: number;
  viewFollowerCache: number;
  viewRedirected: number;
}

async function scrape(httpPort: number): Promise<MasterCounters> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const counters: MasterCounters = { raftRpcs: 0, appliedIndex: 0, viewLeader: 0, viewFollowerCache: 0, viewRedirected: 0 };
  for (const line of text.split('\n')) {
    if (line.startsWith('atoll_rpc_calls_total{')) {
      if (/listener="raft-(heartbeat|replica)"/.test(line)) counters.raftRpcs += Number(line.slice(line.lastIndexOf(' ') + 1));
    } else if (line.startsWith('atoll_master_applied_index')) {
      counters.appliedIndex = Number(line.slice(line.lastIndexOf(' ') + 1));
    } else if (line.startsWith('atoll_master_view_requests_total{')) {
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.includes('outcome="leader"')) counters.viewLeader += value;
      else if (line.includes('outcome="follower_cache"')) counters.viewFollowerCache += value;
      else if (line.includes('outcome="redirected"')) counters.viewRedirected += value;
    }
  }
  return counters;
}

// ------------------------------------------------------------------ the group

class Group {
  readonly children: ChildProcess[] = [];
  leader = '';
  follower = '';

  constructor(readonly plan: MasterGroupPlan) {}

  start(): void {
    for (let index = 0; index < this.plan.addresses.length; index++) this.children.push(spawnMaster(this.plan, index));
    for (const [index, child] of this.children.entries()) {
      child.once('exit', (code, signal) => {
        if (!this.stopping) console.error(`bench:master: master ${index + 1} exited (code ${code}, signal ${signal})`);
      });
    }
  }

  stopping = false;

  indexOf(address: string): number {
    return this.plan.addresses.indexOf(address);
  }

  // Leader first, then the followers in address order.
  get orderedIndexes(): number[] {
    const leaderIndex = this.indexOf(this.leader);
    return [leaderIndex, ...this.plan.addresses.map((_address, index) => index).filter((index) => index !== leaderIndex)];
  }

  pidOf(index: number): number {
    return this.children[index]?.pid ?? 0;
  }

  counters(): Promise<MasterCounters[]> {
    return Promise.all(this.orderedIndexes.map((index) => scrape(this.plan.ports[index]!.http)));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const running = this.children.filter((child) => child.exitCode === null && child.signalCode === null);
    const exited = running.map((child) => new Promise<void>((resolve) => child.once('exit', () => resolve())));
    for (const child of running) child.kill('SIGTERM');
    const timedOut = await Promise.race([Promise.all(exited).then(() => false), sleep(stopTimeoutMs).then(() => true)]);
    if (timedOut) {
      this.killNow();
      await Promise.all(exited);
    }
  }

  // Last resort on the way out of a failed run: no waiting.
  killNow(): void {
    this.stopping = true;
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

// ------------------------------------------------------------------ one window

interface Bench {
  group: Group;
  rpc: RpcClient;
  masterClient: MasterClient;
  fleet: NodeFleet;
  // Highest view version seen per volume (what a client sends as known_version).
  seenVersions: Map<string, number>;
}

type Call = (caller: number, sequence: number) => Promise<{ tasks?: number }>;

function callOf(bench: Bench, scenario: Scenario): Call {
  const { group, rpc, masterClient, seenVersions } = bench;
  const addresses = group.plan.addresses;
  const echo = (address: string, sequence: number) => rpc.call(address, echoMethod, { sequence, data: Buffer.alloc(echoBytes, 0x61) }, { deadlineMs: callDeadlineMs }).then(() => ({}));
  const remember = (view: VolumeView): void => {
    if ((seenVersions.get(view.volume) ?? 0) < view.version) seenVersions.set(view.volume, view.version);
  };
  const volumeOf = (caller: number, sequence: number): string => readVolumes[(caller + sequence) % readVolumes.length]!;
  switch (scenario.kind) {
    case 'echo-leader':
      return (_caller, sequence) => echo(group.leader, sequence);
    case 'echo-follower':
      return (_caller, sequence) => echo(group.follower, sequence);
    case 'echo-all': {
      let cursor = 0;
      return (_caller, sequence) => echo(addresses[cursor++ % addresses.length]!, sequence);
    }
    case 'view-leader':
    case 'view-follower': {
      const target = scenario.kind === 'view-leader' ? group.leader : group.follower;
      return async (caller, sequence) => {
        const volume = volumeOf(caller, sequence);
        remember(await rpc.call(target, Master.getVolumeView, { volume, knownVersion: seenVersions.get(volume) ?? 0 }, { deadlineMs: callDeadlineMs }));
        return {};
      };
    }
    case 'view-client':
      return async (caller, sequence) => {
        remember(await masterClient.getVolumeView(volumeOf(caller, sequence)));
        return {};
      };
    case 'heartbeat': {
      const requests = bench.fleet.nodes.map((node) => bench.fleet.heartbeatOf(node));
      return async (caller, sequence) => {
        const answer = await rpc.call(group.leader, Master.nodeHeartbeat, requests[(caller + sequence) % requests.length]!, { deadlineMs: callDeadlineMs });
        return { tasks: answer.tasks.length };
      };
    }
    case 'write':
      return async (caller, sequence) => {
        const reply = await rpc.call(
          group.leader,
          Master.admin,
          { method: 'PATCH', path: `/api/v1/volumes/${writeVolume}`, bodyJson: JSON.stringify({ description: `caller ${caller} write ${sequence}` }), adminToken: group.plan.adminToken, forwardedHops: 0 },
          { deadlineMs: callDeadlineMs },
        );
        if (reply.httpStatus !== 200) throw new Error(`HTTP_${reply.httpStatus}`);
        return {};
      };
  }
}

async function measure(bench: Bench, scenario: Scenario, timing = { warmupSeconds, seconds }): Promise<Measured> {
  const call = callOf(bench, scenario);
  const latencies = new Float64Array(latenciesMax);
  const failures: Record<string, number> = {};
  let failed = 0;
  let measuring = false;
  let stopping = false;
  let calls = 0;
  let recorded = 0;
  let tasks = 0;
  const caller = async (index: number): Promise<void> => {
    for (let sequence = 0; !stopping; sequence++) {
      const sentAt = performance.now();
      let answer: { tasks?: number };
      try {
        answer = await call(index, sequence);
      } catch (error) {
        const status = error instanceof AtollError ? error.statusName : error instanceof Error && /^HTTP_\d+$/.test(error.message) ? error.message : 'OTHER';
        if (measuring) failures[status] = (failures[status] ?? 0) + 1;
        failed += 1;
        if (failed > failuresMax) throw new Error(`${scenario.name}: ${failed} failed calls; last: ${error instanceof Error ? error.message : String(error)}`);
        // A failing target must not turn the loop into a busy spin.
        await sleep(1);
        continue;
      }
      if (measuring) {
        calls += 1;
        tasks += answer.tasks ?? 0;
        if (recorded < latenciesMax) latencies[recorded++] = performance.now() - sentAt;
      }
    }
  };
  const running = Promise.all(Array.from({ length: scenario.inflight }, (_, index) => caller(index)));
  running.catch(() => (stopping = true));
  const { group } = bench;
  const pids = group.orderedIndexes.map((index) => group.pidOf(index));
  try {
    await Promise.race([sleep(timing.warmupSeconds * 1000), running]);
    const countersBefore = await group.counters();
    const masterCpuBefore = await Promise.all(pids.map(processCpuSeconds));
    const machineBusyBefore = await machineBusyCpuSeconds();
    const clientCpuBefore = process.cpuUsage();
    const started = performance.now();
    measuring = true;
    await Promise.race([sleep(timing.seconds * 1000), running]);
    measuring = false;
    const elapsedSeconds = (performance.now() - started) / 1000;
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const machineBusySeconds = (await machineBusyCpuSeconds()) - machineBusyBefore;
    const masterCpuSeconds = (await Promise.all(pids.map(processCpuSeconds))).map((cpu, position) => cpu - masterCpuBefore[position]!);
    const countersAfter = await group.counters();
    stopping = true;
    await running;
    const clientCpuSeconds = (clientCpu.user + clientCpu.system) / 1e6;
    const sum = (field: keyof MasterCounters): number => countersAfter.reduce((total, counters, position) => total + counters[field] - countersBefore[position]![field], 0);
    const sorted = latencies.subarray(0, recorded).sort();
    const masterCpuTotal = masterCpuSeconds.reduce((total, cpu) => total + cpu, 0);
    return {
      calls,
      callsPerSecond: calls / elapsedSeconds,
      latencyP50Ms: percentile(sorted, 0.5),
      latencyP99Ms: percentile(sorted, 0.99),
      failures,
      staleViews: failures.STALE_VIEW ?? 0,
      tasks,
      masterCpuPercent: masterCpuSeconds.map((cpu) => (100 * cpu) / elapsedSeconds),
      clientCpuPercent: (100 * clientCpuSeconds) / elapsedSeconds,
      othersCpuPercent: Math.max(0, (100 * (machineBusySeconds - clientCpuSeconds - masterCpuTotal)) / elapsedSeconds),
      cpuMicrosecondsPerCall: calls > 0 ? ((masterCpuTotal + clientCpuSeconds) * 1e6) / calls : Number.NaN,
      raftRpcsPerCall: calls > 0 ? sum('raftRpcs') / calls : Number.NaN,
      // The leader's applied index (position 0): entries committed and applied in the window.
      entriesPerCall: calls > 0 ? (countersAfter[0]!.appliedIndex - countersBefore[0]!.appliedIndex) / calls : Number.NaN,
      viewOutcomes: { leader: sum('viewLeader'), followerCache: sum('viewFollowerCache'), redirected: sum('viewRedirected') },
    };
  } finally {
    stopping = true;
    await running.catch(() => undefined);
  }
}

// ------------------------------------------------------------------ set-up

async function setUp(bench: Bench): Promise<{ partitions: number; viewBytes: number[]; reportsPerHeartbeat: number[] }> {
  const { group, rpc, fleet } = bench;
  const admin = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const reply = await rpc.call(group.leader, Master.admin, { method, path, bodyJson: body === undefined ? '' : JSON.stringify(body), adminToken: group.plan.adminToken, forwardedHops: 0 }, { deadlineMs: callDeadlineMs });
    if (reply.httpStatus >= 300) throw new Error(`admin ${method} ${path}: HTTP ${reply.httpStatus}: ${reply.bodyJson}`);
    return JSON.parse(reply.bodyJson) as unknown;
  };
  await fleet.register('metanode', metanodeCount);
  await fleet.register('datanode', datanodeCount);
  for (const name of [...readVolumes, writeVolume]) await admin('POST', '/api/v1/volumes', { name, capacityBytes: 2 ** 40, replicaCount: 3 });
  // Heartbeats until the stand-in nodes have created every replica and report it, and
  // the master has recorded their reports: no more tasks, and view versions that stay put.
  let quietRounds = 0;
  let lastVersions = '';
  await waitFor('the stand-in nodes to settle (no tasks, stable views)', 60_000, async () => {
    const tasksBefore = fleet.tasksSeen.length;
    await fleet.heartbeatAll();
    const views = await Promise.all(readVolumes.map((volume) => rpc.call(group.leader, Master.getVolumeView, { volume, knownVersion: 0 }, { deadlineMs: callDeadlineMs })));
    const versions = views.map((view) => view.version).join(',');
    const led = views.every((view) => [...view.metaPartitions, ...view.dataPartitions].every((partition) => partition.leaderNodeId !== 0));
    quietRounds = fleet.tasksSeen.length === tasksBefore && led && versions === lastVersions ? quietRounds + 1 : 0;
    lastVersions = versions;
    return quietRounds >= 3 ? true : undefined;
  }, 400);
  const views = await Promise.all(readVolumes.map((volume) => rpc.call(group.leader, Master.getVolumeView, { volume, knownVersion: 0 }, { deadlineMs: callDeadlineMs })));
  for (const view of views) bench.seenVersions.set(view.volume, view.version);
  // Each follower serves every view read, at the version the leader has.
  await waitFor('the followers to serve the current views', 30_000, async () => {
    for (const address of group.plan.addresses.filter((candidate) => candidate !== group.leader)) {
      for (const view of views) await rpc.call(address, Master.getVolumeView, { volume: view.volume, knownVersion: view.version }, { deadlineMs: callDeadlineMs });
    }
    return true;
  }, 200);
  return {
    partitions: views.reduce((total, view) => total + view.metaPartitions.length + view.dataPartitions.length, 0),
    viewBytes: views.map((view) => VolumeView.encode(view).length),
    reportsPerHeartbeat: fleet.nodes.map((node) => fleet.heartbeatOf(node).partitions.length),
  };
}

// ------------------------------------------------------------------ output

const grouped = (value: number): string => Math.round(value).toLocaleString('en-US');

function formatRow(name: string, result: RoundResult): string {
  const columns = [
    name.padEnd(42),
    `${grouped(result.callsPerSecond).padStart(7)} calls/s`,
    `p50 ${result.latencyP50Ms.toFixed(2).padStart(6)} ms`,
    `p99 ${result.latencyP99Ms.toFixed(2).padStart(6)} ms`,
    result.ratio === null ? ''.padEnd(21) : result.ceilingBeforeSyncsPerSecond !== undefined ? `${result.ratio.toFixed(2).padStart(5)}x ceiling ${grouped(result.baselineCallsPerSecond!).padStart(5)}` : `${(100 * result.ratio).toFixed(0).padStart(4)}% of ${grouped(result.baselineCallsPerSecond!).padStart(6)} echo`,
    `cpu ${result.masterCpuPercent.map((cpu) => cpu.toFixed(0)).join('+')}+${result.clientCpuPercent.toFixed(0)}% (others ${result.othersCpuPercent.toFixed(0)}%) ${grouped(result.cpuMicrosecondsPerCall).padStart(5)} us/call`,
    `raft rpcs/call ${result.raftRpcsPerCall.toFixed(2).padStart(5)}`,
  ];
  const { leader, followerCache, redirected } = result.viewOutcomes;
  const viewRequests = leader + followerCache + redirected;
  const share = (count: number): string => `${((100 * count) / viewRequests).toFixed(0)}%`;
  if (viewRequests > 0 && name.includes('view')) columns.push(`answered by leader ${share(leader)}, follower cache ${share(followerCache)}, redirected ${share(redirected)}; STALE_VIEW ${result.staleViews}`);
  if (name.includes('heartbeat')) columns.push(`tasks ${result.tasks}`);
  if (name.includes('write')) columns.push(`log entries/call ${result.entriesPerCall.toFixed(3)}`);
  const failures = Object.entries(result.failures).filter(([status]) => !(status === 'STALE_VIEW' && name.includes('view')));
  if (failures.length > 0) columns.push(`failed ${failures.map(([status, count]) => `${status} ${count}`).join(', ')}`);
  return columns.join('  ');
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const plan = await planMasterGroup(3);
  const group = new Group(plan);
  const rpc = newTestRpcClient(plan, 'bench-master');
  let masterClient: MasterClient | null = null;
  let heartbeats: NodeJS.Timeout | null = null;
  let cleaned = false;
  const cleanUp = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    if (heartbeats !== null) clearInterval(heartbeats);
    await masterClient?.stop().catch(() => undefined);
    await rpc.close().catch(() => undefined);
    await group.stop().catch(() => group.killNow());
    await removePlan(plan);
  };
  // Whatever happens, no master outlives the benchmark.
  process.once('exit', () => group.killNow());
  const abort = (reason: string): void => {
    console.error(`bench:master: ${reason}; stopping the masters and removing the temporary directory`);
    group.killNow();
    void cleanUp().finally(() => process.exit(1));
  };
  const watchdog = setTimeout(() => abort(`not done within ${runTimeoutMs / 1000} s`), runTimeoutMs);
  watchdog.unref();
  process.once('SIGINT', () => abort('interrupted'));
  process.once('SIGTERM', () => abort('terminated'));

  const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? 'cpu', memoryGiB: Math.round(totalmem() / 2 ** 30) };
  const perRound: Record<string, RoundResult[]> = {};
  let setUpFacts!: Awaited<ReturnType<typeof setUp>>;
  let leaderChanges = 0;
  let backgroundHeartbeatFailures = 0;
  try {
    group.start();
    group.leader = await waitForLeader(rpc, plan.addresses, 30_000);
    group.follower = plan.addresses.find((address) => address !== group.leader)!;
    const fleet = new NodeFleet(rpc, plan.addresses);
    masterClient = new MasterClient({ masters: plan.addresses, rpc });
    masterClient.start();
    const bench: Bench = { group, rpc, masterClient, fleet, seenVersions: new Map() };
    setUpFacts = await setUp(bench);
    await masterClient.refreshHealth();
    // The stand-in nodes keep heartbeating as real nodes do, so none goes inactive.
    let beating = false;
    heartbeats = setInterval(() => {
      if (beating) return;
      beating = true;
      fleet.heartbeatAll().catch(() => (backgroundHeartbeatFailures += 1)).finally(() => (beating = false));
    }, 1_000);

    const fileSystem = await statfs(plan.root);
    console.log(
      `bench:master on ${machine.cpus} x ${machine.model}, ${machine.memoryGiB} GiB, node ${process.version}, fs type 0x${fileSystem.type.toString(16)}; ` +
        `3 atoll master processes, ${metanodeCount} metanodes + ${datanodeCount} datanodes (stand-ins), ${readVolumes.length} volumes read (${setUpFacts.partitions} partitions, views of ${setUpFacts.viewBytes.join('/')} bytes) + 1 written; ` +
        `${clusterWarmupSeconds} s warm-up, then ${warmupSeconds} s warm-up + ${seconds} s per scenario, ${rounds} rounds`,
    );
    console.log(`leader ${plan.addresses.indexOf(group.leader) + 1}, follower measured ${plan.addresses.indexOf(group.follower) + 1}; cpu columns: leader+follower+follower+bench process`);
    if (clusterWarmupSeconds > 0) {
      for (const kind of ['view-leader', 'view-follower', 'heartbeat', 'view-client'] as const) {
        await measure(bench, { name: `warm-up ${kind}`, kind, inflight: 64, baseline: null }, { warmupSeconds: clusterWarmupSeconds / 4, seconds: 0.1 });
      }
    }
    for (let round = 1; round <= rounds; round++) {
      const leaderNow = await waitForLeader(rpc, plan.addresses, 30_000);
      if (leaderNow !== group.leader) {
        leaderChanges += 1;
        console.log(`note: the leader moved from ${group.leader} to ${leaderNow} before round ${round}`);
        group.leader = leaderNow;
        group.follower = plan.addresses.find((address) => address !== leaderNow)!;
      }
      const baselines = new Map<string, number>();
      let ceilingBefore: CeilingMeasurement | null = null;
      for (const scenario of scenarios) {
        if (scenario.kind === 'write' && ceilingBefore === null) ceilingBefore = await ceilingAppend(plan.root, ceilingSeconds, ceilingEntryBytes);
        const measured = await measure(bench, scenario);
        let result: RoundResult;
        if (scenario.baseline === null) {
          baselines.set(`${baselineName(scenario)}/${scenario.inflight}`, measured.callsPerSecond);
          result = { ...measured, round, baselineCallsPerSecond: null, ratio: null };
        } else if (scenario.baseline === 'ceiling') {
          result = { ...measured, round, baselineCallsPerSecond: null, ratio: null, ceilingBeforeSyncsPerSecond: ceilingBefore!.syncsPerSecond };
        } else {
          const baseline = baselines.get(`${scenario.baseline}/${scenario.inflight}`) ?? Number.NaN;
          result = { ...measured, round, baselineCallsPerSecond: baseline, ratio: measured.callsPerSecond / baseline };
        }
        (perRound[scenario.name] ??= []).push(result);
        if (scenario.kind !== 'write') console.log(formatRow(`round ${round}: ${scenario.name}`, result));
      }
      if (ceilingBefore !== null) {
        // Every write of the round is compared with the mean of the ceilings measured right
        // before the first and right after the last.
        const ceilingAfter = await ceilingAppend(plan.root, ceilingSeconds, ceilingEntryBytes);
        const ceiling = (ceilingBefore.syncsPerSecond + ceilingAfter.syncsPerSecond) / 2;
        for (const scenario of scenarios.filter((candidate) => candidate.kind === 'write')) {
          const result = perRound[scenario.name]!.at(-1)!;
          result.ceilingAfterSyncsPerSecond = ceilingAfter.syncsPerSecond;
          result.baselineCallsPerSecond = ceiling;
          result.ratio = result.callsPerSecond / ceiling;
          console.log(formatRow(`round ${round}: ${scenario.name}`, result));
        }
      }
    }
  } finally {
    clearTimeout(watchdog);
    await cleanUp();
  }

  // Per scenario, the round with the median ratio (baselines: the median rate).
  const median = (list: RoundResult[]): RoundResult => {
    const sorted = [...list].sort((left, right) => (left.ratio ?? left.callsPerSecond) - (right.ratio ?? right.callsPerSecond));
    return sorted[Math.floor((sorted.length - 1) / 2)]!;
  };
  console.log(`median of ${rounds} round${rounds === 1 ? '' : 's'} (scenarios by ratio to their baseline in the same round, baselines by rate):`);
  const medians: Record<string, RoundResult> = {};
  for (const scenario of scenarios) {
    medians[scenario.name] = median(perRound[scenario.name]!);
    console.log(formatRow(scenario.name, medians[scenario.name]!));
  }
  const notes: string[] = [];
  for (const [name, list] of Object.entries(perRound)) {
    for (const result of list) {
      const failed = Object.values(result.failures).reduce((total, count) => total + count, 0);
      if (failed > 0) notes.push(`round ${result.round}: ${name}: ${failed} failed calls (${JSON.stringify(result.failures)})`);
      if (result.tasks > 0) notes.push(`round ${result.round}: ${name}: heartbeats carried ${result.tasks} tasks`);
    }
  }
  if (backgroundHeartbeatFailures > 0) notes.push(`${backgroundHeartbeatFailures} background heartbeat rounds failed`);
  if (leaderChanges > 0) notes.push(`${leaderChanges} leader changes between rounds`);
  for (const note of notes) console.log(`note: ${note}`);

  const rounded = (value: number, digits: number): number => Number(value.toFixed(digits));
  const summarize = (result: RoundResult): Record<string, unknown> => ({
    round: result.round,
    callsPerSecond: Math.round(result.callsPerSecond),
    latencyP50Ms: rounded(result.latencyP50Ms, 3),
    latencyP99Ms: rounded(result.latencyP99Ms, 3),
    baselineCallsPerSecond: result.baselineCallsPerSecond === null ? null : Math.round(result.baselineCallsPerSecond),
    ratio: result.ratio === null ? null : rounded(result.ratio, 3),
    ...(result.ceilingBeforeSyncsPerSecond === undefined ? {} : { ceilingBeforeSyncsPerSecond: Math.round(result.ceilingBeforeSyncsPerSecond), ceilingAfterSyncsPerSecond: Math.round(result.ceilingAfterSyncsPerSecond ?? Number.NaN) }),
    failures: result.failures,
    staleViews: result.staleViews,
    tasks: result.tasks,
    masterCpuPercent: result.masterCpuPercent.map((cpu) => Math.round(cpu)),
    clientCpuPercent: Math.round(result.clientCpuPercent),
    othersCpuPercent: Math.round(result.othersCpuPercent),
    cpuMicrosecondsPerCall: Math.round(result.cpuMicrosecondsPerCall),
    raftRpcsPerCall: rounded(result.raftRpcsPerCall, 3),
    entriesPerCall: rounded(result.entriesPerCall, 4),
    viewOutcomes: result.viewOutcomes,
  });
  const results = Object.fromEntries(
    scenarios.map((scenario) => [
      scenario.name,
      {
        kind: scenario.kind,
        inflight: scenario.inflight,
        baseline: scenario.baseline,
        median: summarize(medians[scenario.name]!),
        callsPerSecondPerRound: perRound[scenario.name]!.map((result) => Math.round(result.callsPerSecond)),
        ratioPerRound: perRound[scenario.name]!.map((result) => (result.ratio === null ? null : rounded(result.ratio, 3))),
        staleViewsPerRound: perRound[scenario.name]!.map((result) => result.staleViews),
      },
    ]),
  );
  console.log(
    JSON.stringify({
      bench: 'master',
      machine,
      node: process.version,
      settings: { seconds, rounds, warmupSeconds, clusterWarmupSeconds, ceilingSeconds, readInflights, writeInflights, metanodes: metanodeCount, datanodes: datanodeCount, readVolumes: readVolumes.length, partitions: setUpFacts!.partitions, viewBytes: setUpFacts!.viewBytes, reportsPerHeartbeat: setUpFacts!.reportsPerHeartbeat, echoBytes, ceilingEntryBytes },
      results,
      leaderChanges,
      backgroundHeartbeatFailures,
    }),
  );
}

await main();
