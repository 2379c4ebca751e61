import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../random/index.js';
import { checkFaultProfile, faultProfileCalm, randomFaultProfile } from './fault-profile.js';
import type { FaultProfile } from './fault-profile.js';
import { SimulatedNetwork } from './network.js';
import type { NetworkCounters, NetworkEvent } from './network.js';
import { Scheduler } from './scheduler.js';

interface Arrival {
  readonly from: number;
  readonly to: number;
  readonly message: string;
  readonly atMs: number;
}

function setUp(faults: FaultProfile = faultProfileCalm, nodes = [1, 2, 3], seed = 1, inFlightMessagesMax?: number) {
  const scheduler = new Scheduler();
  const events: NetworkEvent<string, number>[] = [];
  const network = new SimulatedNetwork<string>({ scheduler, random: createRandom(seed), faults, inFlightMessagesMax, observe: (event) => events.push(event) });
  const arrivals: Arrival[] = [];
  const handlerOf = (to: number) => (from: number, message: string) => arrivals.push({ from, to, message, atMs: scheduler.now() });
  for (const node of nodes) network.register(node, handlerOf(node));
  return { scheduler, network, arrivals, events, handlerOf };
}

function totalDropped(counters: NetworkCounters): number {
  return counters.droppedByLoss + counters.droppedByPartition + counters.droppedByCrash + counters.droppedByOverflow;
}

function assertBalanced(counters: NetworkCounters): void {
  assert.equal(counters.sent + counters.duplicated, counters.delivered + totalDropped(counters) + counters.inFlight, JSON.stringify(counters));
}

const lossy: FaultProfile = { delayMinMs: 1, delayMaxMs: 20, lossProbability: 0.2, duplicationProbability: 0.1, reorderProbability: 0.1, reorderDelayMaxMs: 100 };

test('a calm network delivers every message once, after a delay within the profile', () => {
  const { scheduler, network, arrivals } = setUp({ ...faultProfileCalm, delayMinMs: 3, delayMaxMs: 7 });
  for (let index = 0; index < 200; index++) network.send(1, 2, `m${index}`);
  scheduler.runUntil(() => false);
  assert.equal(arrivals.length, 200);
  assert.deepEqual(new Set(arrivals.map((arrival) => arrival.message)).size, 200);
  for (const arrival of arrivals) assert.ok(arrival.atMs >= 3 && arrival.atMs <= 7, `arrived at ${arrival.atMs}`);
  const order = arrivals.map((arrival) => Number(arrival.message.slice(1)));
  assert.notDeepEqual(order, [...order].sort((left, right) => left - right), 'random delays reorder');
  assert.deepEqual(network.counters(), { sent: 200, duplicated: 0, delivered: 200, droppedByLoss: 0, droppedByPartition: 0, droppedByCrash: 0, droppedByOverflow: 0, inFlight: 0 });
});

test('loss, duplication and held-back messages happen at about their probabilities, and the counters balance', () => {
  const { scheduler, network, arrivals } = setUp(lossy);
  const count = 20_000;
  for (let index = 0; index < count; index++) network.send(1 + (index % 3), 1 + ((index + 1) % 3), `m${index}`);
  scheduler.runUntil(() => false);
  const counters = network.counters();
  assertBalanced(counters);
  assert.ok(Math.abs(counters.droppedByLoss / count - 0.2) < 0.02, `loss ${counters.droppedByLoss}`);
  assert.ok(Math.abs(counters.duplicated / (count - counters.droppedByLoss) - 0.1) < 0.02, `duplicated ${counters.duplicated}`);
  assert.equal(arrivals.length, counters.delivered);
  const late = arrivals.filter((arrival) => arrival.atMs > 20).length;
  assert.ok(late > 0.05 * arrivals.length && late < 0.15 * arrivals.length, `held back ${late} of ${arrivals.length}`);
});

test('a partition drops traffic across it both ways, at send and on arrival, until healed', () => {
  const { scheduler, network, arrivals } = setUp({ ...faultProfileCalm, delayMinMs: 10, delayMaxMs: 10 });
  network.send(1, 3, 'in flight when cut');
  scheduler.runFor(5);
  network.partition([1, 2], [3]);
  network.send(3, 1, 'across');
  network.send(2, 3, 'across too');
  network.send(1, 2, 'same side');
  scheduler.runFor(20);
  assert.deepEqual(arrivals.map((arrival) => arrival.message), ['same side']);
  assert.equal(network.counters().droppedByPartition, 3);
  network.heal();
  network.send(3, 1, 'after heal');
  scheduler.runUntil(() => false);
  assert.deepEqual(arrivals.map((arrival) => arrival.message), ['same side', 'after heal']);
  assertBalanced(network.counters());
});

test('a cut link blocks one direction only; isolation blocks a node from everyone, even nodes added later', () => {
  const { scheduler, network, arrivals, handlerOf } = setUp();
  network.cutLink(1, 2);
  network.send(1, 2, 'blocked');
  network.send(2, 1, 'open');
  network.isolate(3);
  network.register(4, handlerOf(4));
  network.send(3, 4, 'from isolated');
  network.send(4, 3, 'to isolated');
  network.send(3, 3, 'to itself');
  scheduler.runUntil(() => false);
  assert.deepEqual(arrivals.map((arrival) => arrival.message).sort(), ['open', 'to itself']);
  assert.equal(network.isBlocked(1, 2), true);
  assert.equal(network.isBlocked(2, 1), false);
});

