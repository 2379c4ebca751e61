import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../random/index.js';
import { MessageType } from './messages.js';
import { ReadOnlyOption } from './read-only.js';
import type { NodeId } from './types.js';
import { Role } from './types.js';
import { Network, bytesText, textBytes } from './testing/network.js';

function readStatesOf(network: Network, id: NodeId): Array<[number, string]> {
  return network.node(id).readStates.map((state) => [state.index, bytesText(state.requestCtx)]);
}

test('a read index at the leader returns its commit index after a heartbeat round', () => {
  const network = Network.withNodes(createRandom(51), 3);
  const leader = network.electLeader();
  for (let count = 0; count < 3; count++) network.propose(leader.id, `write-${count}`);
  const commit = leader.rawNode.status().commit;
  let heartbeats = 0;
  network.onSend = (message) => {
    if (message.type === MessageType.Heartbeat && bytesText(message.context) === 'read-1') heartbeats++;
  };
  assert.equal(leader.rawNode.readIndex(textBytes('read-1')), undefined);
  network.processReadies();
  assert.deepEqual(readStatesOf(network, leader.id), [], 'not answered before the quorum confirms leadership');
  network.stabilize();
  assert.ok(heartbeats >= 2);
  assert.deepEqual(readStatesOf(network, leader.id), [[commit, 'read-1']]);
});

test('a read index asked at a follower is answered through the leader', () => {
  const network = Network.withNodes(createRandom(52), 3);
  const leader = network.electLeader();
  network.propose(leader.id, 'write');
  const follower = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
  assert.equal(network.node(follower).rawNode.readIndex(textBytes('from follower')), undefined);
  network.stabilize();
  assert.deepEqual(readStatesOf(network, follower), [[leader.rawNode.status().commit, 'from follower']]);
});

test('a deposed leader does not serve a read index', () => {
  const network = Network.withNodes(createRandom(53), 3, { checkQuorum: false });
  const oldLeader = network.electLeader();
  network.isolate(oldLeader.id);
  oldLeader.rawNode.readIndex(textBytes('stale?'));
  // The majority elects a new leader and commits a write the old leader never sees.
  for (let tick = 0; tick < 60 && network.leader() === oldLeader; tick++) {
    for (const node of network.nodes.values()) if (node !== oldLeader) node.rawNode.tick();
    network.stabilize();
  }
  const newLeader = [...network.nodes.values()].find((node) => node !== oldLeader && node.role === Role.Leader)!;
  network.propose(newLeader.id, 'newer write');
  for (let tick = 0; tick < 30; tick++) network.tickAll();
  assert.equal(oldLeader.role, Role.Leader, 'without check-quorum it still believes it leads');
  assert.deepEqual(readStatesOf(network, oldLeader.id), [], 'but it cannot confirm a read');
  network.heal();
  network.tickAll(5);
  assert.deepEqual(readStatesOf(network, oldLeader.id), [], 'the request died with its leadership');
});

test('a new leader holds read requests until it commits an entry of its own term', () => {
  const network = Network.withNodes(createRandom(54), 3);
  network.dropFilter = (message) => message.type === MessageType.AppendResponse;
  network.campaign(1);
  const leader = network.node(1);
  assert.equal(leader.role, Role.Leader);
  assert.equal(leader.rawNode.readIndex(textBytes('early')), undefined);
  network.tickAll(2);
  assert.deepEqual(readStatesOf(network, 1 as NodeId), []);
  network.dropFilter = undefined;
  network.tickAll(2);
  const commit = leader.rawNode.status().commit;
  assert.deepEqual(readStatesOf(network, 1 as NodeId), [[commit, 'early']]);
  assert.equal(leader.storage.term(commit), leader.rawNode.status().term);
});

test('lease reads are answered at once while a quorum acknowledged recent heartbeats', () => {
  const network = Network.withNodes(createRandom(55), 3, { readOnlyOption: ReadOnlyOption.LeaseBased });
  const leader = network.electLeader();
  network.propose(leader.id, 'write');
  network.tickAll(2);
  leader.rawNode.readIndex(textBytes('lease'));
  network.processReadies(); // no message delivered
  assert.deepEqual(readStatesOf(network, leader.id), [[leader.rawNode.status().commit, 'lease']]);
});

test('an isolated leader stops serving lease reads before another leader can be elected', () => {
  const network = Network.withNodes(createRandom(56), 3, { readOnlyOption: ReadOnlyOption.LeaseBased });
  const leader = network.electLeader();
  network.tickAll(2);
  network.isolate(leader.id);
  let lastServedTick = 0;
  let otherLeaderTick = 0;
  for (let tick = 1; tick <= 40 && otherLeaderTick === 0; tick++) {
    network.tickAll();
    leader.rawNode.readIndex(textBytes(`read-${tick}`));
    network.processReadies();
    if (leader.readStates.length > 0) lastServedTick = tick;
    leader.readStates = [];
    if ([...network.nodes.values()].some((node) => node !== leader && node.role === Role.Leader)) otherLeaderTick = tick;
  }
  assert.ok(lastServedTick > 0, 'the lease served reads for a while after the partition');
  assert.ok(otherLeaderTick > 0, 'the majority elected a leader');
  assert.ok(lastServedTick < otherLeaderTick, `lease read at tick ${lastServedTick}, other leader from tick ${otherLeaderTick}`);
});

test('the clock lag the host reports is taken off the lease: a lease ends that many ticks sooner, and an unknown lag allows none', () => {
  // Ticks after a cut-off leader's last heartbeat round until its lease stops answering.
  const servedTicks = (lagTicks: number): number => {
    const network = Network.withNodes(createRandom(57), 3, { readOnlyOption: ReadOnlyOption.LeaseBased, leaseClockLagTicks: () => lagTicks });
    const leader = network.electLeader();
    network.tickAll(2);
    network.isolate(leader.id);
    let served = 0;
    for (let tick = 0; tick <= 30; tick++) {
      if (tick > 0) network.node(leader.id).rawNode.tick();
      leader.rawNode.readIndex(textBytes(`read-${tick}`));
      network.processReadies();
      if (leader.readStates.length === 0) break;
      leader.readStates = [];
      served = tick + 1;
    }
    return served;
  };
  const onTime = servedTicks(0);
  assert.ok(onTime >= 5, `a lease served ${onTime} ticks`);
  assert.equal(servedTicks(2), onTime - 2);
  // Half a tick is kept back for ticks at different rates: within it, a part of a tick
  // costs nothing more; beyond it, the whole tick.
  assert.equal(servedTicks(2.4), onTime - 2);
  assert.equal(servedTicks(2.6), onTime - 3);
  assert.equal(servedTicks(-3), onTime, 'a timer early does not lengthen the lease');
  assert.equal(servedTicks(Number.POSITIVE_INFINITY), 0);
  assert.equal(servedTicks(Number.NaN), 0);
});
