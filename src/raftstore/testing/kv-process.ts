// TEST ONLY: one replica of a replicated key-value service, run as its own process by the
// Raft real-process test and the Raft benchmark. It uses the production pieces end to
// end: the RPC layer, the multi-raft host, the RPC Raft transport and the shared
// write-ahead log with real fsync. Not an AtollFS role.
//
// Usage: node kv-process.js <json options>
//   {"nodeId": 1, "dataDir": "...", "secret": "...", "groups": 1, "tickMs": 20,
//    "cluster": [{"nodeId": 1, "host": "127.0.0.1", "servicePort": N, "heartbeatPort": N, "replicaPort": N}, ...],
//    "exitWhenStdinEnds": false}
// Prints one JSON line {"ready": true, ...} once listening. With exitWhenStdinEnds the
// process shuts down when its stdin closes, so a parent that dies (even by SIGKILL) does
// not leave it running: give it a pipe for stdin.
import { createHash } from 'node:crypto';
import { NodeDisk } from '../../disk/index.js';
import { AtollError } from '../../errors/atoll-error.js';
import { StatusCode } from '../../proto/generated/common.js';
import { TestKv } from '../../proto/generated/testkv.js';
import { Role, type NodeId } from '../../raft/index.js';
import { createRandom } from '../../random/index.js';
import { RpcClient, RpcServer, registerDiagnostics } from '../../rpc/index.js';
import { RaftHost } from '../raft-host.js';
import { RpcRaftTransport, registerRaftTransport } from '../rpc-transport.js';
import { openWalPersistence } from '../wal-persistence.js';
import { KeyValueStateMachine, putCommand } from './kv-state-machine.js';
import { groupOfKey } from './kv-routing.js';

interface ClusterMember {
  nodeId: number;
  host: string;
  servicePort: number;
  heartbeatPort: number;
  replicaPort: number;
}

