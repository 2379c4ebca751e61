// Seeded cross-check of the linearizability checker against a brute force that tries
// every order of every subset of pending operations, on small random histories (<= 7
// operations over 1-2 keys, with ties, pending operations and corrupted outputs).
// The brute force has its own model and checks the whole history at once, so it also
// checks the per-key partitioning.
//
// Replay: ATOLL_SIM_SEED=<seed printed below> node scripts/run-tests.mjs linearizability-randomized
// More:   ATOLL_SIM_HISTORIES=100000 (same command)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { createRandom } from '../random/index.js';
import type { Random } from '../random/index.js';
import { checkKeyValueHistory } from './key-value-model.js';
import type { KeyValueInput, KeyValueOperation, KeyValueOutput } from './key-value-model.js';
import { applyToReferenceStore } from './key-value-reference.js';

const seed = process.env.ATOLL_SIM_SEED !== undefined ? Number(process.env.ATOLL_SIM_SEED) : randomInt(2 ** 31);
const historyCount = Number(process.env.ATOLL_SIM_HISTORIES ?? '4000');

function pick<T>(random: Random, items: readonly T[]): T {
  return items[random.nextInt(items.length)];
}

const values = ['a', 'b', 'c'] as const;

function randomInput(random: Random, keys: readonly string[]): KeyValueInput {
  const key = pick(random, keys);
  switch (random.nextInt(4)) {
    case 0:
      return { kind: 'get', key };
    case 1:
      return { kind: 'put', key, value: pick(random, values) };
    case 2:
      return { kind: 'cas', key, expected: pick(random, [undefined, ...values]), value: pick(random, values) };
    default:
      return { kind: 'append', key, suffix: pick(random, values) };
  }
}


/**
 * Runs operations against a real store at random points inside their intervals, so the
 * history starts out linearizable; then maybe corrupts one output. Small time ranges make
 * ties between invokes and responses common.
 */
function randomHistory(random: Random): KeyValueOperation[] {
  const keys = random.nextInt(3) === 0 ? ['x', 'y'] : ['x'];
  const count = 1 + random.nextInt(7);
  const drafts = Array.from({ length: count }, (_, id) => {
    const invokeTime = random.nextInt(12);
    const responseTime = invokeTime + random.nextInt(6);
    const pending = random.nextInt(5) === 0;
    // A pending operation may take effect at any time after its invoke, or never.
    const effectTime = pending ? (random.nextInt(2) === 0 ? invokeTime + random.nextInt(12) : undefined) : invokeTime + random.nextFloat() * (responseTime - invokeTime);
    return { id, clientId: random.nextInt(4), input: randomInput(random, keys), invokeTime, responseTime, pending, effectTime, output: undefined as KeyValueOutput };
  });
  const store = new Map<string, string>();
  for (const draft of [...drafts].filter((draft) => draft.effectTime !== undefined).sort((left, right) => left.effectTime! - right.effectTime!)) {
    draft.output = applyToReferenceStore(store, draft.input);
  }
  const operations: KeyValueOperation[] = drafts.map((draft) =>
    draft.pending ? { id: draft.id, clientId: draft.clientId, input: draft.input, invokeTime: draft.invokeTime } : { id: draft.id, clientId: draft.clientId, input: draft.input, invokeTime: draft.invokeTime, response: { time: draft.responseTime, output: draft.output } },
  );
  if (random.nextInt(2) === 0) {
    const completed = operations.filter((operation) => operation.response !== undefined && (operation.input.kind === 'get' || operation.input.kind === 'cas'));
    if (completed.length > 0) {
      const victim = pick(random, completed);
      const output = victim.input.kind === 'cas' ? !victim.response!.output : pick(random, [undefined, ...values, 'ab', 'ba']);
      operations[victim.id] = { ...victim, response: { ...victim.response!, output } };
    }
  }
  return operations;
}

/** Tries every real-time-respecting order of the completed operations plus each subset of the pending ones. */
function bruteForceLinearizable(operations: readonly KeyValueOperation[]): boolean {
  const pending = operations.filter((operation) => operation.response === undefined);
  const completed = operations.filter((operation) => operation.response !== undefined);
  for (let subset = 0; subset < 1 << pending.length; subset++) {
    const chosen = [...completed, ...pending.filter((_, index) => (subset >> index) & 1)];
    if (someOrderFits(chosen, new Set(), new Map())) return true;
  }
  return false;
}

function someOrderFits(chosen: readonly KeyValueOperation[], placed: ReadonlySet<number>, store: ReadonlyMap<string, string>): boolean {
  if (placed.size === chosen.length) return true;
  for (const operation of chosen) {
    if (placed.has(operation.id)) continue;
    // Everything that responded strictly before this invoke must already be placed.
    const mustPrecede = chosen.filter((other) => other.response !== undefined && other.response.time < operation.invokeTime);
    if (mustPrecede.some((other) => !placed.has(other.id))) continue;
    const next = new Map(store);
    const output = applyToReferenceStore(next, operation.input);
    if (operation.response !== undefined && operation.response.output !== output) continue;
    if (someOrderFits(chosen, new Set([...placed, operation.id]), next)) return true;
  }
  return false;
}

test(`the checker agrees with brute force on ${historyCount} random small histories (ATOLL_SIM_SEED=${seed})`, () => {
  console.log(`linearizability cross-check: ATOLL_SIM_SEED=${seed} ATOLL_SIM_HISTORIES=${historyCount}`);
  const random = createRandom(seed);
  const verdicts = { linearizable: 0, violation: 0 };
  for (let index = 0; index < historyCount; index++) {
    const operations = randomHistory(random);
    const expected = bruteForceLinearizable(operations) ? 'linearizable' : 'violation';
    const result = checkKeyValueHistory(operations);
    if (result.verdict !== expected) {
      assert.fail(`history ${index} (ATOLL_SIM_SEED=${seed}): checker says ${result.verdict}, brute force says ${expected}:\n${JSON.stringify(operations, null, 1)}`);
    }
    if (result.verdict === 'violation') {
      // The explanation names an operation of the violated key that could not be placed.
      assert.equal(result.violation!.blocked.input.key, result.violation!.key);
      assert.ok(result.violation!.candidates.includes(result.violation!.blocked));
    }
    verdicts[expected]++;
  }
  console.log(`linearizability cross-check: ${verdicts.linearizable} linearizable, ${verdicts.violation} violations`);
  // Both verdicts must be well represented, or the cross-check proves little.
  assert.ok(verdicts.linearizable > historyCount / 5 && verdicts.violation > historyCount / 10, JSON.stringify(verdicts));
});
