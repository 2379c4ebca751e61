import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType, Role, type NodeId } from '../raft/index.js';
import { createRandom } from '../random/index.js';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { RaftHost } from './raft-host.js';
import { KeyValueStateMachine, putCommand } from './testing/kv-state-machine.js';
import { LocalNetwork } from './testing/local-transport.js';
import { MemoryPersistence } from './testing/memory-persistence.js';
import type { PeerAddress } from './types.js';
import type { RaftHostLimits } from './limits.js';

function peer(nodeId: number): PeerAddress {
  return { nodeId: nodeId as NodeId, host: '127.0.0.1', heartbeatPort: 20000 + nodeId, replicaPort: 30000 + nodeId };
}

interface Node {
  host: RaftHost;
  persistence: MemoryPersistence;
  machines: Map<number, KeyValueStateMachine>;
}

function makeCluster(nodeIds: number[], groupIds: number[], options: { campaignEnabled?: boolean; limits?: Partial<RaftHostLimits>; seed?: number; leaseReads?: { nowMs: () => number; tickMs: number } } = {}) {
  const network = new LocalNetwork();
  const nodes = new Map<number, Node>();
  const random = createRandom(options.seed ?? 7);
  // A founding member bootstraps with every id of nodeIds; a later one gets its peers'
  // records (as the master hands them to a new replica) and joins empty.
  const addNode = (nodeId: number, groups: number[], joinPeers: number[] | null) => {
    const persistence = new MemoryPersistence();
    const host = new RaftHost({
      nodeId: nodeId as NodeId,
      persistence,
      transport: network.transportFor(nodeId as NodeId),
      random: createRandom(random.nextUint32()),
      defer: (work) => setImmediate(work),
      limits: options.limits,
      leaseReads: options.leaseReads,
    });
    const machines = new Map<number, KeyValueStateMachine>();
    for (const groupId of groups) {
      const machine = new KeyValueStateMachine();
      machines.set(groupId, machine);
      host.createGroup({
        groupId,
        peers: (joinPeers ?? nodeIds).map(peer),
        stateMachine: machine,
        bootstrap: joinPeers === null,
        campaignEnabled: options.campaignEnabled ?? true,
      });
    }
    network.hosts.set(nodeId as NodeId, host);
    const node = { host, persistence, machines };
    nodes.set(nodeId, node);
    return node;
  };
  for (const nodeId of nodeIds) addNode(nodeId, groupIds, null);
  return { network, nodes, addNode };
}

async function settle(network: LocalNetwork, hosts: Iterable<RaftHost>): Promise<void> {
  for (let rounds = 0; rounds < 1000; rounds++) {
    await Promise.all([...hosts].map((host) => host.settled()));
    await new Promise((resolve) => setImmediate(resolve));
    if (network.inFlight === 0) {
      await Promise.all([...hosts].map((host) => host.settled()));
      if (network.inFlight === 0) return;
    }
  }
  throw new Error('cluster did not settle');
}

async function run(network: LocalNetwork, hosts: Iterable<RaftHost>, ticks: number): Promise<void> {
  const list = [...hosts];
  for (let tick = 0; tick < ticks; tick++) {
    for (const host of list) host.tick();
    await settle(network, list);
  }
}

function leaderOf(nodes: Map<number, Node>, groupId: number): Node | undefined {
  return [...nodes.values()].find((node) => node.host.hasGroup(groupId) && node.host.status(groupId).role === Role.Leader);
}

async function waitLeader(network: LocalNetwork, nodes: Map<number, Node>, groupId: number, ticksMax = 200): Promise<Node> {
  for (let tick = 0; tick < ticksMax; tick++) {
    const leader = leaderOf(nodes, groupId);
    if (leader !== undefined) return leader;
    await run(network, [...nodes.values()].map((node) => node.host), 1);
  }
  throw new Error(`no leader for group ${groupId} within ${ticksMax} ticks`);
}

