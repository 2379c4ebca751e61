import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtollError, StatusCode } from '../errors/index.js';
import { callOutcomeUnknownSuffix } from '../rpc/index.js';
import { mutateSettling, outcomeUnknown } from './settle.js';

const lost = () => new AtollError(StatusCode.UNAVAILABLE, `127.0.0.1:9: connection closed by the server${callOutcomeUnknownSuffix}`, { outcomeUnknown: true });
const exists = () => new AtollError(StatusCode.EXISTS, 'create inode: "f" already exists');

function clock() {
  let nowMs = 0;
  const slept: number[] = [];
  return { slept, options: { retryMs: 5_000, nowMs: () => nowMs, sleep: async (ms: number) => void (slept.push(ms), (nowMs += ms)) } };
}

test('only a call lost in flight or a timeout leaves the outcome unknown', () => {
  assert.equal(outcomeUnknown(lost()), true);
  assert.equal(outcomeUnknown(new AtollError(StatusCode.TIMEOUT, 'deadline')), true);
  assert.equal(outcomeUnknown(new AtollError(StatusCode.UNAVAILABLE, '127.0.0.1:9: connection refused')), false);
  assert.equal(outcomeUnknown(exists()), false);
  assert.equal(outcomeUnknown(new Error('x')), false);
});

test('a create whose answer was lost and that took effect: the repeat\'s EEXIST is settled as success', async () => {
  const { slept, options } = clock();
  const answers: Array<() => Promise<string>> = [async () => { throw lost(); }, async () => { throw exists(); }];
  const settled: AtollError[] = [];
  const result = await mutateSettling(() => answers.shift()!(), async (refusal) => (settled.push(refusal), 'mine'), options);
  assert.equal(result, 'mine');
  assert.equal(settled[0]?.status, StatusCode.EXISTS);
  assert.deepEqual(slept, [50]);
});

test('a refusal the settle does not explain stands; a first refusal is never settled', async () => {
  const { options } = clock();
  const answers: Array<() => Promise<string>> = [async () => { throw lost(); }, async () => { throw exists(); }];
  await assert.rejects(mutateSettling(() => answers.shift()!(), async () => undefined, options), (error: AtollError) => error.status === StatusCode.EXISTS);
  let asked = 0;
  await assert.rejects(
    mutateSettling(async () => { throw exists(); }, async () => (asked++, 'never'), options),
    (error: AtollError) => error.status === StatusCode.EXISTS,
  );
  assert.equal(asked, 0, 'no unknown outcome, nothing to settle');
});

test('repeats while the outcome stays unknown or the cluster is unavailable, then gives the last error after retryMs', async () => {
  const { slept, options } = clock();
  let calls = 0;
  const result = await mutateSettling(async () => {
    calls += 1;
    if (calls === 1) throw lost();
    if (calls === 2) throw new AtollError(StatusCode.UNAVAILABLE, 'no leader', { retryAfterMs: 100 });
    if (calls === 3) throw lost();
    return 'done';
  }, async () => undefined, options);
  assert.equal(result, 'done');
  assert.deepEqual(slept, [50, 100, 200]);
  const bounded = clock();
  let tries = 0;
  await assert.rejects(mutateSettling(async () => { tries += 1; throw lost(); }, async () => undefined, bounded.options), (error: AtollError) => outcomeUnknown(error));
  assert.ok(bounded.slept.reduce((sum, ms) => sum + ms, 0) >= 5_000 && tries < 20, `${tries} tries, slept ${bounded.slept.join(',')}`);
});
