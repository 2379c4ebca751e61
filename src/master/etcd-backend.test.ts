// Three masters inside the test process on a real etcd (backend etcd): forwarding and
// versioned views as with Raft, the state as one etcd key per record with views
// versioned by etcd revisions, a fenced write of a deposed leader refused by etcd, and
// etcd going away and coming back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient } from '../etcd/etcd-client.js';
import { etcdSuiteOptions, startTestEtcd, type TestEtcd } from '../etcd/testing/etcd-available.js';
import { Master } from '../proto/generated/master.js';
import type { RpcClient } from '../rpc/index.js';
import type { EtcdCoordination } from './etcd-coordination.js';
import type { MasterServer } from './master-server.js';
import { NodeFleet } from './testing/node-fleet.js';
import { etcdBackendArguments, httpAdmin, newTestRpcClient, planMasterGroup, removePlan, startMasterGroupInProcess, waitFor, waitForLeader, type MasterGroupPlan } from './testing/master-group.js';

const prefix = '/atoll-test/in-process';
const leaseTtlMs = 3_000;

describe('three masters on etcd, in process', { timeout: 180_000, ...etcdSuiteOptions('masters on etcd (in process)') }, () => {
  let server: TestEtcd;
  let etcd: EtcdClient;
  let plan: MasterGroupPlan;
  let masters: MasterServer[];
  let client: RpcClient;

  const byAddress = (address: string) => masters.find((master) => master.selfAddress === address)!;
  const httpPortOf = (master: MasterServer) => master.instance.ports.http;
  const createVolume = (master: MasterServer, name: string) => httpAdmin(httpPortOf(master), 'POST', '/api/v1/volumes', { body: { name, capacityBytes: 2 ** 30 }, token: plan.adminToken });
  // As a client does: a 503 (a new leader still loading the state from etcd) is retried, within a bound.
  const createVolumeRetrying = async (master: MasterServer, name: string) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const answer = await createVolume(master, name);
      if (answer.status !== 503 || Date.now() > deadline) return answer;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  before(async () => {
    server = await startTestEtcd();
    etcd = new EtcdClient({ endpoints: [server.etcd.endpoint] });
    plan = await planMasterGroup(3, etcdBackendArguments(server.etcd.endpoint, prefix, `${leaseTtlMs}ms`));
    masters = await startMasterGroupInProcess(plan);
    client = newTestRpcClient(plan);
    await waitForLeader(client, plan.addresses, 30_000);
    const fleet = new NodeFleet(client, plan.addresses);
    await fleet.register('metanode', 3);
    await fleet.register('datanode', 3);
  });

  after(async () => {
    await client?.close();
    await Promise.all((masters ?? []).map((master) => master.stop()));
    etcd?.close();
    await server?.dispose();
    if (plan !== undefined) await removePlan(plan);
  });

  test('a follower forwards writes; the state is one etcd key per record; view versions are etcd revisions', async () => {
    const leader = byAddress(await waitForLeader(client, plan.addresses));
    const follower = masters.find((master) => master !== leader)!;
    assert.equal(leader.statusExtra().master && (leader.statusExtra().master as { backend: string }).backend, 'etcd');
    const created = await createVolume(follower, 'alpha');
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const records = await etcd.range(`${prefix}/state/`, { prefix: true });
    const keys = records.kvs.map((kv) => kv.key.slice(`${prefix}/state/`.length));
    assert.ok(keys.includes('counters') && keys.includes('volumes/alpha'), keys.join(' '));
    assert.equal(keys.filter((key) => key.startsWith('nodes/')).length, 6);
    assert.equal(keys.filter((key) => key.startsWith('partitions/')).length, Object.keys(leader.state.partitions).length);
    const volumeRecord = records.kvs.find((kv) => kv.key === `${prefix}/state/volumes/alpha`)!;
    const view = await client.call(leader.selfAddress, Master.getVolumeView, { volume: 'alpha', knownVersion: 0 });
    assert.equal(view.version, volumeRecord.modRevision, 'the view version is the revision that wrote the volume record');
    // The leader pushes the view; a follower serves it at the same version.
    const atFollower = await waitFor('the follower to serve the view', 10_000, async () => {
      try {
        return await client.call(follower.selfAddress, Master.getVolumeView, { volume: 'alpha', knownVersion: view.version });
      } catch {
        return undefined;
      }
    });
    assert.equal(atFollower.version, view.version);
    await waitFor('the follower\'s copy of the state', 30_000, () => (follower.state.volumes.alpha !== undefined ? true : undefined));
  });

  test('a deposed leader\'s write in flight is refused by etcd (fencing); the new leader\'s versions only grow', async () => {
    const oldLeader = byAddress(await waitForLeader(client, plan.addresses));
    const coordination = oldLeader.coordination as EtcdCoordination;
    const versionBefore = (await client.call(oldLeader.selfAddress, Master.getVolumeView, { volume: 'alpha', knownVersion: 0 })).version;
    let release: () => void = () => {};
    let entered: () => void = () => {};
    const hookEntered = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    coordination.beforeStateTxn = async () => {
      entered();
      await gate;
    };
    let pending: Promise<{ status: number; body: unknown }> | null = null;
    try {
      pending = createVolume(oldLeader, 'zombie');
      await hookEntered;
      // The lease ends on etcd's side (as if this leader had been frozen past its TTL).
      const election = await etcd.range(`${prefix}/election/`, { prefix: true, sortByCreate: true });
      const own = election.kvs[0]!;
      assert.equal(JSON.parse(own.value.toString()).address, oldLeader.selfAddress);
      await etcd.leaseRevoke(own.lease);
      const newLeaderAddress = await waitForLeader(client, plan.addresses, 20_000, [oldLeader.selfAddress]);
      const written = await createVolumeRetrying(byAddress(newLeaderAddress), 'after-fence');
      assert.equal(written.status, 201, JSON.stringify(written.body));
    } finally {
      coordination.beforeStateTxn = null;
      release();
    }
    const refused = await pending!;
    assert.notEqual(refused.status, 201, `the deposed leader's write landed: ${JSON.stringify(refused.body)}`);
    assert.match(JSON.stringify(refused.body), /election key in etcd expired, the write was refused/, 'refused by the fence, not before it');
    assert.equal(await etcd.get(`${prefix}/state/volumes/zombie`), undefined);
    assert.ok(await etcd.get(`${prefix}/state/volumes/after-fence`));
    const newLeader = byAddress(await waitForLeader(client, plan.addresses));
    const versionAfter = (await client.call(newLeader.selfAddress, Master.getVolumeView, { volume: 'alpha', knownVersion: 0 })).version;
    assert.ok(versionAfter >= versionBefore, `view version went back from ${versionBefore} to ${versionAfter}`);
    // The deposed master campaigns again and follows; nothing it holds is newer than etcd.
    await waitFor('the deposed master to follow', 20_000, () => (oldLeader.clusterInfo().leader === newLeader.selfAddress ? true : undefined));
  });

  test('etcd down: writes are refused with a retryable status; etcd back: writes work again', async () => {
    const leader = byAddress(await waitForLeader(client, plan.addresses));
    await server.etcd.stop();
    try {
      // Within the lease's TTL plus a request deadline the answer is 503 UNAVAILABLE.
      const refused = await waitFor('a retryable refusal', leaseTtlMs + 10_000, async () => {
        const reply = await createVolume(leader, `while-down-${Date.now()}`);
        assert.notEqual(reply.status, 201, 'a write succeeded with etcd down');
        return reply.status === 503 ? reply : undefined;
      });
      assert.equal((refused.body as { error: { code: string } }).error.code, 'UNAVAILABLE', JSON.stringify(refused.body));
      const ready = await fetch(`http://127.0.0.1:${httpPortOf(leader)}/readyz`);
      await ready.arrayBuffer();
      await waitFor('readyz to say not ready', leaseTtlMs + 5_000, async () => {
        const response = await fetch(`http://127.0.0.1:${httpPortOf(leader)}/readyz`);
        await response.arrayBuffer();
        return response.status === 503 ? true : undefined;
      });
    } finally {
      await server.etcd.restart();
    }
    const after = await waitFor('a write after etcd came back', 30_000, async () => {
      const anyLeader = byAddress(await waitForLeader(client, plan.addresses, 5_000));
      const reply = await createVolume(anyLeader, 'after-etcd-restart');
      return reply.status === 201 ? reply : undefined;
    }, 200);
    assert.equal(after.status, 201);
    const listed = await etcd.range(`${prefix}/state/volumes/`, { prefix: true, keysOnly: true });
    assert.deepEqual(listed.kvs.map((kv) => kv.key.slice(`${prefix}/state/volumes/`.length)).sort(), ['after-etcd-restart', 'after-fence', 'alpha']);
  });
});
