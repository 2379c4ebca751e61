// bench:rpc — round trips per second and bulk throughput of the RPC layer against a bare
// length-prefixed echo over net.Socket, both measured in the same run between two
// processes on loopback. Rounds alternate baseline and RPC so that noise from other
// work on the machine hits both alike; the best round of each is reported.
//
// Environment: BENCH_SECONDS (per measurement, default 2), BENCH_ROUNDS (default 3).
// The last line printed is one JSON object with every figure.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RpcClient, echoMethod } from '../../src/rpc/index.js';
import { BareEchoClient } from './bare-echo.js';

const seconds = Number(process.env.BENCH_SECONDS ?? '2');
const rounds = Number(process.env.BENCH_ROUNDS ?? '5');
const callsMax = 50_000_000;
const secret = randomBytes(24).toString('hex');

interface Scenario {
  name: string;
  inflight: number;
  // Bytes of application data each way per call.
  bodyBytes: number;
  bulk: boolean;
}

const allScenarios: Scenario[] = [
  { name: 'small, 1 in flight', inflight: 1, bodyBytes: 100, bulk: false },
  { name: 'small, 64 in flight', inflight: 64, bodyBytes: 100, bulk: false },
  { name: '1 MiB, 1 in flight', inflight: 1, bodyBytes: 1 << 20, bulk: true },
  { name: '1 MiB, 4 in flight', inflight: 4, bodyBytes: 1 << 20, bulk: true },
];

// BENCH_ONLY=small runs only the scenarios whose name contains the word.
const only = process.env.BENCH_ONLY ?? '';
const scenarios = allScenarios.filter((scenario) => scenario.name.includes(only));

interface Measurement {
  callsPerSecond: number;
  megabytesPerSecond: number;
}

async function closedLoop(inflight: number, bodyBytes: number, call: () => Promise<unknown>): Promise<Measurement> {
  // Warm up (JIT, connection, buffers) before timing.
  const warmEnd = Date.now() + 300;
  while (Date.now() < warmEnd) await Promise.all(Array.from({ length: inflight }, call));
  let calls = 0;
  const started = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (calls < callsMax && Date.now() < end) {
      await call();
      calls += 1;
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  const elapsedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { callsPerSecond: calls / elapsedSeconds, megabytesPerSecond: (calls * bodyBytes) / elapsedSeconds / 1e6 };
}

async function main(): Promise<void> {
  const serverScript = fileURLToPath(new URL('./server.js', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, serverScript, secret], { stdio: ['pipe', 'pipe', 'inherit'] });
  const firstLine = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const { rpcPort, barePort } = JSON.parse(firstLine) as { rpcPort: number; barePort: number };
  const rpc = new RpcClient({ secret, instance: 'bench-client', limits: { payloadBytesMax: 8 * 1024 * 1024 } });
  const bare = await BareEchoClient.connect('127.0.0.1', barePort);
  const rpcAddress = `127.0.0.1:${rpcPort}`;

  console.log(`bench:rpc on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${seconds}s per measurement, best of ${rounds}`);
  const results: Record<string, { baseline: Measurement; rpc: Measurement; ratio: number; medianPairRatio: number }> = {};
  for (const scenario of scenarios) {
    const bulkBody = Buffer.alloc(scenario.bodyBytes, 0x5a);
    // Small calls carry their bytes in the protobuf header; bulk ones beside it.
    const smallRequest = { sequence: 1, data: Buffer.alloc(scenario.bulk ? 0 : scenario.bodyBytes - 8, 0x61) };
    const bareBody = Buffer.alloc(scenario.bodyBytes, 0x61);
    let bestBaseline: Measurement = { callsPerSecond: 0, megabytesPerSecond: 0 };
    let bestRpc: Measurement = { callsPerSecond: 0, megabytesPerSecond: 0 };
    // Each round measures the two back to back; the median of the per-round ratios is
    // less sensitive to a noisy neighbour than the ratio of the two best rounds.
    const pairRatios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const baseline = await closedLoop(scenario.inflight, scenario.bodyBytes, () => bare.echo(bareBody));
      const measured = await closedLoop(scenario.inflight, scenario.bodyBytes, () =>
        scenario.bulk ? rpc.callWithPayload(rpcAddress, echoMethod, smallRequest, { payload: bulkBody }) : rpc.call(rpcAddress, echoMethod, smallRequest),
      );
      pairRatios.push(measured.callsPerSecond / baseline.callsPerSecond);
      if (baseline.callsPerSecond > bestBaseline.callsPerSecond) bestBaseline = baseline;
      if (measured.callsPerSecond > bestRpc.callsPerSecond) bestRpc = measured;
    }
    const ratio = bestRpc.callsPerSecond / bestBaseline.callsPerSecond;
    pairRatios.sort((a, b) => a - b);
    const medianPairRatio = pairRatios[Math.floor(pairRatios.length / 2)]!;
    results[scenario.name] = { baseline: bestBaseline, rpc: bestRpc, ratio, medianPairRatio };
    const format = (m: Measurement) => `${Math.round(m.callsPerSecond).toLocaleString('en-US').padStart(9)} calls/s ${m.megabytesPerSecond.toFixed(1).padStart(8)} MB/s`;
    console.log(`${scenario.name.padEnd(22)} bare ${format(bestBaseline)} | rpc ${format(bestRpc)} | rpc/bare ${(ratio * 100).toFixed(0)}% (median of pairs ${(medianPairRatio * 100).toFixed(0)}%)`);
  }
  await rpc.close();
  bare.close();
  child.stdin!.end();
  await new Promise((resolve) => child.once('exit', resolve));
  const summary = Object.fromEntries(
    Object.entries(results).map(([name, r]) => [
      name,
      {
        bareCallsPerSecond: Math.round(r.baseline.callsPerSecond),
        rpcCallsPerSecond: Math.round(r.rpc.callsPerSecond),
        bareMegabytesPerSecond: Number(r.baseline.megabytesPerSecond.toFixed(1)),
        rpcMegabytesPerSecond: Number(r.rpc.megabytesPerSecond.toFixed(1)),
        ratio: Number(r.ratio.toFixed(3)),
        medianPairRatio: Number(r.medianPairRatio.toFixed(3)),
      },
    ]),
  );
  console.log(JSON.stringify({ bench: 'rpc', node: process.version, seconds, rounds, results: summary }));
}

await main();
