import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { encodeCommand, type MasterCommand, type RegisterNodeCommand } from './commands.js';
import { MasterStateMachine } from './state-machine.js';

function registration(overrides: Partial<RegisterNodeCommand> = {}): RegisterNodeCommand {
  return {
    type: 'registerNode',
    nowMs: 1_000,
    nodeId: 0,
    registrationToken: '',
    role: 'metanode',
    instance: 'metanode-1',
    host: '127.0.0.1',
    servicePort: 20_000,
    httpPort: 20_001,
    raftHeartbeatPort: 20_002,
    raftReplicaPort: 20_003,
    zone: 'default',
    capacityBytes: 0,
    ...overrides,
  };
}

class Replica {
  readonly machine = new MasterStateMachine('test');
  index = 0;
  apply(command: MasterCommand): unknown {
    this.index += 1;
    return this.machine.apply(this.index, encodeCommand(command));
  }
  refuse(command: MasterCommand, status: StatusCode): AtollError {
    try {
      this.apply(command);
    } catch (error) {
      assert.ok(error instanceof AtollError, `expected an AtollError, got ${String(error)}`);
      assert.equal(error.status, status, error.message);
      return error;
    }
    assert.fail(`command ${command.type} was not refused`);
  }
}

function clusterOf(replica: Replica, metanodes: number, datanodes: number): { meta: number[]; data: number[] } {
  const meta: number[] = [];
  const data: number[] = [];
  for (let index = 0; index < metanodes; index++) meta.push((replica.apply(registration({ instance: `metanode-${index}`, servicePort: 21_000 + index })) as { nodeId: number }).nodeId);
  for (let index = 0; index < datanodes; index++) data.push((replica.apply(registration({ role: 'datanode', instance: `datanode-${index}`, servicePort: 22_000 + index })) as { nodeId: number }).nodeId);
  return { meta, data };
}

function createVolume(name: string, meta: number[], data: number[], metaCount = 1, dataCount = 2): MasterCommand {
  return {
    type: 'createVolume',
    nowMs: 2_000,
    name,
    owner: 'root',
    accessKey: 'a',
    secretKey: 's',
    capacityBytes: 2 ** 30,
    replicaCount: 3,
    trashRetentionHours: 0,
    description: '',
    metaPartitions: Array.from({ length: metaCount }, () => ({ peers: meta })),
    dataPartitions: Array.from({ length: dataCount }, () => ({ peers: data })),
  };
}

test('node ids are allocated once and never reused, and a retried first registration keeps its id', () => {
  const replica = new Replica();
  const first = replica.apply(registration({ registrationToken: 'token-a' })) as { nodeId: number; created: boolean };
  const retried = replica.apply(registration({ registrationToken: 'token-a', servicePort: 20_100 })) as { nodeId: number; created: boolean };
  const second = replica.apply(registration({ registrationToken: 'token-b', instance: 'metanode-2' })) as { nodeId: number };
  assert.deepEqual(first, { nodeId: 1, created: true });
  assert.deepEqual(retried, { nodeId: 1, created: false });
  assert.equal(second.nodeId, 2);
  assert.equal(replica.machine.state.nodes[1]!.servicePort, 20_100, 'a new registration updates the address');
  assert.equal(replica.machine.state.nextNodeId, 3);
});

test('a node id the cluster never gave is refused, and a node cannot change its role', () => {
  const replica = new Replica();
  replica.apply(registration());
  replica.refuse(registration({ nodeId: 99 }), StatusCode.NOT_FOUND);
  replica.refuse(registration({ nodeId: 1, role: 'datanode' }), StatusCode.INVALID_ARGUMENT);
});

test('a volume gets its partitions with the inode space split in ranges and the last one unbounded', () => {
  const replica = new Replica();
  const { meta, data } = clusterOf(replica, 3, 3);
  replica.apply(createVolume('alpha', meta, data, 3, 2));
  const state = replica.machine.state;
  const metaPartitions = Object.values(state.partitions).filter((partition) => partition.kind === 'meta');
  const range = state.settings.metaPartitionInodeRange;
  assert.deepEqual(metaPartitions.map((partition) => partition.kind === 'meta' && [partition.inodeStart, partition.inodeEnd]), [[1, 1 + range], [1 + range, 1 + 2 * range], [1 + 2 * range, 0]]);
  assert.equal(Object.values(state.partitions).filter((partition) => partition.kind === 'data').length, 2);
  assert.equal(state.volumes.alpha!.viewVersion, replica.index);
  replica.refuse(createVolume('alpha', meta, data), StatusCode.EXISTS);
});

