import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeTask, NodeTaskKind, PartitionKind, PartitionReport } from '../proto/generated/master.js';
import { nodeTasksPerHeartbeatMax, peerAddressOf, tasksForNode } from './reconcile.js';
import type { MasterState } from './state.js';
import { StateBuilder } from './testing/state-builder.js';

function report(partitionId: number, fields: Partial<PartitionReport> = {}): PartitionReport {
  return PartitionReport.create({ partitionId, term: 1, loaded: true, ...fields });
}

function leaderReport(partitionId: number, members: number[], fields: Partial<PartitionReport> = {}): PartitionReport {
  return report(partitionId, { isLeader: true, members, ...fields });
}

// The tasks as `kind member` strings, e.g. 'TASK_ADD_MEMBER 4'.
function summary(tasks: readonly NodeTask[]): string[] {
  return tasks.map((task) => `${NodeTaskKind[task.kind]}${task.member === undefined ? '' : ` ${task.member.nodeId}`}`);
}

// Metanodes 1..5 on hosts a..e and one meta partition of volume 'v' with the given peers.
function stateWithPartition(peers: number[], options: Parameters<StateBuilder['metaPartition']>[2] = {}): MasterState {
  const builder = new StateBuilder();
  builder.metanodes(['a', 'b', 'c', 'd', 'e']);
  builder.volume('v');
  builder.metaPartition('v', peers, options);
  return builder.build();
}

test('a peer address carries the node\'s raft ports; an unknown node has none', () => {
  const state = stateWithPartition([1, 2, 3]);
  const node = state.nodes['2'];
  assert.deepEqual(peerAddressOf(state, 2), { nodeId: 2, host: 'b', heartbeatPort: node.raftHeartbeatPort, replicaPort: node.raftReplicaPort });
  assert.equal(peerAddressOf(state, 99), undefined);
});

test('a founding peer without the replica creates it and bootstraps the group with every peer', () => {
  const state = stateWithPartition([3, 1, 2], { reportedMembers: [], inodeStart: 1, inodeEnd: 0 });
  assert.deepEqual(tasksForNode(state, 2, []), [
    NodeTask.create({
      kind: NodeTaskKind.TASK_CREATE_PARTITION,
      partitionKind: PartitionKind.PARTITION_META,
      partitionId: 1,
      volume: 'v',
      inodeStart: 1,
      peers: [3, 1, 2].map((id) => peerAddressOf(state, id)!),
      bootstrap: true,
    }),
  ]);
});

test('a data replica is created with the partition\'s capacity', () => {
  const builder = new StateBuilder({ dataPartitionCapacityBytes: 4096 });
  builder.datanodes(['a', 'b']);
  builder.volume('v');
  builder.dataPartition('v', [1, 2], { reportedMembers: [] });
  const [task] = tasksForNode(builder.build(), 1, []);
  assert.equal(task.partitionKind, PartitionKind.PARTITION_DATA);
  assert.equal(task.capacityBytes, 4096);
});

test('a peer added to a formed group joins it empty, knowing its current members and itself', () => {
  const state = stateWithPartition([1, 2, 4], { reportedMembers: [1, 2, 3] });
  const [task] = tasksForNode(state, 4, []);
  assert.equal(task.kind, NodeTaskKind.TASK_CREATE_PARTITION);
  assert.equal(task.bootstrap, false);
  assert.deepEqual(task.peers.map((peer) => peer.nodeId), [1, 2, 3, 4]);
});

test('no replica is created while a member\'s address is unknown', () => {
  const state = stateWithPartition([1, 2, 99], { reportedMembers: [] });
  assert.deepEqual(tasksForNode(state, 1, []), []);
});

test('a node that is not a peer gets no create task', () => {
  assert.deepEqual(tasksForNode(stateWithPartition([1, 2, 3]), 4, []), []);
});

test('the leader adds missing members one at a time, lowest id first, before removing any', () => {
  const state = stateWithPartition([1, 5, 4]);
  const [task] = tasksForNode(state, 1, [leaderReport(1, [1, 2, 3])]);
  assert.deepEqual(summary([task]), ['TASK_ADD_MEMBER 4']);
  assert.deepEqual(task.member, peerAddressOf(state, 4));
  assert.deepEqual(summary(tasksForNode(state, 1, [leaderReport(1, [1, 2, 3, 4])])), ['TASK_ADD_MEMBER 5']);
});