test('a group elects a leader, replicates proposals to every replica, and answers the proposer with the result', async () => {
  const { network, nodes } = makeCluster([1, 2, 3], [10]);
  const leader = await waitLeader(network, nodes, 10);
  const first = leader.host.propose(10, putCommand('a', '1'));
  const second = leader.host.propose(10, putCommand('a', '2'));
  await run(network, [...nodes.values()].map((node) => node.host), 3);
  assert.equal(await first, null);
  assert.equal(await second, '1', 'the second put sees the first');
  for (const node of nodes.values()) assert.equal(node.machines.get(10)!.values.get('a'), '2');
  const follower = [...nodes.values()].find((node) => node !== leader)!;
  await assert.rejects(follower.host.propose(10, putCommand('b', '1')), (error: AtollError) => {
    assert.equal(error.status, StatusCode.NOT_LEADER);
    assert.equal(error.leaderHint, `node:${leader.host.nodeId}`);
    return true;
  });
});

test('a host halted with work its cores still hold (a cycle scheduled, not run) stops at once', async () => {
  const { network, nodes } = makeCluster([1, 2, 3], [10]);
  const leader = await waitLeader(network, nodes, 10);
  // Schedules a cycle; the halt comes before it runs, so the core keeps its Ready.
  const proposal = leader.host.propose(10, putCommand('a', '1'));
  leader.host.halt();
  await assert.rejects(proposal, (error: AtollError) => error.status === StatusCode.UNAVAILABLE);
  await new Promise((resolve) => setImmediate(resolve));
  const stopped = await Promise.race([leader.host.stop().then(() => 'stopped'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2_000))]);
  assert.equal(stopped, 'stopped');
  for (const node of nodes.values()) if (node !== leader) await node.host.stop();
});

test('proposals made between two cycles reach each follower in one Append', async () => {
  const { network, nodes } = makeCluster([1, 2, 3], [6]);
  const leader = await waitLeader(network, nodes, 6);
  const hosts = [...nodes.values()].map((node) => node.host);
  await run(network, hosts, 3);
  network.messages = 0;
  const writes = Array.from({ length: 100 }, (_, index) => leader.host.propose(6, putCommand(`k${index}`, `v${index}`)));
  await run(network, hosts, 3);
  const results = await Promise.all(writes);
  assert.ok(results.every((result) => result === null), 'every put applied and answered');
  // One Append with the 100 entries and one answer per follower, then the commit index:
  // a handful of messages, where one step per proposal would send 100 per follower.
  assert.ok(network.messages <= 24, `${network.messages} messages for 100 proposals`);
  for (const node of nodes.values()) assert.equal(node.machines.get(6)!.values.get('k99'), 'v99');
});

