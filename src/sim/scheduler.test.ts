import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionFailure } from '../errors/assert.js';
import { createRandom } from '../random/index.js';
import { Scheduler } from './scheduler.js';
import type { EventId } from './scheduler.js';

test('events run in time order, and events due at the same time in scheduling order', () => {
  const scheduler = new Scheduler();
  const ran: string[] = [];
  scheduler.schedule(10, () => ran.push('c@10'));
  scheduler.schedule(5, () => ran.push('a@5'));
  scheduler.schedule(5, () => ran.push('b@5'));
  scheduler.schedule(0, () => ran.push('z@0'));
  const result = scheduler.runUntil(() => false);
  assert.deepEqual(ran, ['z@0', 'a@5', 'b@5', 'c@10']);
  assert.deepEqual(result, { stoppedBy: 'idle', eventsRun: 4, nowMs: 10 });
});

test('an event scheduled by an event at delay 0 runs after the events already due then', () => {
  const scheduler = new Scheduler();
  const ran: string[] = [];
  scheduler.schedule(1, () => {
    ran.push('first');
    scheduler.schedule(0, () => ran.push('child'));
  });
  scheduler.schedule(1, () => ran.push('second'));
  scheduler.runUntil(() => false);
  assert.deepEqual(ran, ['first', 'second', 'child']);
});

test('time jumps to each event and step reports when nothing is left', () => {
  const scheduler = new Scheduler();
  const times: number[] = [];
  scheduler.schedule(7, () => times.push(scheduler.now()));
  scheduler.schedule(3, () => times.push(scheduler.now()));
  assert.equal(scheduler.nextEventTimeMs(), 3);
  assert.equal(scheduler.step(), true);
  assert.equal(scheduler.step(), true);
  assert.equal(scheduler.step(), false);
  assert.deepEqual(times, [3, 7]);
  assert.equal(scheduler.now(), 7);
  assert.equal(scheduler.eventsRun, 2);
});

test('a cancelled event never runs, and cancelling twice or after running returns false', () => {
  const scheduler = new Scheduler();
  const ran: number[] = [];
  const ids: EventId[] = [];
  for (let index = 0; index < 10; index++) ids.push(scheduler.schedule(index, () => ran.push(index)));
  assert.equal(scheduler.cancel(ids[3]), true);
  assert.equal(scheduler.cancel(ids[3]), false);
  assert.equal(scheduler.cancel(ids[0]), true);
  assert.equal(scheduler.cancel(ids[9]), true);
  assert.equal(scheduler.pendingCount, 7);
  scheduler.step();
  assert.equal(scheduler.cancel(ids[1]), false, 'already ran');
  scheduler.runUntil(() => false);
  assert.deepEqual(ran, [1, 2, 4, 5, 6, 7, 8]);
});

test('cancelling at random keeps the queue in order (heap removal from any slot)', () => {
  const random = createRandom(5);
  const scheduler = new Scheduler();
  const expected: [number, number][] = [];
  const ran: [number, number][] = [];
  const ids = new Map<number, EventId>();
  for (let index = 0; index < 2000; index++) {
    const delay = random.nextInt(100);
    ids.set(index, scheduler.schedule(delay, () => ran.push([delay, index])));
    expected.push([delay, index]);
  }
  const cancelled = new Set<number>();
  for (let count = 0; count < 700; count++) {
    const index = random.nextInt(2000);
    if (scheduler.cancel(ids.get(index)!)) cancelled.add(index);
  }
  scheduler.runUntil(() => false);
  const wanted = expected.filter(([, index]) => !cancelled.has(index)).sort((left, right) => left[0] - right[0] || left[1] - right[1]);
  assert.deepEqual(ran, wanted);
});

test('runUntil a time runs the events due by then and leaves time at exactly that time', () => {
  const scheduler = new Scheduler();
  const ran: number[] = [];
  for (const delay of [5, 10, 15]) scheduler.schedule(delay, () => ran.push(delay));
  assert.deepEqual(scheduler.runUntil(10), { stoppedBy: 'time', eventsRun: 2, nowMs: 10 });
  assert.deepEqual(ran, [5, 10]);
  assert.deepEqual(scheduler.runFor(2), { stoppedBy: 'time', eventsRun: 0, nowMs: 12 });
  assert.deepEqual(scheduler.runFor(100), { stoppedBy: 'time', eventsRun: 1, nowMs: 112 });
  assert.equal(scheduler.now(), 112, 'time passes even with nothing to run');
});

test('runUntil a predicate stops as soon as it holds, and the event budget bounds a run', () => {
  const scheduler = new Scheduler();
  let count = 0;
  const tick = (): void => {
    count++;
    scheduler.schedule(1, tick);
  };
  scheduler.schedule(1, tick);
  assert.deepEqual(scheduler.runUntil(() => count === 5), { stoppedBy: 'condition', eventsRun: 5, nowMs: 5 });
  assert.deepEqual(scheduler.runUntil(() => false, 100), { stoppedBy: 'eventsMax', eventsRun: 100, nowMs: 105 });
});

test('the scheduler refuses the past, bad delays, nested steps and a queue past its bound', () => {
  const scheduler = new Scheduler({ eventsPendingMax: 3 });
  assert.throws(() => scheduler.schedule(-1, () => {}), AssertionFailure);
  assert.throws(() => scheduler.schedule(Number.NaN, () => {}), AssertionFailure);
  assert.throws(() => scheduler.schedule(Infinity, () => {}), AssertionFailure);
  scheduler.runFor(10);
  assert.throws(() => scheduler.scheduleAt(9, () => {}), /before now/);
  assert.throws(() => scheduler.runUntil(5), /before now/);
  scheduler.schedule(1, () => scheduler.step());
  assert.throws(() => scheduler.step(), /called from inside an event/);
  for (let index = 0; index < 3; index++) scheduler.schedule(1, () => {});
  assert.throws(() => scheduler.schedule(1, () => {}), /eventsPendingMax/);
  assert.throws(() => new Scheduler({ settleQuietTurns: 10, settleTurnsMax: 10 }), RangeError);
  assert.throws(() => new Scheduler({ runEventsMax: 0 }), /runEventsMax/);
});

