import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkKeyValueHistory } from './key-value-model.js';
import type { KeyValueInput, KeyValueOperation, KeyValueOutput } from './key-value-model.js';

/** Builds a history from compact rows: [client, input, invoke, response time, output] (no response time: pending). */
function history(rows: readonly (readonly [number, KeyValueInput, number, number?, KeyValueOutput?])[]): KeyValueOperation[] {
  return rows.map(([clientId, input, invokeTime, responseTime, output], id) =>
    responseTime === undefined ? { id, clientId, input, invokeTime } : { id, clientId, input, invokeTime, response: { time: responseTime, output } },
  );
}

const get = (key: string): KeyValueInput => ({ kind: 'get', key });
const put = (key: string, value: string): KeyValueInput => ({ kind: 'put', key, value });
const cas = (key: string, expected: string | undefined, value: string): KeyValueInput => ({ kind: 'cas', key, expected, value });
const append = (key: string, suffix: string): KeyValueInput => ({ kind: 'append', key, suffix });

test('a sequential history that reads its writes is linearizable', () => {
  const result = checkKeyValueHistory(
    history([
      [1, get('x'), 1, 2, undefined],
      [1, put('x', 'a'), 3, 4],
      [2, get('x'), 5, 6, 'a'],
      [2, cas('x', 'a', 'b'), 7, 8, true],
      [1, cas('x', 'a', 'c'), 9, 10, false],
      [1, get('x'), 11, 12, 'b'],
    ]),
  );
  assert.equal(result.verdict, 'linearizable');
  assert.equal(result.violation, undefined);
});

test('a stale read after a completed write is a violation, explained', () => {
  const result = checkKeyValueHistory(
    history([
      [1, put('x', 'a'), 1, 2],
      [1, put('x', 'b'), 3, 4],
      [2, get('x'), 5, 6, 'a'],
    ]),
  );
  assert.equal(result.verdict, 'violation');
  const violation = result.violation!;
  assert.equal(violation.key, 'x');
  assert.deepEqual(violation.prefix.map((operation) => operation.id), [0, 1]);
  assert.equal(violation.stateAfterPrefix, '"b"');
  assert.equal(violation.blocked.id, 2);
  assert.deepEqual(violation.candidates.map((operation) => operation.id), [2]);
  assert.equal(
    violation.explanation,
    [
      'key "x" is not linearizable.',
      '  longest linearizable prefix found: 2 of 3 operations, in order:',
      '    #0 client 1 put("x", "a") -> ok [1, 2]',
      '    #1 client 1 put("x", "b") -> ok [3, 4]',
      '  state after it: "b"',
      '  then #2 client 2 get("x") -> "a" [5, 6] responded before it could take effect; what could take effect next:',
      '    #2 client 2 get("x") -> "a" [5, 6]: impossible in that state',
    ].join('\n'),
  );
});

test('a read concurrent with a write may see the old or the new value', () => {
  const result = checkKeyValueHistory(
    history([
      [1, put('x', 'a'), 1, 10],
      [2, get('x'), 2, 3, undefined],
      [2, get('x'), 4, 5, 'a'],
      [3, get('x'), 6, 7, 'a'],
    ]),
  );
  assert.equal(result.verdict, 'linearizable');
});

test('a value must not go back: new then old, even while the write is still running', () => {
  const result = checkKeyValueHistory(
    history([
      [1, put('x', 'a'), 1, 10],
      [2, get('x'), 2, 3, 'a'],
      [3, get('x'), 4, 5, undefined],
    ]),
  );
  assert.equal(result.verdict, 'violation');
});

test('two concurrent writes seen in opposite orders by two readers are a violation', () => {
  const result = checkKeyValueHistory(
    history([
      [1, put('x', 'a'), 1, 20],
      [2, put('x', 'b'), 1, 20],
      [3, get('x'), 2, 3, 'a'],
      [3, get('x'), 4, 5, 'b'],
      [4, get('x'), 2, 3, 'b'],
      [4, get('x'), 4, 5, 'a'],
    ]),
  );
  assert.equal(result.verdict, 'violation');
  // Each reader alone is fine.
  const oneReader = checkKeyValueHistory(
    history([
      [1, put('x', 'a'), 1, 20],
      [2, put('x', 'b'), 1, 20],
      [3, get('x'), 2, 3, 'a'],
      [3, get('x'), 4, 5, 'b'],
    ]),
  );
  assert.equal(oneReader.verdict, 'linearizable');
});

test('two concurrent compare-and-sets from the same value cannot both succeed', () => {
  const rows = [
    [1, put('x', '0'), 1, 2],
    [2, cas('x', '0', '1'), 3, 6, true],
    [3, cas('x', '0', '2'), 4, 7, true],
  ] as const;
  assert.equal(checkKeyValueHistory(history(rows)).verdict, 'violation');
  const oneFails = history([...rows.slice(0, 2), [3, cas('x', '0', '2'), 4, 7, false]]);
  assert.equal(checkKeyValueHistory(oneFails).verdict, 'linearizable');
  const chained = history([...rows.slice(0, 2), [3, cas('x', '1', '2'), 4, 7, true]]);
  assert.equal(checkKeyValueHistory(chained).verdict, 'linearizable');
});

test('a pending write must be included when a later read saw its value', () => {
  const result = checkKeyValueHistory(
    history([
      [1, put('x', 'a'), 1, 2],
      [2, put('x', 'b'), 3],
      [3, get('x'), 4, 5, 'b'],
      [3, get('x'), 6, 7, 'b'],
    ]),
  );
  assert.equal(result.verdict, 'linearizable');
  const pendingCas = history([
    [1, put('x', 'a'), 1, 2],
    [2, cas('x', 'a', 'c'), 3],
    [3, get('x'), 4, 5, 'c'],
  ]);
  assert.equal(checkKeyValueHistory(pendingCas).verdict, 'linearizable');
});

