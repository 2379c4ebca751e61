import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, Timers } from '../time/index.js';
import { Scheduler } from './scheduler.js';
import { SimulatedClock } from './simulated-clock.js';

test('a simulated clock reads virtual time through its offset and rate', () => {
  const scheduler = new Scheduler();
  const plain = new SimulatedClock(scheduler);
  const skewed = new SimulatedClock(scheduler, { offsetMs: 1000, rate: 1.01 });
  scheduler.runFor(200);
  assert.equal(plain.nowMs(), 200);
  assert.equal(skewed.nowMs(), 1000 + 200 * 1.01);
});

test('timers fire after their delay on the clock that armed them, so a fast clock fires early', () => {
  const scheduler = new Scheduler();
  const plain = new SimulatedClock(scheduler);
  const fast = new SimulatedClock(scheduler, { rate: 1.25 });
  const fired: string[] = [];
  plain.setTimer(100, () => fired.push(`plain at ${scheduler.now()}`));
  fast.setTimer(100, () => fired.push(`fast at ${scheduler.now()}, local ${fast.nowMs()}`));
  scheduler.runUntil(() => false);
  assert.deepEqual(fired, ['fast at 80, local 100', 'plain at 100']);
  assert.equal(plain.armedCount + fast.armedCount, 0);
});

test('a cleared timer never fires and clearing is idempotent', () => {
  const scheduler = new Scheduler();
  const clock = new SimulatedClock(scheduler);
  let fired = 0;
  const handle = clock.setTimer(5, () => fired++);
  clock.setTimer(6, () => fired++);
  clock.clearTimer(handle);
  clock.clearTimer(handle);
  scheduler.runUntil(() => false);
  assert.equal(fired, 1);
});

test('clearAll takes down every timer of one clock only (a crashed node)', () => {
  const scheduler = new Scheduler();
  const crashed = new SimulatedClock(scheduler);
  const survivor = new SimulatedClock(scheduler);
  const fired: string[] = [];
  for (let index = 1; index <= 3; index++) crashed.setTimer(index, () => fired.push('crashed'));
  survivor.setTimer(2, () => fired.push('survivor'));
  assert.equal(crashed.clearAll(), 3);
  scheduler.runUntil(() => false);
  assert.deepEqual(fired, ['survivor']);
});

test('production code written against Clock and Timers runs on the simulated clock', () => {
  // A heartbeat loop as a host would write it, knowing only the interfaces.
  function startHeartbeats(clock: Clock, timers: Timers, intervalMs: number, beats: number[]): () => void {
    let handle = timers.setTimer(intervalMs, function beat() {
      beats.push(clock.nowMs());
      handle = timers.setTimer(intervalMs, beat);
    });
    return () => timers.clearTimer(handle);
  }
  const scheduler = new Scheduler();
  const clock = new SimulatedClock(scheduler);
  const beats: number[] = [];
  const stop = startHeartbeats(clock, clock, 50, beats);
  scheduler.runFor(220);
  stop();
  scheduler.runFor(1000);
  assert.deepEqual(beats, [50, 100, 150, 200]);
  assert.equal(scheduler.pendingCount, 0);
});

test('a simulated clock refuses a broken rate and bad delays', () => {
  const scheduler = new Scheduler();
  assert.throws(() => new SimulatedClock(scheduler, { rate: 3 }), /rate must be in/);
  assert.throws(() => new SimulatedClock(scheduler, { offsetMs: Infinity }), /offsetMs/);
  assert.throws(() => new SimulatedClock(scheduler).setTimer(-5, () => {}), /delayMs/);
});
