import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TtlCache } from './ttl-cache.js';

test('entries expire after the TTL and the oldest goes first past the bound', () => {
  let now = 1_000;
  const cache = new TtlCache<string, number>(100, 2, () => now);
  cache.set('a', 1);
  cache.set('b', 2);
  assert.equal(cache.get('a'), 1);
  cache.set('c', 3);
  assert.equal(cache.get('a'), undefined, 'evicted as the oldest');
  assert.equal(cache.size, 2);
  now += 99;
  assert.equal(cache.get('b'), 2);
  now += 1;
  assert.equal(cache.get('b'), undefined, 'expired');
  cache.set('c', 4);
  assert.equal(cache.get('c'), 4, 'a set replaces and restarts the TTL');
  cache.deleteWhere((key) => key === 'c');
  assert.equal(cache.get('c'), undefined);
});
