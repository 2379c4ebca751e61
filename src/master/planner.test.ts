import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import type { MasterCommand } from './commands.js';
import type { PlannerInput } from './planner.js';
import { dataPartitionsCreatedPerVolumeMax, decommissionProgress, planBackgroundWork } from './planner.js';
import type { MasterState } from './state.js';
import { StateBuilder, testNowMs } from './testing/state-builder.js';

const nowMs = testNowMs;
const inactiveAfterMs = 15_000;
const replaceAfterMs = 120_000;
const settings = { nodeInactiveAfterMs: inactiveAfterMs, replicaReplaceAfterMs: replaceAfterMs, dataPartitionsWritableMin: 0 };

// A leader of long standing that heard from nobody in memory, unless told otherwise.
function plan(state: MasterState, input: Partial<PlannerInput> = {}) {
  return planBackgroundWork({ state, nowMs, leaderSinceMs: nowMs - 10 * inactiveAfterMs, lastHeartbeatAtMs: new Map(), ...input });
}

function ofType<T extends MasterCommand['type']>(commands: readonly MasterCommand[], type: T): Extract<MasterCommand, { type: T }>[] {
  return commands.filter((command): command is Extract<MasterCommand, { type: T }> => command.type === type);
}

// -- liveness

test('an active node silent for longer than the inactivity period is marked inactive', () => {
  const builder = new StateBuilder(settings);
  builder.node('metanode', { lastHeartbeatAtMs: nowMs - inactiveAfterMs });
  builder.node('metanode', { lastHeartbeatAtMs: nowMs - inactiveAfterMs - 1 });
  const work = plan(builder.build());
  assert.deepEqual(work.commands, [{ type: 'setNodeState', nowMs, nodeId: 2, state: 'inactive' }]);
  assert.match(work.notes[0], /metanode 2 .* marked inactive: no heartbeat for 15001 ms/);
});

test('the leader\'s in-memory heartbeat counts when it is fresher than the state\'s', () => {
  const builder = new StateBuilder(settings);
  builder.node('datanode', { lastHeartbeatAtMs: nowMs - 10 * inactiveAfterMs });
  const work = plan(builder.build(), { lastHeartbeatAtMs: new Map([[1, nowMs - 1_000]]) });
  assert.deepEqual(work.commands, []);
});

test('a new leader gives every node a full inactivity period before marking it inactive', () => {
  const builder = new StateBuilder(settings);
  builder.node('metanode', { lastHeartbeatAtMs: nowMs - 10 * inactiveAfterMs });
  const state = builder.build();
  assert.deepEqual(plan(state, { leaderSinceMs: nowMs - inactiveAfterMs + 1 }).commands, []);
  assert.deepEqual(plan(state, { leaderSinceMs: nowMs - inactiveAfterMs }).commands, [{ type: 'setNodeState', nowMs, nodeId: 1, state: 'inactive' }]);
});

test('an inactive node that speaks again is active again and no longer counts as replaced', () => {
  const builder = new StateBuilder(settings);
  builder.node('metanode', { state: 'inactive', replaced: true, lastHeartbeatAtMs: 0 });
  builder.node('metanode', { state: 'inactive', stateSinceMs: nowMs, lastHeartbeatAtMs: 0 });
  const work = plan(builder.build(), { lastHeartbeatAtMs: new Map([[1, nowMs - inactiveAfterMs]]) });
  assert.deepEqual(work.commands, [{ type: 'setNodeState', nowMs, nodeId: 1, state: 'active', replaced: false }]);
});

test('a node marked inactive in a round is not given new replicas in that round', () => {
  const builder = new StateBuilder({ ...settings, dataPartitionsWritableMin: 1 });
  builder.datanodes(['a', 'b']);
  builder.node('datanode', { host: 'c', lastHeartbeatAtMs: 0 });
  builder.node('datanode', { host: 'd' });
  builder.volume('v', { replicaCount: 3 });
  const [, create] = plan(builder.build()).commands;
  assert.deepEqual(create, { type: 'createPartitions', nowMs, volume: 'v', kind: 'data', partitions: [{ peers: [1, 2, 4] }] });
});

// -- replacement

