// Three hosts in one process, each with its own heartbeat and replica listeners on
// loopback: the transport over real sockets, including snapshots in chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType, Role, type NodeId } from '../raft/index.js';
import { createRandom } from '../random/index.js';
import { RaftTransport as RaftTransportService } from '../proto/generated/raft.js';
import { RpcClient, RpcServer } from '../rpc/index.js';
import { RaftHost } from './raft-host.js';
import { RpcRaftTransport, registerRaftTransport } from './rpc-transport.js';
import { KeyValueStateMachine, putCommand } from './testing/kv-state-machine.js';
import { MemoryPersistence } from './testing/memory-persistence.js';
import type { PeerAddress } from './types.js';

const secret = 'raft-transport-test-secret-0123';

interface Member {
  host: RaftHost;
  machine: KeyValueStateMachine;
  address: PeerAddress;
  heartbeat: RpcServer;
  replica: RpcServer;
  client: RpcClient;
  ticker: NodeJS.Timeout;
  // Methods this member's transport called and sent one way.
  called: Set<string>;
  notified: Set<string>;
}

async function startMember(nodeId: number, seed: number): Promise<{ address: PeerAddress; start: (peers: PeerAddress[], bootstrap: boolean) => Member }> {
  const heartbeat = new RpcServer({ secret, instance: `node-${nodeId}-hb` });
  const replica = new RpcServer({ secret, instance: `node-${nodeId}-rep` });
  const address: PeerAddress = {
    nodeId: nodeId as NodeId,
    host: '127.0.0.1',
    heartbeatPort: await heartbeat.listen('127.0.0.1', 0),
    replicaPort: await replica.listen('127.0.0.1', 0),
  };
  return {
    address,
    start: (peers, bootstrap) => {
      const client = new RpcClient({ secret, instance: `node-${nodeId}` });
      const called = new Set<string>();
      const notified = new Set<string>();
      const call = client.call.bind(client);
      const notify = client.notify.bind(client);
      client.call = (peer, method, request, options) => {
        called.add(method.name);
        return call(peer, method, request, options);
      };
      client.notify = (peer, method, request, options) => {
        notified.add(method.name);
        return notify(peer, method, request, options);
      };
      let host: RaftHost;
      const transport = new RpcRaftTransport({ localNodeId: nodeId as NodeId, localAddress: address, client, snapshotChunkBytes: 64 * 1024, onUnreachable: (groupId, peer) => host.reportUnreachable(groupId, peer) });
      host = new RaftHost({
        nodeId: nodeId as NodeId,
        persistence: new MemoryPersistence(),
        transport,
        random: createRandom(seed),
        defer: (work) => setImmediate(work),
        limits: { snapshotEntriesMin: 50, entriesKeptAfterSnapshot: 10, requestTimeoutTicks: 200 },
      });
      registerRaftTransport(host, heartbeat, replica);
      const machine = new KeyValueStateMachine();
      host.createGroup({ groupId: 1, peers, stateMachine: machine, bootstrap });
      const ticker = setInterval(() => host.tick(), 10);
      return { host, machine, address, heartbeat, replica, client, ticker, called, notified };
    },
  };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('hosts on different ports of one host replicate over RPC, and a new member gets a chunked snapshot', async () => {
  const pending = await Promise.all([1, 2, 3].map((nodeId) => startMember(nodeId, nodeId * 11)));
  const peers = pending.map((member) => member.address);
  const members = pending.map((member) => member.start(peers, true));
  try {
    const leader = await waitFor('a leader', () => members.find((member) => member.host.status(1).role === Role.Leader));
    const writes = [];
    for (let index = 0; index < 200; index++) writes.push(leader.host.propose(1, putCommand(`key-${index}`, 'x'.repeat(2000))));
    await Promise.all(writes);
    await waitFor('every replica applied', () => (members.every((member) => member.machine.values.size === 200) ? true : undefined));
    const hash = leader.machine.stateHash();
    for (const member of members) assert.equal(member.machine.stateHash(), hash);
    assert.ok(leader.host.status(1).snapshotIndex > 0, 'the log was compacted behind a snapshot');

    const joiner = await startMember(4, 44);
    const newcomer = joiner.start([...peers, joiner.address], false);
    members.push(newcomer);
    const added = await leader.host.proposeConfChange(1, ConfChangeType.AddVoter, joiner.address);
    assert.deepEqual([...added.voters].sort(), [1, 2, 3, 4]);
    await waitFor('the newcomer caught up', () => (newcomer.machine.stateHash() === hash ? true : undefined));
    assert.ok(newcomer.host.status(1).snapshotIndex > 0, 'through a snapshot');
    assert.ok(leader.machine.snapshot().length > 4 * 64 * 1024, 'of several 64 KiB chunks');
    // Message batches go one way (no acknowledgement frame); snapshot chunks are calls.
    assert.deepEqual([...leader.called], [RaftTransportService.installSnapshotChunk.name]);
    for (const member of members) {
      assert.ok(!member.called.has(RaftTransportService.send.name) && !member.called.has(RaftTransportService.heartbeat.name), `node ${member.address.nodeId} calls ${[...member.called].join(', ')}`);
      assert.ok(member.notified.has(RaftTransportService.send.name), `node ${member.address.nodeId} sends batches one way`);
    }
  } finally {
    for (const member of members) {
      clearInterval(member.ticker);
      await member.host.stop();
      await member.client.close();
      await member.heartbeat.stop();
      await member.replica.stop();
    }
  }
});
