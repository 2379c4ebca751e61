// Three hosts in one process, each with its own heartbeat and replica listeners on
// loopback: the transport over real sockets, including snapshots in chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '../checksum/index.js';
import { isAtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { ConfChangeType, MessageType, Role, makeMessage, type LogIndex, type Message, type NodeId, type Term } from '../raft/index.js';
import { messageToWire } from './message-codec.js';
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

function snapshotMessage(groupId: number, index: number, bytes: number): { groupId: number; message: Message } {
  const data = new Uint8Array(bytes).fill(index % 251);
  const snapshot = { metadata: { index: index as LogIndex, term: 1 as Term, confState: { voters: [1 as NodeId, 2 as NodeId], learners: [] } }, data };
  return { groupId, message: makeMessage({ type: MessageType.Snapshot, from: 1 as NodeId, to: 2 as NodeId, term: 1 as Term, snapshot }) };
}

test('snapshot-sends-max: a snapshot beyond the limit is not sent but reported failed at once; it goes once a slot is free', async () => {
  // A receiver that holds every chunk until released, so the first send stays in flight.
  const replica = new RpcServer({ secret, instance: 'slow-receiver' });
  const held: Array<() => void> = [];
  let chunksReceived = 0;
  replica.handle(RaftTransportService.installSnapshotChunk, async (chunk) => {
    chunksReceived++;
    await new Promise<void>((resolve) => held.push(resolve));
    return { nextOffset: chunk.offset + chunk.totalBytes };
  });
  const to: PeerAddress = { nodeId: 2 as NodeId, host: '127.0.0.1', heartbeatPort: 1, replicaPort: await replica.listen('127.0.0.1', 0) };
  const client = new RpcClient({ secret, instance: 'sender' });
  const transport = new RpcRaftTransport({ localNodeId: 1 as NodeId, localAddress: { ...to, nodeId: 1 as NodeId }, client, onUnreachable: () => {}, snapshotSendsMax: 1 });
  try {
    const first = transport.sendSnapshot(to, snapshotMessage(1, 10, 1000));
    await waitFor('the first chunk at the receiver', () => (chunksReceived === 1 ? true : undefined));
    assert.equal(transport.snapshotsSending, 1);
    assert.equal(await transport.sendSnapshot(to, snapshotMessage(2, 10, 1000)), false, 'over the limit: refused without sending');
    assert.equal(chunksReceived, 1);
    held.shift()!();
    assert.equal(await first, true);
    assert.equal(transport.snapshotsSending, 0);
    const third = transport.sendSnapshot(to, snapshotMessage(2, 10, 1000));
    await waitFor('the next snapshot at the receiver', () => (chunksReceived === 2 ? true : undefined));
    held.shift()!();
    assert.equal(await third, true);
  } finally {
    for (const release of held) release();
    await client.close();
    await replica.stop();
  }
});

test('snapshot-receives-max: the first chunk of one snapshot too many is refused with OVERLOADED; a finished one frees its slot', async () => {
  const heartbeat = new RpcServer({ secret, instance: 'receiver-hb' });
  const replica = new RpcServer({ secret, instance: 'receiver-rep' });
  const replicaPort = await replica.listen('127.0.0.1', 0);
  const host = new RaftHost({ nodeId: 2 as NodeId, persistence: new MemoryPersistence(), transport: { sendHeartbeats() {}, send() {}, sendSnapshot: async () => false }, random: createRandom(7), defer: (work) => setImmediate(work) });
  registerRaftTransport(host, heartbeat, replica, { snapshotReceivesMax: 1 });
  const client = new RpcClient({ secret, instance: 'sender' });
  const address = `127.0.0.1:${replicaPort}`;
  const firstChunk = (groupId: number, last: boolean) => {
    const { message } = snapshotMessage(groupId, 10, 100);
    const payload = Buffer.from(message.snapshot!.data);
    const half = last ? payload : payload.subarray(0, 50);
    return client.call(address, RaftTransportService.installSnapshotChunk, {
      message: messageToWire(groupId, message), offset: 0, totalBytes: payload.length, chunkCrc32: crc32(half), snapshotCrc32: crc32(payload), last,
    }, { payload: half, deadlineMs: 10_000 });
  };
  try {
    assert.deepEqual(await firstChunk(1, false), { nextOffset: 50 }, 'the first snapshot is being received');
    await assert.rejects(firstChunk(2, false), (error: unknown) => {
      assert.ok(isAtollError(error, StatusCode.OVERLOADED), String(error));
      assert.match((error as Error).message, /1 snapshots are being received \(snapshot-receives-max 1\)/);
      return true;
    });
    // The first one, restarted and sent whole, completes and frees the slot.
    assert.deepEqual(await firstChunk(1, true), { nextOffset: 100 });
    assert.deepEqual(await firstChunk(2, true), { nextOffset: 100 });
  } finally {
    await host.stop();
    await client.close();
    await heartbeat.stop();
    await replica.stop();
  }
});
