import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../random/index.js';
import { MessageType } from './messages.js';
import { ProgressState } from './progress.js';
import type { NodeId } from './types.js';
import { Network } from './testing/network.js';

function laggingFollowerScenario(seed: number): { network: Network; leaderId: NodeId; laggardId: NodeId } {
  const network = Network.withNodes(createRandom(seed), 3);
  const leader = network.electLeader();
  const laggardId = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
  network.isolate(laggardId);
  for (let count = 0; count < 20; count++) network.propose(leader.id, `entry-${count}`);
  for (const node of network.nodes.values()) if (node.id !== laggardId) assert.ok(node.compact());
  assert.ok(leader.storage.firstIndex() > network.node(laggardId).storage.lastIndex() + 1, 'the laggard needs compacted entries');
  return { network, leaderId: leader.id, laggardId };
}

test('a lagging follower catches up from a snapshot after the leader compacted its log', () => {
  const { network, leaderId, laggardId } = laggingFollowerScenario(21);
  const snapshots: number[] = [];
  network.onSend = (message) => {
    if (message.type === MessageType.Snapshot) snapshots.push(message.snapshot!.metadata.index);
  };
  network.heal();
  network.tickAll(5);
  assert.equal(snapshots.length, 1);
  const laggard = network.node(laggardId);
  assert.deepEqual(laggard.appliedData, network.node(leaderId).appliedData);
  assert.equal(laggard.storage.snapshot().metadata.index, snapshots[0]);
  // The follower streams normally after the snapshot.
  network.propose(leaderId, 'after snapshot');
  assert.equal(laggard.appliedData.at(-1), 'after snapshot');
  assert.equal(network.node(leaderId).rawNode.status().progress.get(laggardId)?.state, ProgressState.Replicate);
});

test('a snapshot lost in transit is reported and sent again', () => {
  const { network, leaderId, laggardId } = laggingFollowerScenario(22);
  let snapshotsSent = 0;
  let dropNextSnapshot = true;
  network.onSend = (message) => {
    if (message.type === MessageType.Snapshot) snapshotsSent++;
  };
  network.dropFilter = (message) => {
    if (message.type !== MessageType.Snapshot || !dropNextSnapshot) return false;
    dropNextSnapshot = false;
    return true;
  };
  network.heal();
  network.tickAll(10);
  assert.equal(snapshotsSent, 2, 'one lost, one delivered');
  assert.deepEqual(network.node(laggardId).appliedData, network.node(leaderId).appliedData);
});

test('a follower does not install a snapshot its log already covers', () => {
  const network = Network.withNodes(createRandom(23), 3);
  const leader = network.electLeader();
  for (let count = 0; count < 5; count++) network.propose(leader.id, `entry-${count}`);
  leader.compact();
  const follower = network.node(([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!);
  const snapshot = leader.storage.snapshot();
  follower.rawNode.step({
    type: MessageType.Snapshot,
    from: leader.id,
    to: follower.id,
    term: leader.rawNode.status().term,
    logTerm: 0 as never,
    index: 0 as never,
    entries: [],
    commit: 0 as never,
    reject: false,
    rejectHint: 0 as never,
    context: new Uint8Array(),
    snapshot,
  });
  network.processReadies();
  assert.equal(follower.storage.snapshot().metadata.index, 0, 'no snapshot was installed');
  assert.equal(follower.appliedData.length, 5);
});