interface Options {
  nodeId: number;
  dataDir: string;
  secret: string;
  groups: number;
  tickMs: number;
  cluster: ClusterMember[];
  exitWhenStdinEnds?: boolean;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const self = options.cluster.find((member) => member.nodeId === options.nodeId);
if (self === undefined) throw new Error(`node ${options.nodeId} is not in the cluster list`);
const groupIds = Array.from({ length: options.groups }, (_, index) => index + 1);

const service = new RpcServer({ secret: options.secret, instance: `kv-${options.nodeId}` });
const heartbeat = new RpcServer({ secret: options.secret, instance: `kv-${options.nodeId}-hb` });
const replica = new RpcServer({ secret: options.secret, instance: `kv-${options.nodeId}-rep` });
registerDiagnostics(service);
await service.listen(self.host, self.servicePort);
await heartbeat.listen(self.host, self.heartbeatPort);
await replica.listen(self.host, self.replicaPort);

const { persistence, recovered } = await openWalPersistence(new NodeDisk(), options.dataDir);
const client = new RpcClient({ secret: options.secret, instance: `kv-${options.nodeId}` });
// eslint-disable-next-line prefer-const
let host: RaftHost;
const transport = new RpcRaftTransport({ localNodeId: options.nodeId as NodeId, localAddress: { nodeId: options.nodeId as NodeId, host: self.host, heartbeatPort: self.heartbeatPort, replicaPort: self.replicaPort }, client, onUnreachable: (groupId, peer) => host.reportUnreachable(groupId, peer) });
host = new RaftHost({
  nodeId: options.nodeId as NodeId,
  persistence,
  transport,
  random: createRandom(options.nodeId * 7919 + Date.now() % 100_000),
  defer: (work) => setImmediate(work),
  limits: { requestTimeoutTicks: Math.ceil(5000 / options.tickMs), snapshotEntriesMin: 5_000, entriesKeptAfterSnapshot: 500 },
});
registerRaftTransport(host, heartbeat, replica);
const peers = options.cluster.map((member) => ({ nodeId: member.nodeId as NodeId, host: member.host, heartbeatPort: member.heartbeatPort, replicaPort: member.replicaPort }));
const machines = new Map<number, KeyValueStateMachine>();
for (const groupId of groupIds) {
  const machine = new KeyValueStateMachine();
  machines.set(groupId, machine);
  const state = recovered.get(groupId);
  host.createGroup({ groupId, peers, stateMachine: machine, bootstrap: state === undefined, recovered: state });
}
const ticker = setInterval(() => host.tick(), options.tickMs);

function groupOf(key: string): number {
  return groupOfKey(key, groupIds.length);
}

function serviceAddressOf(nodeId: number): string {
  const member = options.cluster.find((candidate) => candidate.nodeId === nodeId);
  return member === undefined ? '' : `${member.host}:${member.servicePort}`;
}

// NOT_LEADER hints name the leader's service address, which clients can call.
function withServiceHint(error: unknown): never {
  if (error instanceof AtollError && error.status === StatusCode.NOT_LEADER) {
    const leader = Number(error.leaderHint.replace(/^node:/, ''));
    throw new AtollError(StatusCode.NOT_LEADER, error.message, { leaderHint: leader > 0 ? serviceAddressOf(leader) : '' });
  }
  throw error;
}

service.handle(TestKv.put, async (request) => {
  const previous = await host.propose(groupOf(request.key), putCommand(request.key, Buffer.from(request.value).toString('utf8'))).catch(withServiceHint);
  return { replaced: previous !== null };
});

service.handle(TestKv.get, async (request) => {
  const groupId = groupOf(request.key);
  if (request.linearizable) await host.readIndex(groupId).catch(withServiceHint);
  const value = machines.get(groupId)!.values.get(request.key);
  return { found: value !== undefined, value: Buffer.from(value ?? '') };
});

service.handle(TestKv.state, (request) => {
  const hash = createHash('sha256');
  let applied = 0;
  let keyCount = 0;
  let isLeader = true;
  let leader = 0;
  let term = 0;
  let committedEntries = 0;
  for (const groupId of groupIds) {
    const machine = machines.get(groupId)!;
    const status = host.status(groupId);
    applied += status.applied;
    committedEntries += status.commit;
    if (!request.countersOnly) {
      hash.update(machine.stateHash());
      keyCount += machine.values.size;
    }
    isLeader &&= status.role === Role.Leader;
    if (groupId === 1) {
      leader = status.leader;
      term = status.term;
    }
  }
  const wal = persistence.stats();
  const hostStats = host.stats();
  return {
    nodeId: options.nodeId,
    isLeader,
    leaderNodeId: leader,
    term,
    applied,
    keyCount,
    stateHash: request.countersOnly ? '' : hash.digest('hex'),
    walSyncs: wal.syncs,
    walRecords: wal.recordsWritten,
    committedEntries,
    hostCycles: hostStats.cycles,
    hostSyncedCycles: hostStats.syncedCycles,
    hostEntriesPersisted: hostStats.entriesPersisted,
    hostMessagesSent: hostStats.messagesSent,
    hostMessagesReceived: hostStats.messagesReceived,
  };
});

service.handle(TestKv.leaders, () => ({
  leaderAddresses: groupIds.map((groupId) => {
    const leader = host.status(groupId).leader;
    return leader === 0 ? '' : serviceAddressOf(leader);
  }),
}));

process.stdout.write(`${JSON.stringify({ ready: true, nodeId: options.nodeId, pid: process.pid, recoveredGroups: recovered.size })}\n`);

let shuttingDown = false;
const shutdown = async (): Promise<void> => {
  if (shuttingDown) return;
  shuttingDown = true;
  clearInterval(ticker);
  await host.stop();
  await service.stop();
  await heartbeat.stop();
  await replica.stop();
  await client.close();
  await persistence.close();
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
if (options.exitWhenStdinEnds === true) {
  process.stdin.once('end', () => void shutdown());
  process.stdin.once('error', () => void shutdown());
  process.stdin.resume();
}
