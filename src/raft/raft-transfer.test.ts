import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../random/index.js';
import { RaftErrorCode } from './errors.js';
import { MessageType } from './messages.js';
import type { NodeId } from './types.js';
import { Role } from './types.js';
import { Network, textBytes } from './testing/network.js';

function followerOf(network: Network, leaderId: NodeId): NodeId {
  return ([1, 2, 3] as NodeId[]).find((id) => id !== leaderId)!;
}

test('leadership transfer hands over without waiting for an election timeout', () => {
  const network = Network.withNodes(createRandom(41), 3);
  const leader = network.electLeader();
  const target = followerOf(network, leader.id);
  const term = leader.rawNode.status().term;
  assert.equal(leader.rawNode.transferLeadership(target), undefined);
  network.stabilize(); // no ticks at all
  assert.equal(network.node(target).role, Role.Leader);
  assert.equal(network.node(target).rawNode.status().term, term + 1, 'TimeoutNow skips pre-vote and the lease');
  assert.equal(leader.role, Role.Follower);
  assert.equal(network.propose(target, 'under the new leader'), undefined);
});

test('a lagging transferee is caught up before it is told to campaign', () => {
  const network = Network.withNodes(createRandom(42), 3);
  const leader = network.electLeader();
  const target = followerOf(network, leader.id);
  network.isolate(target);
  for (let count = 0; count < 10; count++) network.propose(leader.id, `entry-${count}`);
  const order: string[] = [];
  network.onSend = (message) => {
    if (message.to === target && message.type === MessageType.Append && message.entries.length > 0) order.push('append');
    if (message.type === MessageType.TimeoutNow) order.push('timeout-now');
  };
  network.heal();
  leader.rawNode.transferLeadership(target);
  network.stabilize();
  assert.equal(order.at(-1), 'timeout-now');
  assert.ok(order.indexOf('append') < order.indexOf('timeout-now'));
  assert.equal(network.node(target).role, Role.Leader);
  assert.equal(network.node(target).appliedData.length, 10);
});

test('the leader refuses proposals while a transfer is in progress', () => {
  const network = Network.withNodes(createRandom(43), 3);
  const leader = network.electLeader();
  const target = followerOf(network, leader.id);
  network.isolate(target);
  leader.rawNode.transferLeadership(target);
  network.stabilize();
  assert.equal(leader.rawNode.status().leadTransferee, target);
  assert.equal(leader.rawNode.propose(textBytes('during transfer'))?.code, RaftErrorCode.ProposalDropped);
});

test('a transfer that does not finish within an election timeout is aborted', () => {
  const network = Network.withNodes(createRandom(44), 3);
  const leader = network.electLeader();
  const target = followerOf(network, leader.id);
  network.isolate(target);
  leader.rawNode.transferLeadership(target);
  network.stabilize();
  // Any message to the target is lost; the leader keeps leading the other follower.
  network.tickAll(10);
  assert.equal(leader.rawNode.status().leadTransferee, 0);
  assert.equal(leader.role, Role.Leader);
  assert.equal(network.propose(leader.id, 'after abort'), undefined);
  assert.ok(leader.appliedData.includes('after abort'));
});

test('a transfer asked of a follower is forwarded to the leader', () => {
  const network = Network.withNodes(createRandom(45), 3);
  const leader = network.electLeader();
  const target = followerOf(network, leader.id);
  assert.equal(network.node(target).rawNode.transferLeadership(target), undefined);
  network.stabilize();
  assert.equal(network.node(target).role, Role.Leader);
});

test('a transfer to a learner or a stranger is refused', () => {
  const network = Network.withNodes(createRandom(46), 3);
  const leader = network.electLeader();
  assert.equal(leader.rawNode.transferLeadership(9 as NodeId)?.code, RaftErrorCode.TransferRefused);
  assert.equal(leader.rawNode.status().leadTransferee, 0);
});
