import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../random/index.js';
import { RaftErrorCode } from './errors.js';
import { MessageType } from './messages.js';
import type { NodeId } from './types.js';
import { Role } from './types.js';
import { Network } from './testing/network.js';

test('a gated node never campaigns, however long it waits, but votes and follows', () => {
  const network = new Network(createRandom(61));
  const ids = [1, 2, 3] as NodeId[];
  network.addNode(1 as NodeId, { bootstrap: ids, campaignEnabled: false });
  network.addNode(2 as NodeId, { bootstrap: ids });
  network.addNode(3 as NodeId, { bootstrap: ids });
  network.processReadies();
  let gatedCampaigned = false;
  network.onSend = (message) => {
    if (message.from === 1 && (message.type === MessageType.PreVote || message.type === MessageType.Vote)) gatedCampaigned = true;
  };
  const leader = network.electLeader();
  assert.notEqual(leader.id, 1);
  network.propose(leader.id, 'replicated to the gated node');
  assert.deepEqual(network.node(1).appliedData, ['replicated to the gated node']);
  // Lose the leader: a node that is allowed to would campaign within 20 ticks.
  network.cut(2, 3);
  network.isolate(leader.id);
  network.tickAll(500);
  assert.equal(gatedCampaigned, false);
  assert.equal(network.node(1).role, Role.Follower);
  assert.equal(network.node(1).rawNode.campaign()?.code, RaftErrorCode.CampaignRefused);
});

test('a released node campaigns on its next election timeout', () => {
  const network = Network.withNodes(createRandom(62), 3, { campaignEnabled: false });
  network.tickAll(100);
  assert.equal(network.leader(), undefined, 'all gated: nobody stands');
  network.node(2).rawNode.setCampaignEnabled(true);
  network.tickAll(20);
  assert.equal(network.leader()?.id, 2);
  assert.equal(network.node(2).rawNode.status().campaignEnabled, true);
});

test('a gated node refuses TimeoutNow, and the transfer is aborted', () => {
  const network = new Network(createRandom(63));
  const ids = [1, 2, 3] as NodeId[];
  network.addNode(1 as NodeId, { bootstrap: ids });
  network.addNode(2 as NodeId, { bootstrap: ids });
  network.addNode(3 as NodeId, { bootstrap: ids, campaignEnabled: false });
  network.processReadies();
  network.campaign(1);
  const leader = network.node(1);
  assert.equal(leader.role, Role.Leader);
  leader.rawNode.transferLeadership(3 as NodeId);
  network.stabilize();
  assert.equal(network.node(3).role, Role.Follower);
  network.tickAll(10);
  assert.equal(leader.role, Role.Leader);
  assert.equal(leader.rawNode.status().leadTransferee, 0);
});
