import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RepairThrottle } from './repair-throttle.js';
import { buildDataNodeLimits } from './limits.js';

test('copies are spaced to the rate; idle time is not saved up as a burst', () => {
  let now = 1000;
  const throttle = new RepairThrottle(1000, () => now);
  assert.equal(throttle.reserve(500), 0);
  assert.equal(throttle.reserve(500), 500);
  assert.equal(throttle.reserve(1000), 1000);
  now = 10_000;
  assert.equal(throttle.reserve(100), 0);
  assert.equal(throttle.reserve(100), 100);
});

test('datanode limits refuse values that do not fit together', () => {
  assert.throws(() => buildDataNodeLimits({ packetBytesMax: 256 * 1024 }), /packetBytesMax/);
  assert.throws(() => buildDataNodeLimits({ repairBytesPerSecondMax: 1000 }), /repairBytesPerSecondMax/);
  assert.throws(() => buildDataNodeLimits({ forwardDeadlineMs: 0 }), /forwardDeadlineMs/);
  assert.equal(buildDataNodeLimits().packetBytesMax, 128 * 1024);
});
