import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../random/index.js';
import { entriesBytes } from './entries.js';
import { RaftErrorCode } from './errors.js';
import { ConfChangeType } from './conf-change.js';
import { MessageType } from './messages.js';
import type { NodeId } from './types.js';
import { Network, textBytes } from './testing/network.js';

test('replication under message loss commits every proposal on every node', () => {
  const network = Network.withNodes(createRandom(11), 3);
  const leader = network.electLeader();
  const random = createRandom(99);
  // Lose a third of the log traffic; heartbeats pass so leadership stays put.
  network.dropFilter = (message) =>
    (message.type === MessageType.Append || message.type === MessageType.AppendResponse) && random.nextFloat() < 0.33;
  const expected: string[] = [];
  for (let count = 0; count < 60; count++) {
    expected.push(`entry-${count}`);
    assert.equal(leader.rawNode.propose(textBytes(`entry-${count}`)), undefined);
    network.stabilize();
    if (count % 5 === 0) network.tickAll();
  }
  for (let tick = 0; tick < 200 && [...network.nodes.values()].some((node) => node.appliedData.length < 60); tick++) network.tickAll();
  for (const node of network.nodes.values()) assert.deepEqual(node.appliedData, expected, `node ${node.id}`);
  assert.equal(network.leader(), leader);
});

test('flow control: a follower never has more than inflightMessagesMax unacknowledged Appends', () => {
  const inflightMessagesMax = 3;
  const network = Network.withNodes(createRandom(12), 3, {
    limits: { inflightMessagesMax, messageBytesMax: 200, inflightBytesMax: 10_000 },
  });
  const leader = network.electLeader();
  const follower = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
  let appendsWithEntries = 0;
  network.onSend = (message) => {
    if (message.type === MessageType.Append && message.to === follower && message.entries.length > 0) appendsWithEntries++;
  };
  // The follower receives everything but its acknowledgements are lost.
  network.dropFilter = (message) => message.from === follower && message.type === MessageType.AppendResponse;
  for (let count = 0; count < 50; count++) {
    leader.rawNode.propose(textBytes(`payload-${count}`.padEnd(100, '.')));
    network.stabilize();
    const progress = leader.rawNode.status().progress.get(follower)!;
    assert.ok(progress.inflightMessages <= inflightMessagesMax, `inflight ${progress.inflightMessages}`);
  }
  assert.ok(appendsWithEntries <= inflightMessagesMax, `${appendsWithEntries} Appends with entries sent without acks`);
  assert.equal(network.node(follower).appliedData.length < 50, true, 'the window held the follower back');
  // Acknowledgements flow again: the window slides and the follower catches up.
  network.dropFilter = undefined;
  network.tickAll(5);
  assert.equal(network.node(follower).appliedData.length, 50);
});

test('flow control by bytes: the unacknowledged bytes stay within inflightBytesMax', () => {
  const network = Network.withNodes(createRandom(13), 3, {
    limits: { inflightMessagesMax: 100, messageBytesMax: 300, inflightBytesMax: 1000 },
  });
  const leader = network.electLeader();
  const follower = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
  let bytesSent = 0;
  network.onSend = (message) => {
    if (message.type === MessageType.Append && message.to === follower) bytesSent += entriesBytes(message.entries);
  };
  network.dropFilter = (message) => message.from === follower && message.type === MessageType.AppendResponse;
  for (let count = 0; count < 40; count++) {
    leader.rawNode.propose(textBytes('x'.repeat(76)));
    network.stabilize();
  }
  assert.ok(bytesSent <= 1000, `${bytesSent} bytes sent without acks`);
  assert.ok(bytesSent >= 700, `the window was barely used: ${bytesSent}`);
});

test('a leader batches entries into Appends of at most messageBytesMax', () => {
  const messageBytesMax = 500;
  const network = Network.withNodes(createRandom(14), 3, { limits: { messageBytesMax, inflightBytesMax: 100_000 } });
  const leader = network.electLeader();
  const follower = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
  network.isolate(follower);
  for (let count = 0; count < 30; count++) network.propose(leader.id, 'y'.repeat(100));
  const sizes: number[] = [];
  network.onSend = (message) => {
    if (message.type === MessageType.Append && message.to === follower && message.entries.length > 0) sizes.push(entriesBytes(message.entries));
  };
  network.heal();
  network.tickAll(5);
  assert.equal(network.node(follower).appliedData.length, 30);
  assert.ok(sizes.every((size) => size <= messageBytesMax), `sizes ${sizes}`);
  assert.ok(sizes.some((size) => size > messageBytesMax / 2), `entries were not batched: ${sizes}`);
});

