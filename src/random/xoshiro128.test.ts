import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Xoshiro128StarStar, createRandom } from './index.js';

test('xoshiro128** from state [1, 2, 3, 4] gives the reference outputs', () => {
  const random = Xoshiro128StarStar.fromState([1, 2, 3, 4]);
  const outputs = Array.from({ length: 6 }, () => random.nextUint32());
  assert.deepEqual(outputs, [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
});

test('the same seed replays the same stream and another seed does not', () => {
  const first = createRandom(42);
  const second = createRandom(42);
  const other = createRandom(43);
  const firstValues = Array.from({ length: 100 }, () => first.nextUint32());
  const secondValues = Array.from({ length: 100 }, () => second.nextUint32());
  const otherValues = Array.from({ length: 100 }, () => other.nextUint32());
  assert.deepEqual(firstValues, secondValues);
  assert.notDeepEqual(firstValues, otherValues);
});

test('nextInt stays in range and reaches every value of a small range about equally', () => {
  const random = createRandom(7);
  const counts = new Array<number>(10).fill(0);
  for (let draw = 0; draw < 100_000; draw++) {
    const value = random.nextInt(10);
    assert.ok(Number.isInteger(value) && value >= 0 && value < 10);
    counts[value]++;
  }
  for (const count of counts) assert.ok(count > 9_000 && count < 11_000, `count ${count}`);
});

test('nextInt accepts the full 2^32 range and refuses ranges it cannot serve', () => {
  const random = createRandom(1);
  const value = random.nextInt(2 ** 32);
  assert.ok(value >= 0 && value < 2 ** 32);
  assert.equal(random.nextInt(1), 0);
  assert.throws(() => random.nextInt(0), RangeError);
  assert.throws(() => random.nextInt(2 ** 32 + 1), RangeError);
  assert.throws(() => random.nextInt(1.5), RangeError);
});

test('nextFloat stays in [0, 1) and averages about one half', () => {
  const random = createRandom(99);
  let sum = 0;
  for (let draw = 0; draw < 10_000; draw++) {
    const value = random.nextFloat();
    assert.ok(value >= 0 && value < 1);
    sum += value;
  }
  assert.ok(Math.abs(sum / 10_000 - 0.5) < 0.02);
});

test('seed zero still gives a non-degenerate stream', () => {
  const random = createRandom(0);
  const values = new Set(Array.from({ length: 10 }, () => random.nextUint32()));
  assert.equal(values.size, 10);
});
