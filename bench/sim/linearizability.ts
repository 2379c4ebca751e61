/**
 * Linearizability checker benchmark: how long `checkKeyValueHistory` takes on random
 * key-value histories shaped like a simulated cluster's: each client runs one operation
 * at a time (get 50%, put 30%, cas 10%, append 10%), each operation takes effect at a
 * random point inside its interval, and a fraction of them get no response (the client
 * gave up; the operation took effect later, or never). Values are either unique per put
 * (as a test workload writes them) or drawn from three, which makes the search harder.
 * For each shape the history is checked as generated (linearizable) and with one read
 * corrupted (a violation, usually). Each case is timed over several rounds; the best is
 * reported. The last line printed is one JSON object.
 *
 * Run: npm run bench:linearizability            (ATOLL_SIM_SEED=<n> for another history)
 */
import { performance } from 'node:perf_hooks';
import { createRandom } from '../../src/random/index.js';
import type { Random } from '../../src/random/index.js';
import { checkKeyValueHistory } from '../../src/sim/index.js';
import type { KeyValueInput, KeyValueOperation, KeyValueOutput } from '../../src/sim/index.js';
import { applyToReferenceStore } from '../../src/sim/key-value-reference.js';

const seed = Number(process.env.ATOLL_SIM_SEED ?? '1');
const roundCount = 5;

interface Shape {
  readonly name: string;
  readonly operations: number;
  readonly keys: number;
  readonly clients: number;
  readonly pendingFraction: number;
  readonly uniqueValues: boolean;
}

const shapes: readonly Shape[] = [
  { name: '1000 ops, 10 keys, 5 clients, unique values, no pending', operations: 1000, keys: 10, clients: 5, pendingFraction: 0, uniqueValues: true },
  { name: '1000 ops, 10 keys, 5 clients, unique values, 5% pending', operations: 1000, keys: 10, clients: 5, pendingFraction: 0.05, uniqueValues: true },
  { name: '1000 ops, 10 keys, 5 clients, 3 values, 5% pending', operations: 1000, keys: 10, clients: 5, pendingFraction: 0.05, uniqueValues: false },
  { name: '1000 ops, 1 key, 5 clients, unique values, 5% pending', operations: 1000, keys: 1, clients: 5, pendingFraction: 0.05, uniqueValues: true },
  { name: '10000 ops, 10 keys, 5 clients, unique values, 2% pending', operations: 10_000, keys: 10, clients: 5, pendingFraction: 0.02, uniqueValues: true },
];

function pick<T>(random: Random, items: readonly T[]): T {
  return items[random.nextInt(items.length)];
}


function generate(random: Random, shape: Shape): KeyValueOperation[] {
  const keys = Array.from({ length: shape.keys }, (_, index) => `k${index}`);
  const written = new Map<string, string[]>();
  let valueCount = 0;
  const nextValue = (): string => (shape.uniqueValues ? `v${valueCount++}` : pick(random, ['a', 'b', 'c']));
  const clientTimes = new Array<number>(shape.clients).fill(0);
  const drafts: { id: number; clientId: number; input: KeyValueInput; invokeTime: number; responseTime: number | undefined; effectTime: number | undefined; output: KeyValueOutput }[] = [];
  for (let id = 0; id < shape.operations; id++) {
    const clientId = random.nextInt(shape.clients);
    const key = pick(random, keys);
    const draw = random.nextInt(10);
    const seen = written.get(key) ?? [];
    let input: KeyValueInput;
    if (draw < 5) input = { kind: 'get', key };
    else if (draw < 8) input = { kind: 'put', key, value: nextValue() };
    else if (draw < 9) input = { kind: 'cas', key, expected: seen.length === 0 ? undefined : pick(random, seen), value: nextValue() };
    else input = { kind: 'append', key, suffix: nextValue() };
    if (input.kind === 'put' || input.kind === 'cas') written.set(key, [...seen.slice(-3), input.value]);
    const invokeTime = clientTimes[clientId] + random.nextInt(5);
    const duration = 1 + random.nextInt(20);
    const pending = random.nextFloat() < shape.pendingFraction;
    const effectTime = pending ? (random.nextInt(2) === 0 ? invokeTime + random.nextFloat() * 200 : undefined) : invokeTime + random.nextFloat() * duration;
    // A client that gives up moves on after its timeout.
    clientTimes[clientId] = invokeTime + (pending ? 50 : duration);
    drafts.push({ id, clientId, input, invokeTime, responseTime: pending ? undefined : invokeTime + duration, effectTime, output: undefined });
  }
  const store = new Map<string, string>();
  for (const draft of drafts.filter((draft) => draft.effectTime !== undefined).sort((left, right) => left.effectTime! - right.effectTime!)) {
    draft.output = applyToReferenceStore(store, draft.input);
  }
  return drafts.map((draft) =>
    draft.responseTime === undefined
      ? { id: draft.id, clientId: draft.clientId, input: draft.input, invokeTime: draft.invokeTime }
      : { id: draft.id, clientId: draft.clientId, input: draft.input, invokeTime: draft.invokeTime, response: { time: draft.responseTime, output: draft.output } },
  );
}

/** The same history with one completed read near the middle answering a value never written. */
function corrupt(history: readonly KeyValueOperation[]): KeyValueOperation[] {
  const copy = [...history];
  const reads = copy.filter((operation) => operation.input.kind === 'get' && operation.response !== undefined);
  const victim = reads[Math.floor(reads.length / 2)];
  copy[victim.id] = { ...victim, response: { ...victim.response!, output: 'never written' } };
  return copy;
}

interface Measurement {
  readonly verdict: string;
  readonly steps: number;
  readonly bestMs: number;
  readonly medianMs: number;
}

function measure(history: readonly KeyValueOperation[]): Measurement {
  const times: number[] = [];
  let result = checkKeyValueHistory(history);
  for (let round = 0; round < roundCount; round++) {
    const start = performance.now();
    result = checkKeyValueHistory(history);
    times.push(performance.now() - start);
  }
  times.sort((left, right) => left - right);
  return { verdict: result.verdict, steps: result.steps, bestMs: Number(times[0].toFixed(2)), medianMs: Number(times[Math.floor(times.length / 2)].toFixed(2)) };
}

const results: Record<string, { operations: number; pending: number; asGenerated: Measurement; oneReadCorrupted: Measurement }> = {};
console.log(`bench:linearizability on node ${process.version}, seed ${seed}, best and median of ${roundCount} rounds`);
for (const shape of shapes) {
  const history = generate(createRandom(seed), shape);
  const asGenerated = measure(history);
  const oneReadCorrupted = measure(corrupt(history));
  const pending = history.filter((operation) => operation.response === undefined).length;
  results[shape.name] = { operations: history.length, pending, asGenerated, oneReadCorrupted };
  const line = (label: string, value: Measurement): string => `${label} ${value.verdict} in ${value.bestMs} ms (median ${value.medianMs}), ${value.steps} steps`;
  console.log(`${shape.name} (${pending} pending): ${line('as generated', asGenerated)}; ${line('one read corrupted', oneReadCorrupted)}`);
}
console.log(JSON.stringify({ bench: 'linearizability', node: process.version, seed, rounds: roundCount, results }));
