// Three `atoll master` processes on loopback: SIGKILL of the leader, a frozen (SIGSTOP)
// leader, and a restart of the whole group. The master client is the one nodes and the
// CLI use.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Master } from '../proto/generated/master.js';
import { MasterClient } from '../masterclient/index.js';
import type { RpcClient } from '../rpc/index.js';
import { masterLimitsDefault } from './limits.js';
import { NodeFleet } from './testing/node-fleet.js';
import { createVolumeAt, exited, newTestRpcClient, planMasterGroup, removePlan, spawnMaster, waitFor, waitForLeader, type MasterGroupPlan } from './testing/master-group.js';

// The election timeout is 10 to 20 ticks; the client's retry budget comes on top.
const electionTimeoutMaxMs = 20 * masterLimitsDefault.raftTickMs;

describe('three master processes', { timeout: 180_000 }, () => {
  let plan: MasterGroupPlan;
  let rpc: RpcClient;
  const children = new Map<number, ChildProcess>();
  let masterClient: MasterClient;

  const startAll = async () => {
    for (let index = 0; index < plan.addresses.length; index++) children.set(index, spawnMaster(plan, index));
    return waitForLeader(rpc, plan.addresses, 30_000);
  };
  const stopAll = async (signal: NodeJS.Signals) => {
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await Promise.all([...children.values()].map(exited));
    children.clear();
  };
  const indexOf = (address: string) => plan.addresses.indexOf(address);
  const admin = (method: string, path: string, body?: unknown) => masterClient.admin(method, path, body, { adminToken: plan.adminToken });

  before(async () => {
    plan = await planMasterGroup(3);
    rpc = newTestRpcClient(plan);
    await startAll();
    masterClient = new MasterClient({ masters: plan.addresses, rpc });
    masterClient.start();
  });

  after(async () => {
    masterClient?.stop();
    await stopAll('SIGKILL');
    await rpc?.close();
    if (plan !== undefined) await removePlan(plan);
  });

  test('SIGKILL of the leader: a new leader is elected, the client fails over in bounded time, and nothing is lost', async () => {
    const fleet = new NodeFleet(rpc, plan.addresses);
    await fleet.register('metanode', 3);
    await fleet.register('datanode', 3);
    for (const name of ['before-kill-1', 'before-kill-2']) {
      const created = await admin('POST', '/api/v1/volumes', { name, capacityBytes: 2 ** 30 });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    const oldLeader = await waitForLeader(rpc, plan.addresses);
    const killed = children.get(indexOf(oldLeader))!;
    killed.kill('SIGKILL');
    await exited(killed);
    const killedAt = Date.now();
    // The client's next call succeeds within the election timeout plus its retry bound.
    const info = await masterClient.call(Master.clusterInfo, {});
    void info;
    const view = await masterClient.getVolumeView('before-kill-1');
    const tookMs = Date.now() - killedAt;
    assert.equal(view.volume, 'before-kill-1');
    const retryBoundMs = masterClient.limits.retryTotalMs;
    assert.ok(tookMs <= electionTimeoutMaxMs + retryBoundMs, `failover took ${tookMs} ms`);
    const newLeader = await waitForLeader(rpc, plan.addresses, 20_000, [oldLeader]);
    assert.notEqual(newLeader, oldLeader);
    const created = await admin('POST', '/api/v1/volumes', { name: 'after-kill', capacityBytes: 2 ** 30 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.handledBy, newLeader);

    // The killed master comes back and catches up.
    children.set(indexOf(oldLeader), spawnMaster(plan, indexOf(oldLeader)));
    await waitFor('the restarted master to know the new volume', 30_000, async () => {
      const reply = await rpc.call(oldLeader, Master.admin, { method: 'GET', path: '/api/v1/cluster', bodyJson: '', adminToken: '', forwardedHops: 0 });
      const body = JSON.parse(reply.bodyJson);
      return body.leader === newLeader && body.members.every((member: { state: string }) => member.state !== 'down') ? true : undefined;
    });

    // Every master down, every master back: nodes and volumes are still there.
    await stopAll('SIGTERM');
    await startAll();
    const volumes = await waitFor('volumes after a full restart', 30_000, async () => {
      const listed = await admin('GET', '/api/v1/volumes');
      return listed.status === 200 ? listed.body as { volumes: Array<{ name: string }> } : undefined;
    });
    assert.deepEqual(volumes.volumes.map((volume) => volume.name).sort(), ['after-kill', 'before-kill-1', 'before-kill-2']);
    const nodes = await admin('GET', '/api/v1/nodes');
    assert.equal((nodes.body as { nodes: unknown[] }).nodes.length, 6);
  });

  test('a frozen leader accepts no write while the others elect a new one, and converges when it thaws', async () => {
    const frozenAddress = await waitForLeader(rpc, plan.addresses);
    const frozen = children.get(indexOf(frozenAddress))!;
    frozen.kill('SIGSTOP');
    let thawed = false;
    try {
      const newLeader = await waitForLeader(rpc, plan.addresses, 20_000, [frozenAddress]);
      // A write whose answer times out has an unknown outcome and is not retried by the
      // client; this test is about the frozen leader, so it writes once the client's
      // health checks have moved to the new leader.
      await waitFor('the client to follow the new leader', 10_000, () => (masterClient.state().leader === newLeader ? true : undefined));
      const created = await admin('POST', '/api/v1/volumes', { name: 'while-frozen', capacityBytes: 2 ** 30 });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.handledBy, newLeader);
      frozen.kill('SIGCONT');
      thawed = true;
      // At once, before it has heard of the new term, ask the old leader to write.
      const attempt = await createVolumeAt(rpc, plan, frozenAddress, 'zombie-write');
      if (attempt.httpStatus === 201) {
        assert.notEqual(attempt.handledBy, frozenAddress, 'the deposed leader itself executed a write');
      }
      // Every master converges on one state, and the write is there only if it was acknowledged.
      const converged = await waitFor('the thawed master to converge', 30_000, async () => {
        const answers = await Promise.all(plan.addresses.map((address) => rpc.call(address, Master.admin, { method: 'GET', path: '/api/v1/cluster', bodyJson: '', adminToken: '', forwardedHops: 0 }).then((reply) => JSON.parse(reply.bodyJson))));
        const applied = new Set(answers.map((answer) => answer.appliedIndex));
        const leaders = new Set(answers.map((answer) => answer.leader));
        return applied.size === 1 && leaders.size === 1 && !leaders.has('') ? answers : undefined;
      });
      assert.notEqual(converged[0].leader, '');
      const listed = await admin('GET', '/api/v1/volumes');
      const names = (listed.body as { volumes: Array<{ name: string }> }).volumes.map((volume) => volume.name);
      assert.ok(names.includes('while-frozen'));
      assert.equal(names.includes('zombie-write'), attempt.httpStatus === 201, `zombie write answered ${attempt.httpStatus}: ${attempt.bodyJson}`);
    } finally {
      if (!thawed) frozen.kill('SIGCONT');
    }
  });
});