test('a volume whose replicas name an unknown node or the wrong role is refused and leaves no trace', () => {
  const replica = new Replica();
  const { meta, data } = clusterOf(replica, 3, 3);
  replica.refuse(createVolume('beta', [...meta.slice(0, 2), 999], data), StatusCode.NOT_FOUND);
  replica.refuse(createVolume('beta', data, data), StatusCode.INVALID_ARGUMENT);
  replica.refuse(createVolume('beta', [meta[0]!, meta[0]!, meta[1]!], data), StatusCode.INVALID_ARGUMENT);
  assert.deepEqual(replica.machine.state.volumes, {});
  assert.deepEqual(replica.machine.state.partitions, {});
  assert.equal(replica.machine.state.appliedIndex, replica.index, 'a refused command still moves the applied index');
});

test('a split ends the last meta partition and starts a new unbounded one there', () => {
  const replica = new Replica();
  const { meta, data } = clusterOf(replica, 3, 3);
  replica.apply(createVolume('gamma', meta, data));
  const last = Object.values(replica.machine.state.partitions).find((partition) => partition.kind === 'meta')!;
  replica.refuse({ type: 'splitMetaPartition', nowMs: 3_000, partitionId: last.id, inodeEnd: 1, peers: meta }, StatusCode.INVALID_ARGUMENT);
  const result = replica.apply({ type: 'splitMetaPartition', nowMs: 3_000, partitionId: last.id, inodeEnd: 5_000, peers: meta }) as { partitionId: number };
  const state = replica.machine.state;
  const ended = state.partitions[last.id]!;
  const created = state.partitions[result.partitionId]!;
  assert.ok(ended.kind === 'meta' && ended.inodeEnd === 5_000);
  assert.ok(created.kind === 'meta' && created.inodeStart === 5_000 && created.inodeEnd === 0);
  replica.refuse({ type: 'splitMetaPartition', nowMs: 3_000, partitionId: last.id, inodeEnd: 9_000, peers: meta }, StatusCode.INVALID_ARGUMENT);
});

test('reports change the view version only when what clients see changes', () => {
  const replica = new Replica();
  const { meta, data } = clusterOf(replica, 3, 3);
  replica.apply(createVolume('delta', meta, data));
  const partition = Object.values(replica.machine.state.partitions).find((candidate) => candidate.kind === 'data')!;
  const report = (usedBytes: number, leaderNodeId: number, leaderTerm = 2) => ({
    type: 'recordReports' as const,
    nowMs: 4_000,
    nodes: [],
    partitions: [{ partitionId: partition.id, leaderNodeId, leaderTerm, members: data, status: 'read-write' as const, usedBytes, extentCount: 1, inodeCursor: 0, inodeCount: 0, dentryCount: 0 }],
  });
  replica.apply(report(10, data[0]!));
  const afterLeader = replica.machine.state.volumes.delta!.viewVersion;
  assert.equal(afterLeader, replica.index, 'a new leader is a new view');
  replica.apply(report(20, data[0]!));
  assert.equal(replica.machine.state.volumes.delta!.viewVersion, afterLeader, 'usage alone is not a new view');
  replica.apply(report(30, data[1]!, 1));
  assert.equal(replica.machine.state.partitions[partition.id]!.leaderNodeId, data[0], 'a report of an older term is ignored');
});

test('partitions reported past the counter by a state restored from an older copy are strays: their ids are never handed out again', () => {
  const replica = new Replica();
  const { meta, data } = clusterOf(replica, 3, 3);
  replica.apply(createVolume('zeta', meta, data));
  const next = replica.machine.state.nextPartitionId;
  const known = Object.values(replica.machine.state.partitions)[0]!.id;
  replica.apply({ type: 'recordReports', nowMs: 6_000, nodes: [], partitions: [], strayPartitionIds: [known, next + 5, next + 2] });
  assert.deepEqual(replica.machine.state.strayPartitionIds, [next + 2, next + 5], 'a partition the state has is no stray');
  assert.equal(replica.machine.state.nextPartitionId, next + 6);
  replica.apply({ type: 'recordReports', nowMs: 6_000, nodes: [], partitions: [], strayPartitionIds: [next + 1] });
  assert.deepEqual(replica.machine.state.strayPartitionIds, [next + 2, next + 5], 'below the counter by now: an old deleted partition, not a stray');
  const created = replica.apply({ type: 'createPartitions', nowMs: 7_000, volume: 'zeta', kind: 'data', partitions: [{ peers: data }] }) as { partitionIds: number[] };
  assert.deepEqual(created.partitionIds, [next + 6], 'the next new partition takes the id after the last stray');
  const restored = new MasterStateMachine('test');
  restored.restore(replica.machine.snapshot(), replica.index);
  assert.deepEqual(restored.state.strayPartitionIds, [next + 2, next + 5]);
  const { strayPartitionIds: _dropped, ...older } = JSON.parse(Buffer.from(replica.machine.snapshot()).toString('utf8')) as Record<string, unknown>;
  restored.restore(Buffer.from(JSON.stringify(older)), replica.index);
  assert.deepEqual(restored.state.strayPartitionIds, [], 'a snapshot from before strays were tracked');
});