// Five metanodes on five hosts; node 1 went silent long ago and has been inactive since `inactiveSinceMs`.
function stateWithInactiveNode(inactiveSinceMs: number, options: { reportedMembers?: number[] } = {}): MasterState {
  const builder = new StateBuilder(settings);
  builder.node('metanode', { host: 'a', state: 'inactive', stateSinceMs: inactiveSinceMs, lastHeartbeatAtMs: 0 });
  builder.metanodes(['b', 'c', 'd', 'e']);
  builder.volume('v');
  builder.metaPartition('v', [1, 2, 3], { inodeEnd: 1000, ...options });
  builder.metaPartition('v', [1, 3, 4], { inodeStart: 1000, ...options });
  builder.metaPartition('v', [2, 3, 4], { inodeStart: 2000 });
  return builder.build();
}

test('the replicas of a node inactive past the replacement delay move elsewhere, then it is marked replaced', () => {
  const work = plan(stateWithInactiveNode(nowMs - replaceAfterMs - 1));
  assert.deepEqual(work.commands, [
    // Node 5 held nothing: it takes both, as with one replica it still has fewer than node 2.
    { type: 'setPartitionPeers', partitionId: 1, expectedPeers: [1, 2, 3], peers: [5, 2, 3] },
    { type: 'setPartitionPeers', partitionId: 2, expectedPeers: [1, 3, 4], peers: [5, 3, 4] },
    { type: 'setNodeState', nowMs, nodeId: 1, state: 'inactive', replaced: true },
  ]);
});

test('replicas stay where they are until the replacement delay has passed', () => {
  assert.deepEqual(plan(stateWithInactiveNode(nowMs - replaceAfterMs)).commands, []);
});

test('a new leader waits a full inactivity period before replacing replicas', () => {
  const state = stateWithInactiveNode(nowMs - replaceAfterMs - 1);
  assert.deepEqual(plan(state, { leaderSinceMs: nowMs - 1 }).commands, []);
});

test('a node whose replicas cannot all be placed stays unreplaced, with a note saying why', () => {
  const builder = new StateBuilder(settings);
  builder.node('metanode', { host: 'a', state: 'inactive', stateSinceMs: 0, lastHeartbeatAtMs: 0 });
  builder.metanodes(['b', 'c']);
  builder.volume('v');
  builder.metaPartition('v', [1, 2, 3]);
  const work = plan(builder.build());
  assert.deepEqual(work.commands, []);
  assert.equal(
    work.notes.join('\n'),
    'metanode 1 (metanode-1 on a) not replaced: 1 of its partitions got no new replica: ' +
      'partition 1: cannot place 1 metanode replica: only 0 active metanodes can take one (2 excluded or already holding a replica; 1 not active)',
  );
});

test('a partition whose Raft group has not formed keeps its founding peers', () => {
  const work = plan(stateWithInactiveNode(0, { reportedMembers: [] }));
  assert.deepEqual(work.commands, []);
  assert.match(work.notes.join('\n'), /replacement waits on 2 partitions/);
});

test('an inactive node holding no replica is marked replaced at once', () => {
  const builder = new StateBuilder(settings);
  builder.node('datanode', { state: 'inactive', stateSinceMs: 0, lastHeartbeatAtMs: 0 });
  assert.deepEqual(plan(builder.build()).commands, [{ type: 'setNodeState', nowMs, nodeId: 1, state: 'inactive', replaced: true }]);
});

// -- decommission

// Node 1 decommissioning in `partitions` partitions; `inFlight` of them already have it out of `peers`.
function stateWithDecommissioningNode(partitions: number, inFlight: number): MasterState {
  const builder = new StateBuilder(settings);
  builder.node('datanode', { host: 'a', state: 'decommissioning' });
  builder.datanodes(['b', 'c', 'd', 'e']);
  builder.volume('v');
  for (let index = 0; index < partitions; index++) {
    if (index < inFlight) builder.dataPartition('v', [5, 2, 3], { reportedMembers: [1, 2, 3, 5] });
    else builder.dataPartition('v', [1, 2, 3]);
  }
  return builder.build();
}

test('a decommissioning node moves out of at most movesInFlightMax partitions per round', () => {
  const commands = plan(stateWithDecommissioningNode(5, 0), { movesInFlightMax: 2 }).commands;
  assert.deepEqual(commands, [
    { type: 'setPartitionPeers', partitionId: 1, expectedPeers: [1, 2, 3], peers: [4, 2, 3] },
    { type: 'setPartitionPeers', partitionId: 2, expectedPeers: [1, 2, 3], peers: [5, 2, 3] },
  ]);
});

