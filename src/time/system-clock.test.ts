import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SystemTimers, systemClock } from './index.js';

const deadlineMs = 5_000;

/** Resolves when `condition` holds; fails after the deadline (no fixed sleeps). */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const start = systemClock.nowMs();
  while (!condition()) {
    assert.ok(systemClock.nowMs() - start < deadlineMs, `waited ${deadlineMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

test('the system clock never goes backwards', () => {
  let previous = systemClock.nowMs();
  for (let reading = 0; reading < 1000; reading++) {
    const now = systemClock.nowMs();
    assert.ok(now >= previous);
    previous = now;
  }
});

test('a system timer fires once after its delay and is then no longer armed', async () => {
  const timers = new SystemTimers();
  const start = systemClock.nowMs();
  let firedAtMs: number | undefined;
  timers.setTimer(20, () => {
    firedAtMs = systemClock.nowMs();
  });
  assert.equal(timers.armedCount, 1);
  await waitFor(() => firedAtMs !== undefined, 'the timer');
  assert.ok(firedAtMs! - start >= 19, `fired after ${firedAtMs! - start} ms`);
  assert.equal(timers.armedCount, 0);
});

test('a cleared system timer never fires, and clearing twice is harmless', async () => {
  const timers = new SystemTimers();
  let clearedFired = false;
  let laterFired = false;
  const handle = timers.setTimer(1, () => {
    clearedFired = true;
  });
  timers.clearTimer(handle);
  timers.clearTimer(handle);
  timers.setTimer(10, () => {
    laterFired = true;
  });
  await waitFor(() => laterFired, 'the later timer');
  assert.equal(clearedFired, false);
  assert.equal(timers.armedCount, 0);
});

test('clearAll disarms every system timer', () => {
  const timers = new SystemTimers({ unref: true });
  for (let index = 0; index < 3; index++) timers.setTimer(60_000, () => assert.fail('fired after clearAll'));
  assert.equal(timers.armedCount, 3);
  timers.clearAll();
  assert.equal(timers.armedCount, 0);
});

test('a negative or non-finite delay is refused', () => {
  const timers = new SystemTimers();
  assert.throws(() => timers.setTimer(-1, () => {}), /delayMs must be finite/);
  assert.throws(() => timers.setTimer(Number.NaN, () => {}), /delayMs must be finite/);
});
