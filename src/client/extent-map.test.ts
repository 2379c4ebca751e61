import { test } from 'node:test';
import assert from 'node:assert/strict';
import { segmentsOf, storedEnd } from './extent-map.js';

const key = (fileOffset: number, size: number, extentId: number) => ({ partitionId: 1, extentId, extentOffset: 0, size, fileOffset });

test('a range is cut into stored pieces and holes', () => {
  const keys = [key(0, 10, 1), key(20, 10, 2)];
  const shape = (start: number, end: number) => segmentsOf(keys, start, end).map((segment) => [segment.from, segment.to, segment.key?.extentId ?? 0]);
  assert.deepEqual(shape(0, 40), [[0, 10, 1], [10, 20, 0], [20, 30, 2], [30, 40, 0]]);
  assert.deepEqual(shape(5, 25), [[5, 10, 1], [10, 20, 0], [20, 25, 2]]);
  assert.deepEqual(shape(12, 18), [[12, 18, 0]]);
  assert.deepEqual(shape(30, 31), [[30, 31, 0]]);
  assert.deepEqual(shape(3, 3), []);
  assert.deepEqual(segmentsOf([], 0, 5).map((segment) => [segment.from, segment.to, segment.key]), [[0, 5, null]]);
  assert.equal(storedEnd(keys), 30);
  assert.equal(storedEnd([]), 0);
});
