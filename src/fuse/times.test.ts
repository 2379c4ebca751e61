import { test } from 'node:test';
import assert from 'node:assert/strict';
import { msToNs, nsToMs, nsToTimeSpec, timeSpecToNs } from './times.js';

test('whole milliseconds convert exactly both ways, past 2^53 nanoseconds', () => {
  assert.equal(msToNs(1_700_000_000_123), 1_700_000_000_123_000_000n);
  assert.equal(nsToMs(1_500_000_000_250_000_000n), 1_500_000_000_250);
  assert.equal(msToNs(nsToMs(1_700_000_000_123_000_000n)), 1_700_000_000_123_000_000n);
  assert.equal(msToNs(0.5), 500_000n);
});

test('seconds and nanoseconds convert exactly; before 1970 is 1970', () => {
  assert.equal(timeSpecToNs({ sec: 2_000_000_000, nsec: 2 }), 2_000_000_000_000_000_002n);
  assert.deepEqual(nsToTimeSpec(2_000_000_000_000_000_002n), [2_000_000_000, 2]);
  assert.deepEqual(nsToTimeSpec(-5n), [0, 0]);
});
