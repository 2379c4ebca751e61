import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadBufferPool } from './read-buffer-pool.js';

test('a buffer given back is handed out again; a large request gets its own; the pool keeps at most buffersMax', () => {
  const pool = new ReadBufferPool(1024, 2);
  const first = pool.take(1000);
  assert.equal(first.byteLength, 1024);
  pool.give(first);
  assert.equal(pool.take(10), first, 'used again');
  const large = pool.take(5000);
  assert.equal(large.byteLength, 5000);
  pool.give(large);
  assert.equal(pool.freeCount, 0, 'a buffer of another size is not kept');
  const [a, b, c] = [pool.take(1), pool.take(1), pool.take(1)];
  pool.give(a);
  pool.give(b);
  pool.give(c);
  assert.equal(pool.freeCount, 2);
});

test('giving a buffer back twice is a bug the pool refuses', () => {
  const pool = new ReadBufferPool(64, 4);
  const buffer = pool.take(64);
  pool.give(buffer);
  assert.throws(() => pool.give(buffer), /given back twice/);
});
