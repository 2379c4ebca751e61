// Three `atoll master --backend etcd` processes on a real etcd: SIGKILL of the leader (a
// new one leads within the lease TTL plus a bound, and the master client fails over as
// with Raft), and a frozen (SIGSTOP) leader past its lease: a new leader is elected and
// nothing the old one writes after it was deposed lands in etcd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { EtcdClient } from '../etcd/etcd-client.js';
import { etcdSuiteOptions, startTestEtcd, type TestEtcd } from '../etcd/testing/etcd-available.js';
import { freePorts } from '../launcher/index.js';
import { MasterClient } from '../masterclient/index.js';
import { Master } from '../proto/generated/master.js';
import type { RpcClient } from '../rpc/index.js';
import { etcdCoordinationLimitsDefault } from './etcd-coordination.js';
import { NodeFleet } from './testing/node-fleet.js';
import { createVolumeAt, exited, etcdBackendArguments, newTestRpcClient, planMasterGroup, removePlan, spawnMaster, waitFor, waitForLeader, type MasterGroupPlan } from './testing/master-group.js';

const prefix = '/atoll-test/processes';
const leaseTtlMs = 3_000;
// Taking over needs the lease to expire on etcd's side (TTL, counted by etcd from the
// last keep-alive), one observation by the next master, and a load of the state.
const takeoverBoundMs = leaseTtlMs + etcdCoordinationLimitsDefault.observeIntervalMs + 5_000;