test('replicas that apply the same commands have the same digest, and a snapshot restores it', () => {
  const first = new Replica();
  const second = new Replica();
  for (const replica of [first, second]) {
    const { meta, data } = clusterOf(replica, 3, 4);
    replica.apply(createVolume('epsilon', meta, data));
    replica.apply({ type: 'updateVolume', name: 'epsilon', capacityBytes: 5, description: 'x' });
    replica.apply({ type: 'setNodeState', nowMs: 9, nodeId: data[0]!, state: 'decommissioning' });
  }
  assert.equal(first.machine.digest(), second.machine.digest());
  const restored = new MasterStateMachine('test');
  restored.restore(first.machine.snapshot(), first.index);
  assert.equal(restored.digest(), first.machine.digest());
});

test('settings outside their bounds are refused', () => {
  const replica = new Replica();
  const error = replica.refuse({ type: 'updateSettings', settings: { metaPartitionSplitPercent: 100 } }, StatusCode.INVALID_ARGUMENT);
  assert.match(error.message, /metaPartitionSplitPercent/);
  replica.apply({ type: 'updateSettings', settings: { metaPartitionSplitPercent: 50 } });
  assert.equal(replica.machine.state.settings.metaPartitionSplitPercent, 50);
});

test('deleting a volume removes its partitions; a decommissioned node cannot come back', () => {
  const replica = new Replica();
  const { meta, data } = clusterOf(replica, 3, 3);
  replica.apply(createVolume('zeta', meta, data));
  replica.apply({ type: 'deleteVolume', name: 'zeta' });
  assert.deepEqual(replica.machine.state.partitions, {});
  replica.refuse({ type: 'deleteVolume', name: 'zeta' }, StatusCode.NOT_FOUND);
  replica.apply({ type: 'setNodeState', nowMs: 1, nodeId: meta[0]!, state: 'decommissioned' });
  replica.refuse({ type: 'setNodeState', nowMs: 2, nodeId: meta[0]!, state: 'active' }, StatusCode.INVALID_ARGUMENT);
});

test('a command that does not decode stops the replica instead of being skipped', () => {
  const machine = new MasterStateMachine('test');
  assert.throws(() => machine.apply(1, Buffer.from('{"type":"explode"}')), (error: unknown) => !(error instanceof AtollError));
  assert.throws(() => machine.apply(1, Buffer.from('not json')), (error: unknown) => !(error instanceof AtollError));
});

test('replica changes made from the same members cannot undo each other, and an operator read-only outlives reports', () => {
  const replica = new Replica();
  const { meta, data } = clusterOf(replica, 4, 3);
  replica.apply(createVolume('eta', meta.slice(0, 3), data));
  const partition = Object.values(replica.machine.state.partitions).find((candidate) => candidate.kind === 'meta')!;
  const before = [...partition.peers];
  replica.apply({ type: 'setPreferredLeader', partitionId: partition.id, nodeId: before[0]! });
  replica.apply({ type: 'setPartitionPeers', partitionId: partition.id, expectedPeers: before, peers: [meta[3]!, ...before.slice(1)] });
  const error = replica.refuse({ type: 'setPartitionPeers', partitionId: partition.id, expectedPeers: before, peers: [...before, meta[3]!] }, StatusCode.CONFLICT);
  assert.match(error.message, /changed meanwhile/);
  const after = replica.machine.state.partitions[partition.id]!;
  assert.deepEqual(after.peers, [meta[3]!, ...before.slice(1)]);
  assert.equal(after.preferredLeaderNodeId, 0, 'a preferred leader that left is forgotten');

  replica.apply({ type: 'setPartitionStatus', partitionId: partition.id, status: 'read-only' });
  replica.apply({
    type: 'recordReports',
    nowMs: 5_000,
    nodes: [],
    partitions: [{ partitionId: partition.id, leaderNodeId: before[1]!, leaderTerm: 1, members: after.peers, status: 'read-write', usedBytes: 0, extentCount: 0, inodeCursor: 1, inodeCount: 1, dentryCount: 0 }],
  });
  assert.equal(replica.machine.state.partitions[partition.id]!.status, 'read-only');
  replica.apply({ type: 'setPartitionStatus', partitionId: partition.id, status: 'read-write' });
  assert.equal(replica.machine.state.partitions[partition.id]!.status, 'read-write');
});