test('a crash drops what is in flight to the node, keeps what it sent, and a restart gets only new messages', () => {
  const { scheduler, network, arrivals, handlerOf } = setUp({ ...faultProfileCalm, delayMinMs: 10, delayMaxMs: 10 });
  network.send(1, 2, 'to the crashed node');
  network.send(2, 1, 'from the crashed node');
  scheduler.runFor(5);
  assert.equal(network.crash(2), 1);
  assert.equal(network.isUp(2), false);
  network.send(1, 2, 'while down');
  network.send(2, 3, 'sent by a dead process');
  scheduler.runFor(2);
  network.restart(2, handlerOf(2));
  network.send(1, 2, 'after restart');
  scheduler.runUntil(() => false);
  assert.deepEqual(arrivals.map((arrival) => arrival.message), ['from the crashed node', 'after restart']);
  assert.equal(network.counters().droppedByCrash, 3);
  assertBalanced(network.counters());
  assert.throws(() => network.restart(2, handlerOf(2)), /not down/);
  network.crash(2);
  assert.throws(() => network.crash(2), /not up/);
  assert.throws(() => network.register(1, handlerOf(1)), /already registered/);
});

test('a message to a node that never registered is dropped', () => {
  const { scheduler, network, arrivals } = setUp();
  network.send(1, 9, 'nobody');
  scheduler.runUntil(() => false);
  assert.equal(arrivals.length, 0);
  assert.equal(network.counters().droppedByCrash, 1);
});

test('a reorder burst shuffles the arrival times of the messages in flight', () => {
  const { scheduler, network, arrivals } = setUp({ ...faultProfileCalm, delayMinMs: 0, delayMaxMs: 0 });
  for (let index = 0; index < 20; index++) {
    network.send(1, 2, `m${index}`);
    scheduler.runFor(1);
  }
  assert.equal(arrivals.length, 20, 'delivered in order at delay 0');
  arrivals.length = 0;
  network.setFaults({ ...faultProfileCalm, delayMinMs: 100, delayMaxMs: 100 });
  for (let index = 0; index < 20; index++) {
    network.send(1, 2, `m${index}`);
    scheduler.runFor(1);
  }
  assert.equal(network.reorderBurst(), 20);
  scheduler.runUntil(() => false);
  const times = arrivals.map((arrival) => arrival.atMs);
  assert.deepEqual(times, [...times].sort((left, right) => left - right), 'arrivals are in time order');
  assert.deepEqual(times, Array.from({ length: 20 }, (_, index) => 120 + index), 'the set of arrival times is kept');
  const order = arrivals.map((arrival) => Number(arrival.message.slice(1)));
  assert.notDeepEqual(order, [...order].sort((left, right) => left - right));
  assert.deepEqual([...order].sort((left, right) => left - right), Array.from({ length: 20 }, (_, index) => index));
});

test('past its in-flight bound the network drops instead of queueing', () => {
  const { scheduler, network } = setUp(faultProfileCalm, [1, 2], 1, 5);
  for (let index = 0; index < 8; index++) network.send(1, 2, `m${index}`);
  assert.equal(network.inFlightCount, 5);
  scheduler.runUntil(() => false);
  assert.equal(network.counters().droppedByOverflow, 3);
  assertBalanced(network.counters());
});

test('the observer sees sends, duplicates, deliveries and drops with their reasons', () => {
  const { scheduler, network, events } = setUp({ ...faultProfileCalm, duplicationProbability: 0.5 }, [1, 2], 3);
  network.isolate(2);
  network.send(1, 2, 'cut');
  network.heal();
  for (let index = 0; index < 10; index++) network.send(1, 2, `m${index}`);
  scheduler.runUntil(() => false);
  const kinds = new Set(events.map((event) => (event.kind === 'drop' ? `drop:${event.reason}` : event.kind)));
  assert.deepEqual([...kinds].sort(), ['deliver', 'drop:partition', 'duplicate', 'send']);
});

test('the same seed replays the same deliveries under faults, and another seed does not', () => {
  function run(seed: number): string[] {
    const { scheduler, network, arrivals } = setUp(lossy, [1, 2, 3], seed);
    for (let index = 0; index < 300; index++) {
      network.send(1 + (index % 3), 1 + ((index * 7 + 1) % 3), `m${index}`);
      if (index === 100) network.reorderBurst();
      if (index % 10 === 0) scheduler.runFor(3);
    }
    scheduler.runUntil(() => false);
    return arrivals.map((arrival) => `${arrival.atMs}:${arrival.from}>${arrival.to}:${arrival.message}`);
  }
  assert.deepEqual(run(17), run(17));
  assert.notDeepEqual(run(17), run(18));
});

test('fault profiles are checked, and random ones are valid and varied', () => {
  assert.throws(() => checkFaultProfile({ ...faultProfileCalm, delayMaxMs: 0, delayMinMs: 1 }), /delayMaxMs/);
  assert.throws(() => checkFaultProfile({ ...faultProfileCalm, lossProbability: 1.5 }), /lossProbability/);
  assert.throws(() => checkFaultProfile({ ...faultProfileCalm, duplicationProbability: 1 }), /duplicationProbability/);
  assert.throws(() => checkFaultProfile({ ...faultProfileCalm, reorderProbability: 0.1 }), /reorderDelayMaxMs/);
  const random = createRandom(3);
  const profiles = Array.from({ length: 50 }, () => randomFaultProfile(random));
  assert.ok(new Set(profiles.map((profile) => profile.delayMaxMs)).size > 10);
  assert.ok(profiles.some((profile) => profile.lossProbability > 0.05));
  assert.ok(profiles.some((profile) => profile.lossProbability < 0.02));
});