describe('three master processes on etcd', { timeout: 240_000, ...etcdSuiteOptions('master processes on etcd') }, () => {
  let server: TestEtcd;
  let etcd: EtcdClient;
  let plan: MasterGroupPlan;
  let rpc: RpcClient;
  let masterClient: MasterClient;
  const children = new Map<number, ChildProcess>();
  const indexOf = (address: string) => plan.addresses.indexOf(address);
  const admin = (method: string, path: string, body?: unknown) => masterClient.admin(method, path, body, { adminToken: plan.adminToken });
  const volumeNames = async () => (await etcd.range(`${prefix}/state/volumes/`, { prefix: true, keysOnly: true })).kvs.map((kv) => kv.key.slice(`${prefix}/state/volumes/`.length)).sort();

  before(async () => {
    server = await startTestEtcd();
    etcd = new EtcdClient({ endpoints: [server.etcd.endpoint] });
    plan = await planMasterGroup(3, etcdBackendArguments(server.etcd.endpoint, prefix, `${leaseTtlMs}ms`));
    rpc = newTestRpcClient(plan);
    for (let index = 0; index < plan.addresses.length; index++) children.set(index, spawnMaster(plan, index));
    const leader = await waitForLeader(rpc, plan.addresses, 30_000);
    // Every master up and following (a port taken meanwhile by another program fails here, named).
    await waitFor('all three masters to follow the leader', 30_000, async () => {
      const answers = await Promise.all(plan.addresses.map((address) => rpc.call(address, Master.clusterInfo, {}, { deadlineMs: 1_000 })));
      return answers.every((answer) => answer.leader === leader) ? true : undefined;
    });
    // One address more that nothing listens on: the client skips it as it skips a dead master.
    const [deadPort] = await freePorts('127.0.0.1', 1);
    masterClient = new MasterClient({ masters: [...plan.addresses, `127.0.0.1:${deadPort}`], rpc });
    masterClient.start();
  });

  after(async () => {
    masterClient?.stop();
    for (const child of children.values()) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
    }
    await Promise.all([...children.values()].map(exited));
    await rpc?.close();
    etcd?.close();
    await server?.dispose();
    if (plan !== undefined) await removePlan(plan);
  });

  test('SIGKILL of the leader: a new leader within the lease TTL plus a bound; the client fails over; nothing is lost', async () => {
    const fleet = new NodeFleet(rpc, plan.addresses);
    await fleet.register('metanode', 3);
    await fleet.register('datanode', 3);
    const created = await admin('POST', '/api/v1/volumes', { name: 'before-kill', capacityBytes: 2 ** 30 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const oldLeader = await waitForLeader(rpc, plan.addresses);
    const killed = children.get(indexOf(oldLeader))!;
    killed.kill('SIGKILL');
    await exited(killed);
    const killedAt = Date.now();
    const newLeader = await waitForLeader(rpc, plan.addresses, takeoverBoundMs + 10_000, [oldLeader]);
    const tookMs = Date.now() - killedAt;
    assert.ok(tookMs <= takeoverBoundMs, `takeover took ${tookMs} ms, bound ${takeoverBoundMs} ms`);
    // The client's calls succeed, on the new leader, within its retry bound.
    const view = await masterClient.getVolumeView('before-kill');
    assert.equal(view.volume, 'before-kill');
    const after = await admin('POST', '/api/v1/volumes', { name: 'after-kill', capacityBytes: 2 ** 30 });
    assert.equal(after.status, 201, JSON.stringify(after.body));
    assert.equal(after.handledBy, newLeader);
    const nodes = await admin('GET', '/api/v1/nodes');
    assert.equal((nodes.body as { nodes: unknown[] }).nodes.length, 6);
    assert.deepEqual(await volumeNames(), ['after-kill', 'before-kill']);
    // The killed master comes back as a follower of the new leader.
    children.set(indexOf(oldLeader), spawnMaster(plan, indexOf(oldLeader)));
    await waitFor('the restarted master to follow', 30_000, async () => {
      const info = await rpc.call(oldLeader, Master.clusterInfo, {}, { deadlineMs: 1_000 });
      return info.leader === newLeader ? true : undefined;
    });
  });

  test('a leader frozen past its lease is replaced, and none of its writes land after', async () => {
    const frozenAddress = await waitForLeader(rpc, plan.addresses);
    const frozen = children.get(indexOf(frozenAddress))!;
    // A write in flight when the leader freezes: it lands before the freeze or never.
    const inFlight = createVolumeAt(rpc, plan, frozenAddress, 'in-flight', 60_000);
    frozen.kill('SIGSTOP');
    let thawed = false;
    try {
      const frozenAt = Date.now();
      const newLeader = await waitForLeader(rpc, plan.addresses, takeoverBoundMs + 10_000, [frozenAddress]);
      assert.ok(Date.now() - frozenAt <= takeoverBoundMs, `takeover took ${Date.now() - frozenAt} ms`);
      const term = (await rpc.call(newLeader, Master.clusterInfo, {})).term;
      const created = await createVolumeAt(rpc, plan, newLeader, 'while-frozen');
      assert.equal(created.httpStatus, 201, created.bodyJson);
      frozen.kill('SIGCONT');
      thawed = true;
      // At once, before it has heard of the new leader, ask the old one to write.
      const attempt = await createVolumeAt(rpc, plan, frozenAddress, 'zombie-write');
      if (attempt.httpStatus === 201) assert.notEqual(attempt.handledBy, frozenAddress, 'the deposed leader itself executed a write');
      const flown = await inFlight;
      // Every record in etcd written since the new leader's election was written by it:
      // the in-flight write is there only from before the freeze, the zombie only if the
      // new leader executed it.
      const inFlightRecord = await etcd.get(`${prefix}/state/volumes/in-flight`);
      if (inFlightRecord !== undefined) assert.ok(inFlightRecord.modRevision < term, `the in-flight write landed at ${inFlightRecord.modRevision}, after the new leader's election at ${term}`);
      assert.equal(inFlightRecord !== undefined, flown.httpStatus === 201, `in-flight write answered ${flown.httpStatus}: ${flown.bodyJson}`);
      const zombie = await etcd.get(`${prefix}/state/volumes/zombie-write`);
      assert.equal(zombie !== undefined, attempt.httpStatus === 201, `zombie write answered ${attempt.httpStatus}: ${attempt.bodyJson}`);
      if (zombie !== undefined) assert.ok(zombie.modRevision > term);
      // Everyone converges on the new leader; the thawed master campaigns again and follows.
      await waitFor('the masters to agree', 30_000, async () => {
        const answers = await Promise.all(plan.addresses.map((address) => rpc.call(address, Master.clusterInfo, {}, { deadlineMs: 1_000 })));
        return answers.every((answer) => answer.leader === newLeader) ? true : undefined;
      });
      assert.ok((await volumeNames()).includes('while-frozen'));
    } finally {
      if (!thawed) frozen.kill('SIGCONT');
    }
  });
});
