import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../random/index.js';
import { ConfChangeType } from './conf-change.js';
import type { ConfChange } from './conf-change.js';
import { RaftErrorCode } from './errors.js';
import { MessageType } from './messages.js';
import type { NodeId } from './types.js';
import { Role } from './types.js';
import { Network } from './testing/network.js';

const change = (type: ConfChangeType, id: number): ConfChange => ({ type, nodeId: id as NodeId, context: new Uint8Array() });

test('a new node joins as learner, catches up, is promoted and then counts toward the quorum', () => {
  const network = Network.withNodes(createRandom(31), 3);
  const leader = network.electLeader();
  for (let count = 0; count < 5; count++) network.propose(leader.id, `before-${count}`);
  const newcomer = network.addNode(4 as NodeId);
  assert.equal(network.proposeConfChange(leader.id, change(ConfChangeType.AddLearner, 4)), undefined);
  network.tickAll(3);
  assert.deepEqual(newcomer.appliedData, leader.appliedData, 'the learner replayed the log from the start');
  assert.deepEqual(newcomer.confState, { voters: [1, 2, 3], learners: [4] }, 'and learned the membership from it');
  assert.equal(network.proposeConfChange(leader.id, change(ConfChangeType.AddVoter, 4)), undefined);
  network.tickAll(2);
  for (const node of network.nodes.values()) assert.deepEqual(node.confState, { voters: [1, 2, 3, 4], learners: [] }, `node ${node.id}`);
  // With four voters a commit needs three: the leader plus one follower no longer suffices.
  const others = ([1, 2, 3] as NodeId[]).filter((id) => id !== leader.id);
  network.isolate(others[0]);
  network.isolate(4);
  network.propose(leader.id, 'needs three');
  assert.ok(!leader.appliedData.includes('needs three'));
  network.heal();
  network.tickAll(2);
  assert.ok(leader.appliedData.includes('needs three'));
});

test('a removed follower gets no more entries and commit needs only the remaining majority', () => {
  const network = Network.withNodes(createRandom(32), 3);
  const leader = network.electLeader();
  const removed = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
  const remaining = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id && id !== removed)!;
  assert.equal(network.proposeConfChange(leader.id, change(ConfChangeType.RemoveNode, removed)), undefined);
  network.tickAll(2);
  assert.deepEqual(leader.confState.voters, [leader.id, remaining].sort());
  const appliedBefore = network.node(removed).appliedData.length;
  network.propose(leader.id, 'after removal');
  network.tickAll(2);
  assert.equal(network.node(removed).appliedData.length, appliedBefore);
  assert.ok(network.node(remaining).appliedData.includes('after removal'));
  // The removed node never campaigns: it is not a voter in its own configuration.
  network.tickAll(100);
  assert.notEqual(network.node(removed).role, Role.Leader);
  assert.equal(network.leader(), leader);
});

test('a leader that removes itself steps down and the remaining voters elect a new leader', () => {
  const network = Network.withNodes(createRandom(33), 3);
  const leader = network.electLeader();
  network.propose(leader.id, 'before');
  assert.equal(network.proposeConfChange(leader.id, change(ConfChangeType.RemoveNode, leader.id)), undefined);
  network.tickAll(1);
  assert.equal(leader.role, Role.Follower, 'stepped down on applying its removal');
  const newLeader = network.electLeader();
  assert.notEqual(newLeader.id, leader.id);
  assert.equal(network.propose(newLeader.id, 'after'), undefined);
  network.tickAll(2);
  const survivors = [...network.nodes.values()].filter((node) => node !== leader);
  for (const node of survivors) {
    assert.deepEqual(node.confState.voters, survivors.map((each) => each.id));
    assert.deepEqual(node.appliedData, ['before', 'after']);
  }
  // The removed leader is not part of the group: proposals to it are not accepted.
  assert.notEqual(leader.role, Role.Leader);
});