test('once nothing is left to add the leader removes one member that is no longer wanted', () => {
  const state = stateWithPartition([1, 4]);
  assert.deepEqual(summary(tasksForNode(state, 1, [leaderReport(1, [1, 2, 3, 4])])), ['TASK_REMOVE_MEMBER 2']);
  assert.deepEqual(summary(tasksForNode(state, 1, [leaderReport(1, [1, 3, 4])])), ['TASK_REMOVE_MEMBER 3']);
  assert.deepEqual(summary(tasksForNode(state, 1, [leaderReport(1, [1, 4])])), []);
});

test('a leader that must leave removes the others first, then hands leadership to a wanted member', () => {
  const state = stateWithPartition([3, 2], { reportedMembers: [1, 2, 3, 4] });
  assert.deepEqual(summary(tasksForNode(state, 1, [leaderReport(1, [1, 2, 3, 4])])), ['TASK_REMOVE_MEMBER 4']);
  assert.deepEqual(summary(tasksForNode(state, 1, [leaderReport(1, [1, 2, 3])])), ['TASK_TRANSFER_LEADER 2']);
});

test('a leader whose recorded membership lags its report hands over instead of being deleted', () => {
  const lagging = stateWithPartition([3, 2], { reportedMembers: [2, 3] });
  assert.deepEqual(summary(tasksForNode(lagging, 1, [leaderReport(1, [1, 2, 3])])), ['TASK_TRANSFER_LEADER 2']);
  assert.deepEqual(summary(tasksForNode(lagging, 1, [report(1, { members: [1, 2, 3] })])), ['TASK_DELETE_PARTITION'], 'a follower is deleted');
});

test('leadership moves to the preferred leader once the membership is as wanted', () => {
  assert.deepEqual(summary(tasksForNode(stateWithPartition([1, 2, 3], { preferredLeaderNodeId: 3 }), 1, [leaderReport(1, [1, 2, 3])])), ['TASK_TRANSFER_LEADER 3']);
  assert.deepEqual(summary(tasksForNode(stateWithPartition([1, 2, 3], { preferredLeaderNodeId: 1 }), 1, [leaderReport(1, [1, 2, 3])])), [], 'already leading');
  assert.deepEqual(summary(tasksForNode(stateWithPartition([1, 2, 4], { preferredLeaderNodeId: 4 }), 1, [leaderReport(1, [1, 2, 3])])), ['TASK_ADD_MEMBER 4'], 'not a member yet');
});

test('a follower and a leader of an older term than the recorded one get no leader tasks', () => {
  const state = stateWithPartition([1, 2, 4], { leaderTerm: 5 });
  assert.deepEqual(tasksForNode(state, 2, [report(1, { members: [1, 2, 3], term: 5 })]), []);
  assert.deepEqual(tasksForNode(state, 1, [leaderReport(1, [1, 2, 3], { term: 4 })]), []);
  assert.deepEqual(summary(tasksForNode(state, 1, [leaderReport(1, [1, 2, 3], { term: 5 })])), ['TASK_ADD_MEMBER 4']);
});

test('a meta partition leader learns the end of its inode range after a split', () => {
  const state = stateWithPartition([1, 2, 3], { inodeStart: 1, inodeEnd: 1001 });
  const tasks = tasksForNode(state, 1, [leaderReport(1, [1, 2, 3], { inodeEnd: 0 })]);
  assert.deepEqual(summary(tasks), ['TASK_SET_INODE_END']);
  assert.equal(tasks[0].inodeEnd, 1001);
  assert.deepEqual(tasksForNode(state, 1, [leaderReport(1, [1, 2, 3], { inodeEnd: 1001 })]), []);
  const unbounded = stateWithPartition([1, 2, 3], { inodeEnd: 0 });
  assert.deepEqual(tasksForNode(unbounded, 1, [leaderReport(1, [1, 2, 3], { inodeEnd: 500 })]), [], 'a range is never unbounded again');
});

