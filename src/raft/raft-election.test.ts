import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../random/index.js';
import { ConfChangeType } from './conf-change.js';
import { MessageType } from './messages.js';
import type { NodeId } from './types.js';
import { Role } from './types.js';
import { Network } from './testing/network.js';

test('a group of three elects exactly one leader that every member follows', () => {
  const network = Network.withNodes(createRandom(1), 3);
  const leader = network.electLeader();
  const statuses = [...network.nodes.values()].map((node) => node.rawNode.status());
  assert.equal(statuses.filter((status) => status.role === Role.Leader).length, 1);
  assert.ok(statuses.every((status) => status.lead === leader.id && status.term === statuses[0].term));
});

test('a group of one elects itself on its first election timeout', () => {
  const network = Network.withNodes(createRandom(2), 1);
  const leader = network.electLeader(30);
  assert.equal(leader.id, 1);
  assert.equal(network.propose(1, 'solo'), undefined);
  assert.deepEqual(leader.appliedData, ['solo']);
});

test('pre-vote: a partitioned node does not disrupt the leader when it rejoins', () => {
  const network = Network.withNodes(createRandom(3), 3);
  const leader = network.electLeader();
  const term = leader.rawNode.status().term;
  const outsider = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
  network.isolate(outsider);
  network.tickAll(100);
  assert.equal(network.node(outsider).rawNode.status().term, term, 'pre-votes never raised the outsider’s term');
  network.heal();
  network.tickAll(20);
  assert.equal(network.leader()?.id, leader.id);
  assert.equal(leader.rawNode.status().term, term);
  assert.equal(network.node(outsider).rawNode.status().lead, leader.id);
});

test('without pre-vote or check-quorum the same rejoin forces a new election (what pre-vote prevents)', () => {
  const network = Network.withNodes(createRandom(3), 3, { preVote: false, checkQuorum: false });
  const leader = network.electLeader();
  const term = leader.rawNode.status().term;
  const outsider = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
  network.isolate(outsider);
  network.tickAll(100);
  assert.ok(network.node(outsider).rawNode.status().term > term + 3);
  network.heal();
  network.tickAll(30);
  assert.ok(network.electLeader().rawNode.status().term > term, 'the group had to move to the outsider’s term');
});

test('check-quorum: a leader cut off from its quorum steps down within an election timeout', () => {
  const network = Network.withNodes(createRandom(4), 3);
  const leader = network.electLeader();
  network.isolate(leader.id);
  let ticks = 0;
  while (leader.rawNode.status().role === Role.Leader) {
    network.tickAll();
    ticks++;
    assert.ok(ticks <= 20, 'the isolated leader kept leading');
  }
  assert.ok(ticks >= 10, `stepped down after ${ticks} ticks, before an election timeout`);
  const newLeader = network.electLeader();
  assert.notEqual(newLeader.id, leader.id);
});

test('a stale leader that rejoins learns the newer term and follows', () => {
  const network = Network.withNodes(createRandom(5), 3, { checkQuorum: false });
  const oldLeader = network.electLeader();
  network.isolate(oldLeader.id);
  for (let tick = 0; tick < 50 && network.leader() === oldLeader; tick++) {
    for (const node of network.nodes.values()) if (node !== oldLeader) node.rawNode.tick();
    network.stabilize();
  }
  const newLeader = [...network.nodes.values()].find((node) => node !== oldLeader && node.role === Role.Leader);
  assert.ok(newLeader !== undefined, 'the majority elected a new leader');
  assert.equal(oldLeader.role, Role.Leader, 'without check-quorum the old leader does not notice');
  network.heal();
  network.tickAll(3);
  assert.equal(oldLeader.role, Role.Follower);
  assert.equal(oldLeader.rawNode.status().lead, newLeader.id);
});

test('a learner never campaigns', () => {
  const network = Network.withNodes(createRandom(6), 3);
  network.electLeader();
  const learner = network.addNode(4 as NodeId);
  network.proposeConfChange(network.leader()!.id, { type: ConfChangeType.AddLearner, nodeId: 4 as NodeId, context: new Uint8Array() });
  network.tickAll(5);
  assert.deepEqual(learner.confState.learners, [4]);
  let learnerCampaigned = false;
  network.onSend = (message) => {
    if (message.from === 4 && (message.type === MessageType.PreVote || message.type === MessageType.Vote)) learnerCampaigned = true;
  };
  network.isolate(network.leader()!.id);
  network.tickAll(100);
  assert.equal(learnerCampaigned, false);
  assert.notEqual(learner.role, Role.Leader);
});
