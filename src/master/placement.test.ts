import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { PlacementLoad, choosePeers, choosePeersForPartitions, dataNodeFreeBytesMin, metanodeMemoryUsedPercentMax } from './placement.js';
import { StateBuilder } from './testing/state-builder.js';

function assertNoSpace(action: () => unknown, message: string): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(isAtollError(error, StatusCode.NO_SPACE), `expected NO_SPACE, got ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  });
}

test('replicas go to distinct hosts when there are enough', () => {
  const builder = new StateBuilder();
  builder.metanodes(['a', 'a', 'b', 'c']);
  const result = choosePeers(builder.build(), { role: 'metanode', count: 3 });
  assert.deepEqual(result, { nodeIds: [1, 3, 4], spread: 'hosts', note: '' });
});

test('with too few hosts the replicas share one, and the note says why', () => {
  const builder = new StateBuilder();
  builder.metanodes(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
  const result = choosePeers(builder.build(), { role: 'metanode', count: 3 });
  assert.deepEqual(result, {
    nodeIds: [1, 2, 3],
    spread: 'instances',
    note: 'partition replicas share host 127.0.0.1: only 1 host has an active metanode',
  });
});

test('sharing a host is a fallback: every other host is used first', () => {
  const builder = new StateBuilder();
  builder.datanodes(['a', 'a', 'a', 'b']);
  const result = choosePeers(builder.build(), { role: 'datanode', count: 3 });
  assert.deepEqual(result.nodeIds, [1, 4, 2]);
  assert.equal(result.spread, 'instances');
  assert.equal(result.note, 'partition replicas share host a: only 2 hosts have an active datanode with free space');
});

test('the hosts of kept replicas count as taken, and kept or excluded nodes are never chosen', () => {
  const builder = new StateBuilder();
  builder.metanodes(['a', 'b', 'c', 'a', 'b', 'd']);
  // Node 4 and 5 would win on id; they share hosts with the kept replicas 1 and 2.
  const result = choosePeers(builder.build(), { role: 'metanode', count: 1, keepNodeIds: [1, 2], excludeNodeIds: [3] });
  assert.deepEqual(result, { nodeIds: [6], spread: 'hosts', note: '' });
});

test('a replica shares a kept replica\'s host only when no other host is left', () => {
  const builder = new StateBuilder();
  builder.metanodes(['a', 'b', 'a']);
  const result = choosePeers(builder.build(), { role: 'metanode', count: 1, keepNodeIds: [1, 2] });
  assert.deepEqual(result.nodeIds, [3]);
  assert.equal(result.spread, 'instances');
  assert.match(result.note, /share host a: only 2 hosts/);
});

test('only active nodes of the requested role are chosen', () => {
  const builder = new StateBuilder();
  builder.node('metanode', { state: 'inactive' });
  builder.node('metanode', { state: 'decommissioning' });
  builder.node('metanode', { state: 'decommissioned' });
  builder.node('datanode');
  builder.node('metanode');
  assert.deepEqual(choosePeers(builder.build(), { role: 'metanode', count: 1 }).nodeIds, [5]);
});

test('too few eligible nodes is NO_SPACE with a message that counts why', () => {
  const builder = new StateBuilder();
  builder.metanodes(['a', 'b']);
  builder.node('metanode', { state: 'inactive' });
  const state = builder.build();
  assertNoSpace(
    () => choosePeers(state, { role: 'metanode', count: 3 }),
    'cannot place 3 metanode replicas: only 2 active metanodes can take one (1 not active)',
  );
  assertNoSpace(
    () => choosePeers(state, { role: 'metanode', count: 1, excludeNodeIds: [1], keepNodeIds: [2] }),
    'cannot place 1 metanode replica: only 0 active metanodes can take one (2 excluded or already holding a replica; 1 not active)',
  );
});

test('a datanode needs free space for a sixteenth of a partition; unknown capacity counts as room', () => {
  const builder = new StateBuilder({ dataPartitionCapacityBytes: 1600 });
  const state0 = builder.build();
  assert.equal(dataNodeFreeBytesMin(state0.settings), 100);
  builder.node('datanode', { capacityBytes: 1000, usedBytes: 901 }); // 99 bytes free
  builder.node('datanode', { capacityBytes: 0 });
  builder.node('datanode', { capacityBytes: 1000, usedBytes: 900 }); // exactly 100 free
  const state = builder.build();
  assert.deepEqual(choosePeers(state, { role: 'datanode', count: 2 }).nodeIds, [3, 2]);
  assertNoSpace(
    () => choosePeers(state, { role: 'datanode', count: 3 }),
    'cannot place 3 datanode replicas: only 2 active datanodes can take one (1 with less than 100 bytes free)',
  );
});

test('a metanode whose memory use reached its budget threshold takes no replica; unknown capacity counts as room', () => {
  const builder = new StateBuilder();
  const budget = 1000;
  const full = (budget * metanodeMemoryUsedPercentMax) / 100;
  builder.node('metanode', { host: 'a', capacityBytes: budget, usedBytes: full }); // at the threshold
  builder.node('metanode', { host: 'b', capacityBytes: budget, usedBytes: full - 1 }); // just below
  builder.node('metanode', { host: 'c', capacityBytes: 0, usedBytes: 5_000 }); // not reported yet
  builder.node('metanode', { host: 'd', capacityBytes: budget, usedBytes: budget * 2 }); // far over
  const state = builder.build();
  assert.deepEqual(choosePeers(state, { role: 'metanode', count: 2 }).nodeIds.sort(), [2, 3]);
  assertNoSpace(
    () => choosePeers(state, { role: 'metanode', count: 3 }),
    `cannot place 3 metanode replicas: only 2 active metanodes can take one (2 using ${metanodeMemoryUsedPercentMax}% or more of their memory budget)`,
  );
  assertNoSpace(
    () => choosePeers(state, { role: 'metanode', count: 2, excludeNodeIds: [2] }),
    `cannot place 2 metanode replicas: only 1 active metanode can take one (1 excluded or already holding a replica; 2 using ${metanodeMemoryUsedPercentMax}% or more of their memory budget)`,
  );
});

test('among equally spread candidates fewer replicas win, then more free space, then the lower id', () => {
  const builder = new StateBuilder();
  const [busy, full, empty, alsoEmpty] = builder.datanodes(['a', 'b', 'c', 'd'], { capacityBytes: 2 ** 40 });
  builder.volume('v');
  builder.dataPartition('v', [busy]);
  const byLoad = choosePeers(builder.build(), { role: 'datanode', count: 3 });
  assert.deepEqual(byLoad.nodeIds, [full, empty, alsoEmpty]);

  const spaced = new StateBuilder({ dataPartitionCapacityBytes: 1600 });
  spaced.node('datanode', { host: 'a', capacityBytes: 1000, usedBytes: 500 });
  spaced.node('datanode', { host: 'b', capacityBytes: 1000, usedBytes: 100 });
  spaced.node('datanode', { host: 'c', capacityBytes: 1000, usedBytes: 100 });
  assert.deepEqual(choosePeers(spaced.build(), { role: 'datanode', count: 2 }).nodeIds, [2, 3]);
});

test('distinct zones are preferred once hosts are distinct', () => {
  const builder = new StateBuilder();
  builder.node('metanode', { host: 'a', zone: 'zone-1' });
  builder.node('metanode', { host: 'b', zone: 'zone-1' });
  builder.node('metanode', { host: 'c', zone: 'zone-2' });
  assert.deepEqual(choosePeers(builder.build(), { role: 'metanode', count: 2 }).nodeIds, [1, 3]);
});

test('placing several partitions in one pass spreads them over the nodes', () => {
  const builder = new StateBuilder();
  builder.metanodes(['a', 'b', 'c', 'd', 'e', 'f']);
  const placement = choosePeersForPartitions(builder.build(), 'metanode', 2, 3);
  assert.deepEqual(placement, { peers: [[1, 2, 3], [4, 5, 6]], notes: [] });
});

test('the load counts the peers in the state and receives every choice made with it', () => {
  const builder = new StateBuilder();
  builder.metanodes(['a', 'b', 'c', 'd']);
  builder.volume('v');
  builder.metaPartition('v', [1, 2]);
  const state = builder.build();
  const load = PlacementLoad.fromState(state);
  assert.deepEqual([1, 2, 3, 4].map((id) => load.replicasOn(id)), [1, 1, 0, 0]);
  assert.deepEqual(choosePeers(state, { role: 'metanode', count: 2 }, load).nodeIds, [3, 4]);
  assert.deepEqual([1, 2, 3, 4].map((id) => load.replicasOn(id)), [1, 1, 1, 1]);
});

test('repeated notes of one pass are reported once', () => {
  const builder = new StateBuilder();
  builder.metanodes(['a', 'a']);
  const placement = choosePeersForPartitions(builder.build(), 'metanode', 3, 2);
  assert.deepEqual(placement.peers, [[1, 2], [1, 2], [1, 2]]);
  assert.deepEqual(placement.notes, ['partition replicas share host a: only 1 host has an active metanode']);
});
