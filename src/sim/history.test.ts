import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistoryRecorder } from './history.js';
import { Scheduler } from './scheduler.js';
import { SimulatedClock } from './simulated-clock.js';

test('the recorder stamps invokes and responses in the order they happen, with clock readings for display', () => {
  const scheduler = new Scheduler();
  const recorder = new HistoryRecorder<string, number>({ clock: new SimulatedClock(scheduler) });
  const first = recorder.invoke('a', 'inc');
  const second = recorder.invoke('b', 'inc');
  scheduler.runFor(5);
  recorder.respond(second, 1);
  recorder.respond(first, 2);
  assert.deepEqual(recorder.operations(), [
    { id: 0, clientId: 'a', input: 'inc', invokeTime: 1, invokeTimeMs: 0, response: { time: 4, output: 2, timeMs: 5 } },
    { id: 1, clientId: 'b', input: 'inc', invokeTime: 2, invokeTimeMs: 0, response: { time: 3, output: 1, timeMs: 5 } },
  ]);
  assert.equal(recorder.pendingCount, 0);
});

test('a client has one outstanding operation until it hears back or abandons it', () => {
  const recorder = new HistoryRecorder<string, number>();
  const first = recorder.invoke(1, 'x');
  assert.throws(() => recorder.invoke(1, 'y'), /outstanding/);
  recorder.abandon(first);
  const second = recorder.invoke(1, 'y');
  assert.throws(() => recorder.respond(first, 0), /already has a response or was abandoned/);
  recorder.respond(second, 0);
  assert.throws(() => recorder.respond(second, 0), /already has a response/);
  assert.throws(() => recorder.respond(7, 0), /unknown operation 7/);
  assert.equal(recorder.pendingCount, 1);
  assert.equal(recorder.operations()[0].response, undefined);
});

test('the recorder refuses more operations than its bound', () => {
  const recorder = new HistoryRecorder<string, number>({ operationsMax: 2 });
  recorder.respond(recorder.invoke(1, 'x'), 0);
  recorder.respond(recorder.invoke(1, 'x'), 0);
  assert.throws(() => recorder.invoke(1, 'x'), /operationsMax/);
});
