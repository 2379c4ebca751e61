import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Random } from '../random/index.js';
import { RandomStreams, deriveSeed } from './random-streams.js';

function draws(random: Random, count = 8): number[] {
  return Array.from({ length: count }, () => random.nextUint32());
}

test('one seed and purpose always give the same stream, other purposes or seeds another', () => {
  assert.deepEqual(draws(new RandomStreams(42).stream('network')), draws(new RandomStreams(42).stream('network')));
  assert.notDeepEqual(draws(new RandomStreams(42).stream('network')), draws(new RandomStreams(42).stream('disk')));
  assert.notDeepEqual(draws(new RandomStreams(42).stream('network')), draws(new RandomStreams(43).stream('network')));
});

test('drawing from one stream does not shift another', () => {
  const quiet = new RandomStreams(7);
  const busy = new RandomStreams(7);
  draws(busy.stream('client 1'), 1000);
  assert.deepEqual(draws(busy.stream('network')), draws(quiet.stream('network')));
});

test('the stream of a purpose is one object, so its draws continue', () => {
  const streams = new RandomStreams(1);
  assert.equal(streams.stream('a'), streams.stream('a'));
});

test('derived seeds are 32-bit, use the high bits of large seeds, and refuse bad seeds', () => {
  const seeds = new Set<number>();
  for (let seed = 0; seed < 1000; seed++) {
    const derived = deriveSeed(seed, 'network');
    assert.ok(Number.isInteger(derived) && derived >= 0 && derived < 2 ** 32);
    seeds.add(derived);
  }
  assert.equal(seeds.size, 1000);
  assert.notEqual(deriveSeed(2 ** 40 + 5, 'x'), deriveSeed(5, 'x'));
  assert.throws(() => deriveSeed(-1, 'x'), /rootSeed/);
  assert.throws(() => new RandomStreams(1.5), /rootSeed/);
});
