import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildWalLimits, walLimitsDefault } from './limits.js';

test('the default wal limits are consistent', () => {
  assert.deepEqual(buildWalLimits(), walLimitsDefault);
});

test('wal limits that contradict each other are refused, naming the limit', () => {
  assert.throws(() => buildWalLimits({ segmentBytesMax: 0 }), /segmentBytesMax must be a safe integer >= 1/);
  assert.throws(() => buildWalLimits({ preallocationBytes: -1 }), /preallocationBytes must be a safe integer >= 0/);
  assert.equal(buildWalLimits({ preallocationBytes: 0 }).preallocationBytes, 0, '0 turns preallocation off');
  assert.throws(() => buildWalLimits({ recordBytesMax: 10 }), /recordBytesMax must hold a record header/);
  assert.throws(() => buildWalLimits({ recordBytesMax: 16 * 1024 * 1024 }), /recordBytesMax plus the frame header must fit in syncBatchBytesMax/);
  assert.throws(() => buildWalLimits({ segmentBytesMax: 1024 * 1024 }), /syncBatchBytesMax must not exceed segmentBytesMax/);
  assert.throws(() => buildWalLimits({ bufferedBytesMax: 1024 }), /bufferedBytesMax must be at least syncBatchBytesMax/);
  assert.throws(() => buildWalLimits({ segmentBytesMax: 2 ** 33, syncBatchBytesMax: 2 ** 32, bufferedBytesMax: 2 ** 33 }), /u32 frame length/);
});
