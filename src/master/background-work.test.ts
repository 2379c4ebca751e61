// The leader's background work end to end on a real master: partitions created on nodes
// through heartbeat tasks, decommission of a node, replacement of an inactive node's
// replicas, the split of the last meta partition and the floor of writable data
// partitions. The nodes are the protocol-level stand-ins of testing/node-fleet.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeTaskKind } from '../proto/generated/master.js';
import type { RpcClient } from '../rpc/index.js';
import type { MasterServer } from './master-server.js';
import type { PartitionRecord } from './state.js';
import { NodeFleet } from './testing/node-fleet.js';
import { httpAdmin, newTestRpcClient, planMasterGroup, removePlan, startMasterGroupInProcess, waitFor, waitForLeader, type MasterGroupPlan } from './testing/master-group.js';

describe('background work of the master leader', { timeout: 120_000 }, () => {
  let plan: MasterGroupPlan;
  let master: MasterServer;
  let client: RpcClient;
  let fleet: NodeFleet;

  const admin = (method: string, path: string, body?: unknown) => httpAdmin(master.instance.ports.http, method, path, { token: plan.adminToken, body });
  const partitions = (): PartitionRecord[] => Object.values(master.state.partitions);
  // Heartbeats from every running node until the condition holds (bounded by the deadline).
  const pumpUntil = <Value>(what: string, check: () => Value | undefined, deadlineMs = 20_000) =>
    waitFor(what, deadlineMs, async () => {
      await fleet.heartbeatAll();
      return check();
    }, 100);
  const settled = () => partitions().every((partition) => partition.reportedMembers.join(',') === [...partition.peers].sort((a, b) => a - b).join(','));

  before(async () => {
    plan = await planMasterGroup(1);
    [master] = await startMasterGroupInProcess(plan);
    client = newTestRpcClient(plan);
    await waitForLeader(client, plan.addresses);
    fleet = new NodeFleet(client, plan.addresses);
    await fleet.register('metanode', 4);
    await fleet.register('datanode', 4);
    const created = await admin('POST', '/api/v1/volumes', { name: 'work', capacityBytes: 2 ** 40, replicaCount: 3 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });

  after(async () => {
    await client?.close();
    await master?.stop();
    if (plan !== undefined) await removePlan(plan);
  });

  test('the nodes get create tasks and the partitions form with the placed members', async () => {
    await pumpUntil('every partition formed', () => (settled() && partitions().every((partition) => partition.leaderNodeId !== 0) ? true : undefined));
    for (const partition of partitions()) {
      assert.equal(partition.peers.length, 3);
      assert.equal(new Set(partition.peers).size, 3);
    }
    assert.ok(fleet.tasksSeen.some((task) => task.kind === NodeTaskKind.TASK_CREATE_PARTITION && task.bootstrap));
  });

  test('decommission moves every replica off a node and reports progress until it is done', async () => {
    const target = partitions().find((partition) => partition.kind === 'data')!.peers[0]!;
    const started = await admin('POST', `/api/v1/nodes/${target}/decommission`);
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.equal(started.body.node.state, 'decommissioning');
    assert.ok(started.body.decommission.replicasRemaining > 0);
    await pumpUntil('the node decommissioned', () => (master.state.nodes[target]!.state === 'decommissioned' ? true : undefined));
    for (const partition of partitions()) {
      assert.ok(!partition.peers.includes(target) && !partition.reportedMembers.includes(target), `partition ${partition.id} still names node ${target}`);
      assert.equal(partition.peers.length, 3);
    }
    assert.equal(fleet.node(target).holds.size, 0, 'the node was told to delete its replicas');
    const detail = await admin('GET', `/api/v1/nodes/${target}`);
    assert.deepEqual(detail.body.decommission, { nodeId: target, state: 'decommissioned', replicasRemaining: 0, partitionsRemaining: [] });
  });

  test('a decommission in progress can be cancelled and the node takes replicas again', async () => {
    const target = fleet.nodes.find((node) => node.role === 'metanode' && master.state.nodes[node.nodeId]!.state === 'active')!.nodeId;
    const started = await admin('POST', `/api/v1/nodes/${target}/decommission`);
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const cancelled = await admin('DELETE', `/api/v1/nodes/${target}/decommission`);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.node.state, 'active');
    assert.equal(cancelled.body.decommission, null);
    const again = await admin('DELETE', `/api/v1/nodes/${target}/decommission`);
    assert.equal(again.status, 400);
    assert.match(again.body.error.message, /only a decommission in progress can be cancelled/);
    await pumpUntil('the partitions settled', () => (settled() ? true : undefined));
  });

  test('a node without heartbeats turns inactive and its replicas are replaced after the grace period', async () => {
    const changed = await admin('PATCH', '/api/v1/cluster/settings', { nodeInactiveAfterMs: 1_000, replicaReplaceAfterMs: 1_000 });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const meta = partitions().find((partition) => partition.kind === 'meta')!;
    const silent = meta.peers[0]!;
    fleet.node(silent).stopped = true;
    for (const partition of partitions()) fleet.electAway(partition.id, silent);
    await pumpUntil('the silent node inactive', () => (master.state.nodes[silent]!.state === 'inactive' ? true : undefined));
    await pumpUntil('its replicas replaced', () => (master.state.nodes[silent]!.replaced && settled() ? true : undefined));
    for (const partition of partitions()) assert.ok(!partition.peers.includes(silent), `partition ${partition.id} still has the silent node`);
    // It comes back: active again, with no replicas.
    fleet.node(silent).stopped = false;
    await pumpUntil('the node active again', () => (master.state.nodes[silent]!.state === 'active' ? true : undefined));
  });

  test('the last meta partition splits when its cursor passes the threshold', async () => {
    const changed = await admin('PATCH', '/api/v1/cluster/settings', { metaPartitionInodeRange: 1_024, metaPartitionSplitPercent: 50 });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const last = partitions().find((partition) => partition.kind === 'meta' && partition.inodeEnd === 0)!;
    fleet.setInodeCursor(last.id, 1 + 600);
    await pumpUntil('a second meta partition', () => (partitions().filter((partition) => partition.kind === 'meta').length === 2 ? true : undefined));
    const ended = master.state.partitions[last.id]!;
    assert.ok(ended.kind === 'meta' && ended.inodeEnd >= 1 + 1_024);
    await pumpUntil('the old leader told of its new end', () => (fleet.partitions.get(last.id)!.inodeEnd === (ended.kind === 'meta' ? ended.inodeEnd : -1) ? true : undefined));
    const view = await admin('GET', '/api/v1/volumes/work/view');
    assert.equal(view.body.metaPartitions.length, 2);
    assert.equal(view.body.metaPartitions[1].inodeStart, view.body.metaPartitions[0].inodeEnd);
  });

  test('new data partitions are made when writable ones fall below the floor', async () => {
    const changed = await admin('PATCH', '/api/v1/cluster/settings', { dataPartitionsWritableMin: 5 });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    await pumpUntil('five data partitions', () => (partitions().filter((partition) => partition.kind === 'data').length >= 5 ? true : undefined));
    await pumpUntil('the new ones formed', () => (settled() ? true : undefined));
  });
});