test('a replica the master no longer wants is deleted once the group no longer has it', () => {
  const state = stateWithPartition([1, 2, 4], { reportedMembers: [1, 2, 3, 4] });
  assert.deepEqual(tasksForNode(state, 3, [report(1, { members: [1, 2, 3, 4] })]), [], 'still a member: the leader removes it first');
  const removed = stateWithPartition([1, 2, 4], { reportedMembers: [1, 2, 4] });
  const tasks = tasksForNode(removed, 3, [report(1)]);
  assert.deepEqual(summary(tasks), ['TASK_DELETE_PARTITION']);
  assert.equal(tasks[0].partitionId, 1);
  assert.equal(tasks[0].volume, 'v');
});

test('a replica of a partition the state no longer has is deleted, unless the state is older than it', () => {
  const builder = new StateBuilder();
  builder.datanodes(['a', 'b', 'c', 'd']);
  builder.volume('v');
  builder.dataPartition('v', [1, 2, 3]);
  builder.dataPartition('v', [1, 2, 3]);
  const built = builder.build();
  // Partition 1 went with its volume; partition 3 was created by a command this state has not applied.
  const state: MasterState = { ...built, partitions: { '2': built.partitions['2'] } };
  assert.equal(state.nextPartitionId, 3);
  const tasks = tasksForNode(state, 4, [report(3), report(1, { kind: PartitionKind.PARTITION_DATA })]);
  assert.deepEqual(tasks, [NodeTask.create({ kind: NodeTaskKind.TASK_DELETE_PARTITION, partitionKind: PartitionKind.PARTITION_DATA, partitionId: 1 })]);
});

test('a stray partition (reported to a state restored from an older copy) is left on its node', () => {
  const builder = new StateBuilder();
  builder.datanodes(['a', 'b', 'c', 'd']);
  builder.volume('v');
  builder.dataPartition('v', [1, 2, 3]);
  const built = builder.build();
  // Partition 7 was recorded as a stray, and the counter moved past it; node 4 holds a replica.
  const state: MasterState = { ...built, nextPartitionId: 8, strayPartitionIds: [7] };
  assert.deepEqual(tasksForNode(state, 4, [report(7, { kind: PartitionKind.PARTITION_DATA })]), []);
  assert.deepEqual(summary(tasksForNode({ ...state, strayPartitionIds: [] }, 4, [report(7, { kind: PartitionKind.PARTITION_DATA })])), ['TASK_DELETE_PARTITION'], 'not a stray: deleted with its volume');
});

test('tasks come ascending by partition id, at most a bounded number per heartbeat', () => {
  const builder = new StateBuilder();
  builder.metanodes(['a', 'b', 'c']);
  builder.volume('v');
  builder.metaPartition('v', [1, 2, 3], { reportedMembers: [] });
  // Then partitions that each give their leader two tasks, so the bound falls between two.
  const reports: PartitionReport[] = [];
  for (let index = 0; index < nodeTasksPerHeartbeatMax; index++) {
    const partitionId = builder.metaPartition('v', [1, 2, 3], { reportedMembers: [1, 2], inodeStart: 1, inodeEnd: 1001 });
    reports.push(leaderReport(partitionId, [1, 2]));
  }
  const tasks = tasksForNode(builder.build(), 1, reports);
  assert.equal(tasks.length, nodeTasksPerHeartbeatMax);
  // Task 1 is partition 1's, then pairs from partition 2 on: the last task is the first of a pair.
  const lastPartitionId = 1 + nodeTasksPerHeartbeatMax / 2;
  assert.deepEqual(
    tasks.map((task) => `${task.partitionId} ${NodeTaskKind[task.kind]}`).slice(0, 3),
    ['1 TASK_CREATE_PARTITION', '2 TASK_ADD_MEMBER', '2 TASK_SET_INODE_END'],
  );
  assert.equal(`${tasks[tasks.length - 1].partitionId} ${NodeTaskKind[tasks[tasks.length - 1].kind]}`, `${lastPartitionId} TASK_ADD_MEMBER`);
});