test('an event observer sees every event with its time and label before it runs', () => {
  const seen: string[] = [];
  const scheduler = new Scheduler({ onEvent: (notice) => seen.push(`${notice.timeMs}:${notice.label}`) });
  scheduler.schedule(2, () => seen.push('ran'), 'tick');
  scheduler.schedule(1, () => {});
  scheduler.runUntil(() => false);
  assert.deepEqual(seen, ['1:', '2:tick', 'ran']);
});

// ---- async code under test ----

/** A promise that an event resolves: what a simulated disk or network hands out. */
function resolveAfter<T>(scheduler: Scheduler, delayMs: number, value: T): Promise<T> {
  return new Promise((resolve) => scheduler.schedule(delayMs, () => resolve(value)));
}

test('an async continuation runs at the virtual time of the event that resolved its promise', async () => {
  const scheduler = new Scheduler();
  const seen: string[] = [];
  scheduler.spawn('writer', async () => {
    await resolveAfter(scheduler, 5, 'write');
    seen.push(`write done at ${scheduler.now()}`);
    await resolveAfter(scheduler, 3, 'fsync');
    seen.push(`fsync done at ${scheduler.now()}`);
  });
  // Due at the same time as the fsync completion but scheduled earlier, so it runs first;
  // then one just after.
  scheduler.schedule(8, () => seen.push(`other event at ${scheduler.now()}`));
  scheduler.schedule(9, () => seen.push(`later event at ${scheduler.now()}`));
  const result = await scheduler.runUntilAsync(() => false);
  assert.equal(result.stoppedBy, 'idle');
  assert.deepEqual(seen, ['write done at 5', 'other event at 8', 'fsync done at 8', 'later event at 9']);
  assert.equal(scheduler.unfinishedTaskCount, 0);
});

test('a chain of 20 nested async calls between two touches of the world settles within its event', async () => {
  const scheduler = new Scheduler();
  async function nested(depth: number): Promise<number> {
    if (depth === 0) return scheduler.now();
    // Each level awaits a promise and returns one: several microtask hops per level.
    await Promise.resolve();
    return nested(depth - 1);
  }
  let observedMs: number | undefined;
  scheduler.spawn('deep', async () => {
    await resolveAfter(scheduler, 4, undefined);
    observedMs = await nested(20);
  });
  scheduler.schedule(5, () => {});
  await scheduler.runUntilAsync(() => false);
  assert.equal(observedMs, 4);
});

test('settle returns after the quiet turns when nothing is pending, and stepAsync runs one event', async () => {
  const scheduler = new Scheduler({ settleQuietTurns: 4 });
  assert.equal(await scheduler.settle(), 4);
  const ran: number[] = [];
  scheduler.schedule(3, () => ran.push(scheduler.now()));
  assert.equal(await scheduler.stepAsync(), true);
  assert.equal(await scheduler.stepAsync(), false);
  assert.deepEqual(ran, [3]);
  assert.deepEqual(await scheduler.runForAsync(10), { stoppedBy: 'time', eventsRun: 0, nowMs: 13 });
});

test('code that busy-waits on the virtual clock fails the run instead of hanging it', async () => {
  const scheduler = new Scheduler({ settleTurnsMax: 1000 });
  scheduler.spawn('spinner', async () => {
    const deadline = scheduler.now() + 10;
    for (let spin = 0; spin < 10_000 && scheduler.now() < deadline; spin++) await Promise.resolve();
  });
  await assert.rejects(scheduler.runForAsync(50), /do not settle after 1000 turns/);
});

test('a spawned task that throws fails the async run with its label and virtual time', async () => {
  const scheduler = new Scheduler();
  scheduler.spawn('client 3', async () => {
    await resolveAfter(scheduler, 12, undefined);
    throw new Error('stale read');
  });
  scheduler.schedule(20, () => {});
  await assert.rejects(scheduler.runUntilAsync(() => false), (error: Error) => {
    assert.match(error.message, /task "client 3" failed at 12 ms: Error: stale read/);
    assert.equal((error.cause as Error).message, 'stale read');
    return true;
  });
  assert.equal(scheduler.now(), 12, 'the run stops at the event after which the task failed');
});

test('the scheduler cannot be stepped by code under test while an async run drives it', async () => {
  const scheduler = new Scheduler();
  scheduler.spawn('meddler', async () => {
    await resolveAfter(scheduler, 1, undefined);
    scheduler.step();
  });
  await assert.rejects(scheduler.runUntilAsync(() => false), /step called while an async run drives the scheduler/);
});

test('an async run of interleaved tasks replays exactly', async () => {
  async function run(seed: number): Promise<string[]> {
    const scheduler = new Scheduler();
    const random = createRandom(seed);
    const log: string[] = [];
    for (let task = 0; task < 5; task++) {
      scheduler.spawn(`task ${task}`, async () => {
        for (let round = 0; round < 20; round++) {
          await resolveAfter(scheduler, random.nextInt(4), undefined);
          log.push(`${scheduler.now()}:${task}.${round}`);
        }
      });
    }
    await scheduler.runUntilAsync(() => scheduler.unfinishedTaskCount === 0);
    return log;
  }
  const first = await run(11);
  assert.equal(first.length, 100);
  assert.deepEqual(await run(11), first);
  assert.notDeepEqual(await run(12), first);
});
