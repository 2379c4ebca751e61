import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogShape } from './log-shape.js';
import { entriesFrom } from './testing/wal-suite.js';

test('the log shape knows the term of every index across runs and truncations', () => {
  const shape = new LogShape();
  shape.append(entriesFrom(1, 5, 1));
  shape.append(entriesFrom(6, 3, 2));
  shape.append(entriesFrom(4, 2, 3));
  assert.equal(shape.lastIndex, 5);
  assert.deepEqual([0, 1, 3, 4, 5, 6].map((index) => shape.termAt(index)), [0, 1, 1, 3, 3, undefined]);
  assert.throws(() => shape.append(entriesFrom(7, 1, 3)), /gap/);
});

test('a snapshot mark the log holds keeps the entries above it; any other replaces the log', () => {
  const shape = new LogShape();
  shape.append(entriesFrom(1, 4, 1));
  shape.append(entriesFrom(5, 4, 2));
  assert.equal(shape.markSnapshot(5, 2), true);
  assert.deepEqual([4, 5, 6, 8].map((index) => shape.termAt(index)), [undefined, 2, 2, 2]);
  assert.equal(shape.lastIndex, 8);
  assert.equal(shape.markSnapshot(7, 3), false);
  assert.equal(shape.lastIndex, 7);
  assert.equal(shape.termAt(8), undefined);
  assert.equal(shape.markSnapshot(7, 3), true, 'the same mark again changes nothing');
  assert.throws(() => shape.markSnapshot(6, 3), /below the current snapshot/);
  // Appends at or below the snapshot are ignored; the first above replaces from there.
  shape.append(entriesFrom(6, 4, 4));
  assert.deepEqual([7, 8, 9].map((index) => shape.termAt(index)), [3, 4, 4]);
});