test('moves still in flight count against the bound', () => {
  const oneInFlight = plan(stateWithDecommissioningNode(5, 1), { movesInFlightMax: 2 }).commands;
  assert.deepEqual(oneInFlight.map((command) => (command.type === 'setPartitionPeers' ? command.partitionId : 0)), [2]);
  assert.deepEqual(plan(stateWithDecommissioningNode(5, 2), { movesInFlightMax: 2 }).commands, []);
  assert.equal(ofType(plan(stateWithDecommissioningNode(9, 0)).commands, 'setPartitionPeers').length, 4, 'the default bound is 4');
});

test('a decommissioning node is decommissioned once no partition has it as peer or member', () => {
  assert.deepEqual(plan(stateWithDecommissioningNode(1, 1)).commands, [], 'still a reported member');
  assert.deepEqual(plan(stateWithDecommissioningNode(0, 0)).commands, [{ type: 'setNodeState', nowMs, nodeId: 1, state: 'decommissioned' }]);
});

test('a member on its way out of a partition is not chosen to replace another of its replicas', () => {
  const builder = new StateBuilder(settings);
  builder.datanodes(['a', 'b', 'c']);
  builder.node('datanode', { host: 'd', state: 'decommissioning' });
  builder.datanodes(['e']);
  builder.volume('v');
  // Node 1 was taken out of the peers (by an operator) and its leader has not removed it yet.
  builder.dataPartition('v', [2, 3, 4], { reportedMembers: [1, 2, 3, 4] });
  assert.deepEqual(plan(builder.build()).commands, [{ type: 'setPartitionPeers', partitionId: 1, expectedPeers: [2, 3, 4], peers: [2, 3, 5] }]);
});

test('decommission progress lists the partitions that still hold the node', () => {
  const state = stateWithDecommissioningNode(3, 1);
  assert.deepEqual(decommissionProgress(state, 1), { nodeId: 1, state: 'decommissioning', replicasRemaining: 3, partitionsRemaining: [1, 2, 3] });
  assert.deepEqual(decommissionProgress(state, 5), { nodeId: 5, state: 'active', replicasRemaining: 1, partitionsRemaining: [1] });
  assert.throws(() => decommissionProgress(state, 42), (error: unknown) => isAtollError(error, StatusCode.NOT_FOUND));
});

// -- split

const range = 1000;
const splitSettings = { ...settings, metaPartitionInodeRange: range, metaPartitionSplitPercent: 75 };

function stateWithLastMetaPartition(inodeCursor: number, options: { status?: 'active' | 'read-only' } = {}): MasterState {
  const builder = new StateBuilder(splitSettings);
  builder.metanodes(['a', 'b', 'c']);
  builder.volume('v', { replicaCount: 2, ...options });
  builder.metaPartition('v', [1, 2], { inodeStart: 1, inodeEnd: 5000, inodeCursor: 4000 });
  builder.metaPartition('v', [1, 2], { inodeStart: 5000, inodeCursor });
  return builder.build();
}

test('the last meta partition splits once its cursor passes the threshold share of the range', () => {
  assert.deepEqual(plan(stateWithLastMetaPartition(5000 + 749)).commands, []);
  assert.deepEqual(plan(stateWithLastMetaPartition(5000 + 750)).commands, [
    { type: 'splitMetaPartition', nowMs, partitionId: 2, inodeEnd: 5000 + range, peers: [3, 1] },
  ]);
});

test('a split far past the threshold leaves the old partition room beyond its cursor', () => {
  const [split] = plan(stateWithLastMetaPartition(5000 + 3000)).commands;
  assert.equal(split.type === 'splitMetaPartition' && split.inodeEnd, 5000 + 3000 + 250);
});

test('the volume\'s last meta partition is the unbounded one with the highest start', () => {
  const builder = new StateBuilder(splitSettings);
  builder.metanodes(['a', 'b']);
  builder.volume('v', { replicaCount: 2 });
  // Two unbounded partitions only while a split is half-recorded; the later one is the last.
  builder.metaPartition('v', [1, 2], { inodeStart: 1, inodeCursor: 900 });
  builder.metaPartition('v', [1, 2], { inodeStart: 5000, inodeCursor: 5900 });
  const splits = ofType(plan(builder.build()).commands, 'splitMetaPartition');
  assert.deepEqual(splits.map((split) => split.partitionId), [2]);
});