test('a pending write may also never take effect, but not before it was invoked or after it was seen to', () => {
  // Never taking effect is fine.
  assert.equal(checkKeyValueHistory(history([[1, put('x', 'a'), 1, 2], [2, put('x', 'b'), 3], [3, get('x'), 4, 5, 'a']])).verdict, 'linearizable');
  // Its value seen before it was even invoked: a violation.
  assert.equal(checkKeyValueHistory(history([[1, put('x', 'a'), 1, 2], [3, get('x'), 3, 4, 'b'], [2, put('x', 'b'), 10]])).verdict, 'violation');
  // Once seen, it has taken effect: the old value cannot come back.
  const seenThenGone = history([
    [1, put('x', 'a'), 1, 2],
    [2, put('x', 'b'), 3],
    [3, get('x'), 4, 5, 'b'],
    [3, get('x'), 6, 7, 'a'],
  ]);
  assert.equal(checkKeyValueHistory(seenThenGone).verdict, 'violation');
  // A pending cas whose expectation never held cannot explain a read.
  const impossibleCas = history([
    [1, put('x', 'a'), 1, 2],
    [2, cas('x', 'z', 'c'), 3],
    [3, get('x'), 4, 5, 'c'],
  ]);
  assert.equal(checkKeyValueHistory(impossibleCas).verdict, 'violation');
});

test('pending reads are left out of the search', () => {
  const result = checkKeyValueHistory(history([[1, put('x', 'a'), 1, 2], [2, get('x'), 3], [3, get('x'), 4, 5, 'a']]));
  assert.equal(result.verdict, 'linearizable');
  assert.equal(result.partitions[0].operationCount, 2);
});

test('appends compose in one order only', () => {
  const rows = [
    [1, append('x', 'a'), 1, 5],
    [2, append('x', 'b'), 1, 5],
    [3, get('x'), 6, 7, 'ba'],
  ] as const;
  assert.equal(checkKeyValueHistory(history(rows)).verdict, 'linearizable');
  assert.equal(checkKeyValueHistory(history([...rows, [3, get('x'), 8, 9, 'ab']])).verdict, 'violation');
});

test('keys are checked apart and the result names each partition', () => {
  const result = checkKeyValueHistory(
    history([
      [1, put('y', '1'), 1, 2],
      [1, put('x', 'a'), 3, 4],
      [2, get('y'), 5, 6, '1'],
      [2, get('x'), 7, 8, 'a'],
      [3, get('z'), 9, 10, 'never written'],
    ]),
  );
  assert.equal(result.verdict, 'violation');
  assert.deepEqual(
    result.partitions.map((partition) => [partition.key, partition.verdict, partition.operationCount]),
    [
      ['x', 'linearizable', 2],
      ['y', 'linearizable', 2],
      ['z', 'violation', 1],
    ],
  );
  assert.equal(result.violation!.key, 'z');
  assert.equal(result.steps, result.partitions.reduce((sum, partition) => sum + partition.steps, 0));
});

test('equal response and invoke times count as concurrent, so they never raise a false alarm', () => {
  const result = checkKeyValueHistory(history([[1, get('x'), 5, 5, 'a'], [2, put('x', 'a'), 5, 6]]));
  assert.equal(result.verdict, 'linearizable');
});

test('a search past its step bound answers unknown, not a verdict', () => {
  // Many concurrent writers and readers of one key: a big search space.
  const rows: [number, KeyValueInput, number, number?, KeyValueOutput?][] = [];
  for (let client = 0; client < 8; client++) rows.push([client, put('x', `v${client}`), 1, 100]);
  for (let client = 0; client < 8; client++) rows.push([100 + client, get('x'), 2, 99, `v${(client * 5) % 8}`]);
  const bounded = checkKeyValueHistory(history(rows), { searchStepsMax: 50 });
  assert.equal(bounded.verdict, 'unknown');
  assert.equal(bounded.steps, 50);
  assert.equal(bounded.violation, undefined);
  assert.equal(checkKeyValueHistory(history(rows)).verdict, 'linearizable');
});

test('a violation in one key wins over an unknown verdict in another', () => {
  const rows: [number, KeyValueInput, number, number?, KeyValueOutput?][] = [];
  for (let client = 0; client < 12; client++) rows.push([client, put('a', `v${client}`), 1, 100]);
  for (let client = 0; client < 12; client++) rows.push([100 + client, get('a'), 2, 99, `v${client}`]);
  rows.push([200, get('b'), 1, 2, 'ghost']);
  const result = checkKeyValueHistory(history(rows), { searchStepsMax: 30 });
  assert.equal(result.verdict, 'violation');
  assert.deepEqual(result.partitions.map((partition) => partition.verdict), ['unknown', 'violation']);
});

test('malformed histories are refused', () => {
  assert.throws(() => checkKeyValueHistory(history([[1, get('x'), 5, 4, undefined]])), /before its invoke/);
  assert.throws(() => checkKeyValueHistory(history([[1, cas('x', undefined, 'a'), 1, 2, 'yes']])), /wrong type/);
  assert.throws(() => checkKeyValueHistory(history([[1, put('x', 'a'), 1, 2, 'ok']])), /wrong type/);
  assert.throws(() => checkKeyValueHistory(history([[1, put('x', 'a'), Number.NaN]])), /non-finite invoke/);
});