test('a leader sends its Appends while its own sync is in flight, and answers only once that sync is done', async () => {
  const { network, nodes } = makeCluster([1, 2, 3], [8]);
  const leader = await waitLeader(network, nodes, 8);
  const hosts = [...nodes.values()].map((node) => node.host);
  await run(network, hosts, 3);
  // Hold the leader's next sync until released.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const sync = leader.persistence.sync.bind(leader.persistence);
  let syncsStarted = 0;
  leader.persistence.sync = async () => {
    syncsStarted += 1;
    await held;
    return sync();
  };
  network.messages = 0;
  let answered = false;
  const write = leader.host.propose(8, putCommand('early', 'yes')).then((result) => {
    answered = true;
    return result;
  });
  for (let turn = 0; turn < 50 && syncsStarted === 0; turn++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(syncsStarted, 1, 'the leader is syncing its entry');
  // The followers get the entry and persist it (and answer) while the leader's sync waits.
  const followers = [...nodes.values()].filter((node) => node !== leader);
  const holdsEntry = (node: Node) => node.persistence.durableEntries(8).some((entry) => Buffer.from(entry.data).includes('early'));
  for (let turn = 0; turn < 200 && !followers.every(holdsEntry); turn++) await new Promise((resolve) => setImmediate(resolve));
  for (const follower of followers) assert.ok(holdsEntry(follower), `node ${follower.host.nodeId} holds the entry durably`);
  assert.equal(holdsEntry(leader), false, 'the leader does not yet');
  for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(answered, false, 'no answer while the leader has not synced');
  assert.equal(leader.machines.get(8)!.values.has('early'), false, 'nor applied');
  release();
  leader.persistence.sync = sync;
  await run(network, hosts, 2);
  assert.equal(await write, null);
  assert.equal(answered, true);
});

test('heartbeats of all groups for one peer go as one message, and one sync covers every group', async () => {
  const groups = [1, 2, 3, 4, 5, 6, 7, 8];
  const { network, nodes } = makeCluster([1, 2, 3], groups);
  for (const groupId of groups) await waitLeader(network, nodes, groupId);
  const hosts = [...nodes.values()].map((node) => node.host);
  await run(network, hosts, 30);
  network.heartbeatSends = 0;
  network.heartbeatMessages = 0;
  await run(network, hosts, 20);
  // Per tick each node sends at most one heartbeat batch and one response batch to each of
  // its two peers, whatever the number of groups: 20 ticks x 3 nodes x 2 peers x 2.
  assert.ok(network.heartbeatSends <= 20 * 3 * 2 * 2, `${network.heartbeatSends} heartbeat sends in 20 ticks`);
  assert.ok(network.heartbeatMessages >= network.heartbeatSends * 2, `${network.heartbeatSends} sends carried ${network.heartbeatMessages} heartbeats of 8 groups`);
  // Proposals to all groups at once: their entries are persisted together.
  const leaders = groups.map((groupId) => leaderOf(nodes, groupId)!);
  const syncsBefore = [...nodes.values()].reduce((sum, node) => sum + node.persistence.syncs, 0);
  const proposals = groups.map((groupId, position) => leaders[position]!.host.propose(groupId, putCommand('k', `v${groupId}`)));
  await run(network, hosts, 3);
  await Promise.all(proposals);
  const syncs = [...nodes.values()].reduce((sum, node) => sum + node.persistence.syncs, 0) - syncsBefore;
  assert.ok(syncs < groups.length * 3 * 2, `${syncs} syncs for ${groups.length} groups on 3 replicas`);
});

test('a gated group never elects a leader until it is released', async () => {
  const { network, nodes } = makeCluster([1, 2, 3], [5], { campaignEnabled: false });
  const hosts = [...nodes.values()].map((node) => node.host);
  await run(network, hosts, 100);
  assert.equal(leaderOf(nodes, 5), undefined, 'no leader while gated');
  nodes.get(2)!.host.setCampaignEnabled(5, true);
  const leader = await waitLeader(network, nodes, 5);
  assert.equal(leader.host.nodeId, 2, 'only the released replica could stand');
});

test('read index resolves on the leader after a quorum round and fails on a follower', async () => {
  const { network, nodes } = makeCluster([1, 2, 3], [9]);
  const leader = await waitLeader(network, nodes, 9);
  const write = leader.host.propose(9, putCommand('x', 'y'));
  await run(network, [...nodes.values()].map((node) => node.host), 2);
  await write;
  const read = leader.host.readIndex(9);
  await run(network, [...nodes.values()].map((node) => node.host), 2);
  await read;
  const follower = [...nodes.values()].find((node) => node !== leader)!;
  await assert.rejects(follower.host.readIndex(9), (error: AtollError) => error.status === StatusCode.NOT_LEADER);
});

test('a new member joins empty, catches up from a snapshot, and a member is removed; peers come from the records', async () => {
  const { network, nodes, addNode } = makeCluster([1, 2, 3], [4], { limits: { snapshotEntriesMin: 20, entriesKeptAfterSnapshot: 5 } });
  let leader = await waitLeader(network, nodes, 4);
  const hosts = () => [...nodes.values()].map((node) => node.host);
  for (let batch = 0; batch < 5; batch++) {
    const writes = Array.from({ length: 20 }, (_, index) => leader.host.propose(4, putCommand(`key${batch}-${index}`, `${batch}`)));
    await run(network, hosts(), 2);
    await Promise.all(writes);
  }
  assert.ok(leader.host.status(4).snapshotIndex > 0, 'the leader took a snapshot');
  // Node 4 starts with no state and no bootstrap, only the group's peer records.
  const newcomer = addNode(4, [4], [1, 2, 3, 4]);
  const added = leader.host.proposeConfChange(4, ConfChangeType.AddVoter, peer(4));
  await run(network, hosts(), 30);
  const confState = await added;
  assert.deepEqual([...confState.voters].sort(), [1, 2, 3, 4]);
  await run(network, hosts(), 20);
  const expected = leader.machines.get(4)!.stateHash();
  assert.equal(newcomer.machines.get(4)!.stateHash(), expected, 'the newcomer has the same state');
  assert.ok(newcomer.host.status(4).snapshotIndex > 0, 'it caught up through a snapshot');
  assert.deepEqual(newcomer.host.peersOf(4).map((record) => record.nodeId).sort(), [1, 2, 3, 4], 'and learned every peer from it');
  leader = leaderOf(nodes, 4)!;
  const removedId = [1, 2, 3].find((id) => id !== leader.host.nodeId)!;
  const removal = leader.host.proposeConfChange(4, ConfChangeType.RemoveNode, peer(removedId));
  await run(network, hosts(), 10);
  assert.deepEqual([...(await removal).voters].sort(), [1, 2, 3, 4].filter((id) => id !== removedId));
  const write = leader.host.propose(4, putCommand('after', 'removal'));
  await run(network, hosts(), 5);
  await write;
  assert.equal(newcomer.machines.get(4)!.values.get('after'), 'removal');
});

test('a restarted replica recovers what was synced and catches up with the group', async () => {
  const { network, nodes } = makeCluster([1, 2, 3], [3]);
  const leader = await waitLeader(network, nodes, 3);
  const hosts = () => [...nodes.values()].map((node) => node.host);
  const writes = Array.from({ length: 30 }, (_, index) => leader.host.propose(3, putCommand(`k${index}`, `v${index}`)));
  await run(network, hosts(), 3);
  await Promise.all(writes);
  // Restart a follower from what its persistence holds.
  const followerId = [1, 2, 3].find((id) => id !== leader.host.nodeId)!;
  const old = nodes.get(followerId)!;
  await old.host.stop();
  network.hosts.delete(followerId as NodeId);
  const recovered = old.persistence.recover(3);
  assert.ok(recovered !== undefined && recovered.entries.length >= 30);
  const machine = new KeyValueStateMachine();
  const host = new RaftHost({ nodeId: followerId as NodeId, persistence: old.persistence, transport: network.transportFor(followerId as NodeId), random: createRandom(99), defer: (work) => setImmediate(work) });
  host.createGroup({ groupId: 3, peers: [1, 2, 3].map(peer), stateMachine: machine, bootstrap: false, recovered });
  network.hosts.set(followerId as NodeId, host);
  nodes.set(followerId, { host, persistence: old.persistence, machines: new Map([[3, machine]]) });
  const more = leader.host.propose(3, putCommand('late', 'write'));
  await run(network, hosts(), 10);
  await more;
  assert.equal(machine.stateHash(), leader.machines.get(3)!.stateHash());
});

test('a proposal that cannot commit times out after requestTimeoutTicks', async () => {
  const { network, nodes } = makeCluster([1, 2, 3], [2], { limits: { requestTimeoutTicks: 5 } });
  const leader = await waitLeader(network, nodes, 2);
  const others = [1, 2, 3].filter((id) => id !== leader.host.nodeId) as NodeId[];
  network.isolate(leader.host.nodeId, others);
  const stuck = assert.rejects(leader.host.propose(2, putCommand('lost', 'maybe')), (error: AtollError) => error.status === StatusCode.TIMEOUT);
  await run(network, [leader.host], 6);
  await stuck;
});

test('lease reads: a leader whose ticks kept up with the clock answers from its lease alone, between ticks too; not once they fell behind', async () => {
  const tickMs = 10;
  const electionTicks = 10;
  let nowMs = 1_000;
  const { network, nodes } = makeCluster([1, 2, 3], [4], { leaseReads: { nowMs: () => nowMs, tickMs } });
  const hosts = [...nodes.values()].map((node) => node.host);
  // One period of the clock per round, every host's timer on time (or `lateBy` periods late).
  const advance = async (periods: number, lateBy = 0) => {
    for (let period = 0; period < periods; period++) {
      nowMs += tickMs * (1 + lateBy);
      for (const host of hosts) host.tick();
      await settle(network, hosts);
    }
  };
  const answeredWithin = async (read: Promise<void>): Promise<boolean> => {
    let answered = false;
    void read.then(
      () => (answered = true),
      () => undefined,
    );
    await settle(network, hosts);
    await new Promise((resolve) => setTimeout(resolve, 50));
    return answered;
  };
  let leader: Node | undefined;
  for (let round = 0; round < 200 && leader === undefined; round++) {
    await advance(1);
    leader = leaderOf(nodes, 4);
  }
  assert.ok(leader !== undefined, 'a leader within 200 ticks');
  const write = leader.host.propose(4, putCommand('k', 'v'));
  await advance(2);
  await write;

  // An election timeout of ticks on time, fresh heartbeat acknowledgements, then the
  // leader cut off: the read index answers from the lease, without a single message.
  await advance(electionTicks + 2);
  const others = (node: Node) => hosts.filter((host) => host !== node.host).map((host) => host.nodeId);
  network.isolate(leader.host.nodeId, others(leader));
  let sendsBefore = network.sends + network.heartbeatSends;
  assert.equal(await answeredWithin(leader.host.readIndex(4)), true, 'a lease read answers at once');
  assert.equal(network.sends + network.heartbeatSends, sendsBefore, 'a lease read sends nothing');

  // The leader's process "pauses": the clock moves two election timeouts while its timer
  // fires once. Its lease, counted in ticks, would still look valid; the host sees the
  // ticks fell behind and the read goes to a heartbeat round, which a cut-off leader
  // cannot complete.
  nowMs += 2 * electionTicks * tickMs;
  leader.host.tick();
  sendsBefore = network.sends + network.heartbeatSends;
  const paused = leader.host.readIndex(4);
  assert.equal(await answeredWithin(paused), false, 'a read after a pause is not answered from the old lease');
  assert.ok(network.sends + network.heartbeatSends > sendsBefore, 'it asked the followers instead');
  network.heal();
  await advance(5);
  await paused.catch(() => undefined);

  // Timers that fire a whole period late every time: over an election timeout the ticks
  // fall a whole lease behind the clock, so a cut-off leader's read index goes to a
  // heartbeat round (and is not answered) although its ticks count the lease as fresh.
  await advance(electionTicks + 2, 1);
  leader = leaderOf(nodes, 4);
  assert.ok(leader !== undefined);
  network.isolate(leader.host.nodeId, others(leader));
  sendsBefore = network.sends + network.heartbeatSends;
  const late = leader.host.readIndex(4);
  assert.equal(await answeredWithin(late), false, 'late ticks: no read from the lease');
  assert.ok(network.sends + network.heartbeatSends > sendsBefore, 'late ticks: the read asked the followers');
  network.heal();
  await advance(2, 1);
  await late.catch(() => undefined);

  // Back on time for an election timeout: the lease is trusted again.
  await advance(electionTicks + 2);
  leader = leaderOf(nodes, 4)!;
  network.isolate(leader.host.nodeId, others(leader));
  sendsBefore = network.sends + network.heartbeatSends;
  assert.equal(await answeredWithin(leader.host.readIndex(4)), true, 'trusted again after an election timeout on time');
  assert.equal(network.sends + network.heartbeatSends, sendsBefore);

  // Between two ticks on time (most of a period since the last one), the lease still
  // answers: the part of a period since the last tick is not lost time.
  nowMs += tickMs * 0.9;
  sendsBefore = network.sends + network.heartbeatSends;
  assert.equal(await answeredWithin(leader.host.readIndex(4)), true, 'a read between two ticks answers from the lease');
  assert.equal(network.sends + network.heartbeatSends, sendsBefore, 'and sends nothing');
  network.heal();
});