test('only active volumes split', () => {
  assert.deepEqual(plan(stateWithLastMetaPartition(5000 + 900, { status: 'read-only' })).commands, []);
});

test('a partition changed by an earlier rule of the round does not split in the same round', () => {
  const builder = new StateBuilder(splitSettings);
  builder.node('metanode', { host: 'a', state: 'inactive', stateSinceMs: 0, lastHeartbeatAtMs: 0 });
  builder.metanodes(['b', 'c', 'd']);
  builder.volume('v', { replicaCount: 3 });
  builder.metaPartition('v', [1, 2, 3], { inodeCursor: 900 });
  const commands = plan(builder.build()).commands;
  assert.deepEqual(commands.map((command) => command.type), ['setPartitionPeers', 'setNodeState']);
});

// -- data floor

test('a volume below the writable data partition floor gets the missing ones', () => {
  const builder = new StateBuilder({ ...settings, dataPartitionsWritableMin: 4, dataPartitionCapacityBytes: 1000 });
  builder.datanodes(['a', 'b', 'c', 'd']);
  builder.volume('v', { replicaCount: 2 });
  builder.dataPartition('v', [1, 2], { usedBytes: 899 });
  builder.dataPartition('v', [1, 2], { usedBytes: 900 }); // full
  builder.dataPartition('v', [1, 2], { status: 'read-only' });
  const commands = plan(builder.build()).commands;
  assert.deepEqual(commands, [{ type: 'createPartitions', nowMs, volume: 'v', kind: 'data', partitions: [{ peers: [3, 4] }, { peers: [3, 4] }, { peers: [3, 4] }] }]);
});

test('at most a bounded number of data partitions is created per volume and round', () => {
  const builder = new StateBuilder({ ...settings, dataPartitionsWritableMin: 20 });
  builder.datanodes(['a', 'b', 'c']);
  builder.volume('v');
  const [create] = ofType(plan(builder.build()).commands, 'createPartitions');
  assert.equal(create.partitions.length, dataPartitionsCreatedPerVolumeMax);
});

test('without datanodes to place them, no data partition is created and a note says why', () => {
  const builder = new StateBuilder({ ...settings, dataPartitionsWritableMin: 1 });
  builder.datanodes(['a', 'b']);
  builder.volume('v', { replicaCount: 3 });
  builder.volume('frozen', { status: 'read-only' });
  const work = plan(builder.build());
  assert.deepEqual(work.commands, []);
  assert.deepEqual(work.notes, ['volume v: no data partition created (0 writable): cannot place 3 datanode replicas: only 2 active datanodes can take one']);
});

test('commands come in rule order, then by node id and volume name', () => {
  const builder = new StateBuilder({ ...settings, dataPartitionsWritableMin: 1 });
  builder.datanodes(['a', 'b', 'c']);
  builder.node('datanode', { lastHeartbeatAtMs: 0 });
  builder.node('datanode', { lastHeartbeatAtMs: 0 });
  builder.volume('zeta', { replicaCount: 1 });
  builder.volume('alpha', { replicaCount: 1 });
  const summary = plan(builder.build()).commands.map((command) =>
    command.type === 'setNodeState' ? `state ${command.nodeId}` : command.type === 'createPartitions' ? `create ${command.volume}` : command.type,
  );
  assert.deepEqual(summary, ['state 4', 'state 5', 'create alpha', 'create zeta']);
});

test('a formed partition below its volume replica count gets one replica more per round, and one above it is left alone', () => {
  const builder = new StateBuilder(settings);
  builder.datanodes(['a', 'b', 'c', 'd']);
  builder.volume('v', { replicaCount: 3 });
  builder.dataPartition('v', [1, 2], { reportedMembers: [1, 2] });
  builder.dataPartition('v', [1, 2], { reportedMembers: [] });
  builder.dataPartition('v', [1, 2, 3, 4], { reportedMembers: [1, 2, 3, 4] });
  const commands = ofType(plan(builder.build()).commands, 'setPartitionPeers');
  assert.deepEqual(commands, [{ type: 'setPartitionPeers', partitionId: 1, expectedPeers: [1, 2], peers: [1, 2, 3] }]);
});
