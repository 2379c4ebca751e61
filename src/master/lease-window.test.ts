import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseWindow, leaseSafetyMarginMs } from './lease-window.js';

function fakeClock(start = 0) {
  const clock = { now: start, nowMs: () => clock.now };
  return clock;
}

test('the margin is a quarter of the TTL, at least 500 ms', () => {
  assert.equal(leaseSafetyMarginMs(5_000), 1_250);
  assert.equal(leaseSafetyMarginMs(2_000), 500);
  assert.equal(leaseSafetyMarginMs(60_000), 15_000);
});

test('the window closes at send time + TTL - margin, measured from the send, not the answer', () => {
  const clock = fakeClock(1_000);
  const window = new LeaseWindow(clock);
  assert.equal(window.open(), false, 'closed before any grant');
  window.renewed(1_000, 4);
  clock.now = 3_999;
  assert.equal(window.open(), true);
  assert.equal(window.remainingMs(), 1);
  clock.now = 4_000;
  assert.equal(window.open(), false, 'closed at 1000 + 4000 - 1000');
  // A keep-alive sent at 3500 whose answer came at 4500 (slow etcd): open until 6500.
  clock.now = 4_500;
  window.renewed(3_500, 4);
  assert.equal(window.open(), true);
  clock.now = 6_500;
  assert.equal(window.open(), false);
});

test('a late answer to an older keep-alive does not shorten the window; close does', () => {
  const clock = fakeClock();
  const window = new LeaseWindow(clock);
  window.renewed(2_000, 3);
  window.renewed(1_000, 3);
  clock.now = 4_000;
  assert.equal(window.open(), true, 'still 2000 + 3000 - 750');
  window.close();
  assert.equal(window.open(), false);
  assert.equal(window.remainingMs(), 0);
});
