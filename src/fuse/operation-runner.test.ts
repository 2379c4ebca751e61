import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { OperationRunner, type UnexpectedErrorReport } from './binding.js';
import { FuseError } from './errno.js';

const { errno } = constants;

function harness(timeoutMs = 0) {
  const reports: UnexpectedErrorReport[] = [];
  const answers: string[] = [];
  const runner = new OperationRunner(timeoutMs, (report) => reports.push(report));
  const run = <T>(work: () => T | Promise<T>, reply: (value: T) => void = (value) => answers.push(`ok ${String(value)}`)) =>
    runner.run('op', '/p', work, reply, (errnoNumber) => answers.push(`fail ${errnoNumber}`));
  return { reports, answers, run };
}

test('synchronous values and throws answer at once; expected errors are not reported', () => {
  const { reports, answers, run } = harness();
  run(() => 5);
  run(() => {
    throw new FuseError('ENOENT');
  });
  assert.deepEqual(answers, ['ok 5', `fail ${-errno.ENOENT}`]);
  assert.equal(reports.length, 0);
});

test('a bug becomes EIO and is reported; so does a reply that throws', async () => {
  const { reports, answers, run } = harness();
  run(() => Promise.reject(new TypeError('bug')));
  run(() => 1, () => {
    throw new Error('bad value');
  });
  await new Promise((resolvePromise) => setImmediate(resolvePromise));
  assert.deepEqual(answers.sort(), [`fail ${-errno.EIO}`, `fail ${-errno.EIO}`]);
  assert.equal(reports.length, 2);
});

test('an operation past its deadline answers ETIMEDOUT once; its late value is dropped', async () => {
  const { reports, answers, run } = harness(20);
  let finish!: (value: number) => void;
  run(() => new Promise<number>((resolvePromise) => (finish = resolvePromise)));
  const deadline = Date.now() + 5000;
  while (answers.length === 0 && Date.now() < deadline) await new Promise((resolvePromise) => setTimeout(resolvePromise, 5));
  finish(1);
  await new Promise((resolvePromise) => setImmediate(resolvePromise));
  assert.deepEqual(answers, [`fail ${-errno.ETIMEDOUT}`]);
  assert.equal(reports.length, 1);
});