test('fast back-off repairs a long divergent log in a few round trips', () => {
  const network = Network.withNodes(createRandom(15), 3, { checkQuorum: false });
  const oldLeader = network.electLeader();
  network.isolate(oldLeader.id);
  // 50 entries the old leader cannot commit.
  for (let count = 0; count < 50; count++) oldLeader.rawNode.propose(textBytes(`lost-${count}`));
  network.stabilize();
  for (let tick = 0; tick < 60 && (network.leader() === oldLeader || network.leader() === undefined); tick++) {
    for (const node of network.nodes.values()) if (node !== oldLeader) node.rawNode.tick();
    network.stabilize();
  }
  const newLeader = network.leader()!;
  assert.notEqual(newLeader, oldLeader);
  for (let count = 0; count < 50; count++) network.propose(newLeader.id, `kept-${count}`);
  let rejects = 0;
  network.onSend = (message) => {
    if (message.from === oldLeader.id && message.type === MessageType.AppendResponse && message.reject) rejects++;
  };
  network.heal();
  network.tickAll(5);
  assert.deepEqual(oldLeader.appliedData, newLeader.appliedData);
  assert.ok(!oldLeader.appliedData.some((data) => data.startsWith('lost-')));
  assert.ok(rejects <= 3, `${rejects} rejections: back-off went entry by entry`);
});

test('proposals are dropped with an error when no leader is known', () => {
  const network = Network.withNodes(createRandom(16), 3);
  const error = network.node(1).rawNode.propose(textBytes('early'));
  assert.equal(error?.code, RaftErrorCode.ProposalDropped);
});

test('a follower forwards proposals to the leader', () => {
  const network = Network.withNodes(createRandom(17), 3);
  const leader = network.electLeader();
  const follower = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
  assert.equal(network.propose(follower, 'via follower'), undefined);
  for (const node of network.nodes.values()) assert.deepEqual(node.appliedData, ['via follower']);
});

test('with disableProposalForwarding a follower drops proposals with an error', () => {
  const network = Network.withNodes(createRandom(18), 3, { disableProposalForwarding: true });
  const leader = network.electLeader();
  const follower = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
  assert.equal(network.propose(follower, 'nope')?.code, RaftErrorCode.ProposalDropped);
  assert.equal(network.propose(leader.id, 'yes'), undefined);
});

test('the leader drops proposals beyond uncommittedBytesMax until entries commit', () => {
  const network = Network.withNodes(createRandom(19), 3, { limits: { uncommittedBytesMax: 1000, messageBytesMax: 500, inflightBytesMax: 1000 } });
  const leader = network.electLeader();
  for (const node of network.nodes.values()) if (node !== leader) network.isolate(node.id);
  const results = Array.from({ length: 20 }, () => leader.rawNode.propose(textBytes('z'.repeat(100))));
  network.stabilize();
  const accepted = results.filter((result) => result === undefined).length;
  assert.equal(accepted, 10);
  assert.ok(results.slice(10).every((result) => result?.code === RaftErrorCode.ProposalDropped));
  network.heal();
  network.tickAll(3);
  assert.equal(leader.appliedData.length, 10);
  assert.equal(network.propose(leader.id, 'after commit'), undefined, 'room again once committed and applied');
});

test('skipCommitBroadcast: followers learn a commit from the next heartbeat instead of an Append each', () => {
  for (const skipCommitBroadcast of [false, true]) {
    const network = Network.withNodes(createRandom(14), 3, { skipCommitBroadcast });
    const leader = network.electLeader();
    network.stabilize();
    let appends = 0;
    network.onSend = (message) => {
      if (message.from === leader.id && message.type === MessageType.Append) appends++;
    };
    assert.equal(network.propose(leader.id, 'one'), undefined);
    const followers = [...network.nodes.values()].filter((node) => node !== leader);
    assert.deepEqual(leader.appliedData, ['one']);
    if (skipCommitBroadcast) {
      assert.equal(appends, 2, 'one Append with the entry per follower, none for the commit');
      for (const follower of followers) assert.deepEqual(follower.appliedData, [], `node ${follower.id} waits for the commit index`);
      network.tickAll();
    } else {
      assert.equal(appends, 4, 'the entry, then the commit index, to each follower');
    }
    for (const follower of followers) assert.deepEqual(follower.appliedData, ['one'], `node ${follower.id}`);
  }
});

test('skipCommitBroadcast still broadcasts the commit of a membership change at once', () => {
  const network = Network.withNodes(createRandom(15), 3, { skipCommitBroadcast: true });
  const leader = network.electLeader();
  network.stabilize();
  assert.equal(network.proposeConfChange(leader.id, { type: ConfChangeType.AddLearner, nodeId: 4 as NodeId, context: new Uint8Array() }), undefined);
  for (const node of network.nodes.values()) assert.deepEqual([...node.confState.learners], [4], `node ${node.id} applied the change without a tick`);
});