test('only one membership change may be pending at a time', () => {
  const network = Network.withNodes(createRandom(34), 3);
  const leader = network.electLeader();
  network.addNode(4 as NodeId);
  network.addNode(5 as NodeId);
  // Keep the first change from committing, so it stays pending.
  for (const id of [1, 2, 3]) if (id !== leader.id) network.isolate(id);
  assert.equal(leader.rawNode.proposeConfChange(change(ConfChangeType.AddLearner, 4)), undefined);
  const second = leader.rawNode.proposeConfChange(change(ConfChangeType.AddLearner, 5));
  assert.equal(second?.code, RaftErrorCode.ConfChangeRejected);
  network.heal();
  network.tickAll(3);
  assert.equal(network.proposeConfChange(leader.id, change(ConfChangeType.AddLearner, 5)), undefined, 'accepted once the first is applied');
  network.tickAll(3);
  assert.deepEqual(leader.confState.learners, [4, 5]);
});

test('a new leader accepts no membership change until an entry of its own term is applied', () => {
  const network = Network.withNodes(createRandom(35), 3);
  // Votes pass, acknowledgements do not: node 1 leads but cannot commit its first entry.
  network.dropFilter = (message) => message.type === MessageType.AppendResponse;
  network.campaign(1);
  const leader = network.node(1);
  assert.equal(leader.role, Role.Leader);
  assert.equal(leader.rawNode.proposeConfChange(change(ConfChangeType.AddLearner, 9))?.code, RaftErrorCode.ConfChangeRejected);
  network.dropFilter = undefined;
  network.tickAll(2);
  assert.equal(leader.rawNode.proposeConfChange(change(ConfChangeType.AddLearner, 9)), undefined);
});

test('replace a voter: add a learner, promote it, remove the old voter', () => {
  const network = Network.withNodes(createRandom(37), 3);
  const leader = network.electLeader();
  const retiring = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
  network.addNode(4 as NodeId);
  for (const step of [change(ConfChangeType.AddLearner, 4), change(ConfChangeType.AddVoter, 4), change(ConfChangeType.RemoveNode, retiring)]) {
    assert.equal(network.proposeConfChange(leader.id, step), undefined);
    network.tickAll(2);
  }
  const expectedVoters = ([1, 2, 3, 4] as NodeId[]).filter((id) => id !== retiring);
  for (const id of expectedVoters) assert.deepEqual(network.node(id).confState, { voters: expectedVoters, learners: [] });
  network.propose(leader.id, 'with the new member');
  assert.ok(network.node(4).appliedData.includes('with the new member'));
});

test('a change that would leave no voter is refused', () => {
  const network = Network.withNodes(createRandom(38), 1);
  const leader = network.electLeader(30);
  assert.equal(leader.rawNode.proposeConfChange(change(ConfChangeType.RemoveNode, 1))?.code, RaftErrorCode.ConfChangeRejected);
  assert.equal(leader.rawNode.proposeConfChange(change(ConfChangeType.AddLearner, 1))?.code, RaftErrorCode.ConfChangeRejected);
});

test('a member added after compaction learns the membership from a snapshot', () => {
  const network = Network.withNodes(createRandom(39), 3);
  const leader = network.electLeader();
  for (let count = 0; count < 5; count++) network.propose(leader.id, `entry-${count}`);
  for (const node of network.nodes.values()) node.compact();
  const newcomer = network.addNode(4 as NodeId);
  let snapshots = 0;
  network.onSend = (message) => {
    if (message.type === MessageType.Snapshot && message.to === 4) snapshots++;
  };
  network.proposeConfChange(leader.id, change(ConfChangeType.AddLearner, 4));
  network.tickAll(5);
  assert.equal(snapshots, 1);
  assert.deepEqual(newcomer.appliedData, leader.appliedData);
  assert.deepEqual(newcomer.confState, { voters: [1, 2, 3], learners: [4] });
});
