import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Trace, formatTrace } from './trace.js';

test('a trace keeps events in order until full, then only the newest, counting the rest', () => {
  const trace = new Trace(3);
  for (let index = 0; index < 5; index++) trace.record({ timeMs: index, kind: 'step', detail: index });
  assert.equal(trace.recordedCount, 5);
  assert.equal(trace.overwrittenCount, 2);
  assert.deepEqual(trace.entries().map((entry) => [entry.sequence, entry.detail]), [[2, 2], [3, 3], [4, 4]]);
  trace.clear();
  assert.deepEqual(trace.entries(), []);
  assert.equal(trace.recordedCount, 0);
});

test('formatTrace prints a header, what was left out, and one line per event', () => {
  const trace = new Trace(10);
  trace.record({ timeMs: 0, kind: 'run.start' });
  trace.record({ timeMs: 1.5, kind: 'network.deliver', node: 2, detail: { from: 1, type: 'Append', term: 3n, data: new Uint8Array(4) } });
  trace.record({ timeMs: 12, kind: 'client.respond', node: 'c1', detail: 'get("x") -> "a"' });
  assert.equal(
    formatTrace(trace, { header: ['seed 42: replay with ATOLL_SIM_SEED=42'] }),
    [
      'seed 42: replay with ATOLL_SIM_SEED=42',
      '#0 0.000ms - run.start',
      '#1 1.500ms n2 network.deliver {"from":1,"type":"Append","term":"3n","data":"<4 bytes>"}',
      '#2 12.000ms nc1 client.respond get("x") -> "a"',
    ].join('\n'),
  );
  assert.equal(formatTrace(trace, { lastEventsMax: 1 }), ['... 2 earlier events not shown', '#2 12.000ms nc1 client.respond get("x") -> "a"'].join('\n'));
});

test('a trace refuses a bad capacity and a non-finite time', () => {
  assert.throws(() => new Trace(0), /capacity/);
  assert.throws(() => new Trace(5).record({ timeMs: Number.NaN, kind: 'x' }), /timeMs/);
});
