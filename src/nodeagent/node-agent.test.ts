import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtollError } from '../errors/atoll-error.js';
import type { MasterServer } from '../master/index.js';
import { newTestRpcClient, planMasterGroup, removePlan, startMasterGroupInProcess, waitFor, waitForLeader, type MasterGroupPlan } from '../master/testing/master-group.js';
import { MasterClient } from '../masterclient/index.js';
import { createLogger } from '../observability/index.js';
import { StatusCode } from '../proto/generated/common.js';
import type { RpcClient } from '../rpc/index.js';
import { NodeAgent } from './node-agent.js';

describe('the node agent against a real master', { timeout: 60_000 }, () => {
  let plan: MasterGroupPlan;
  let master: MasterServer;
  let rpc: RpcClient;
  let masterClient: MasterClient;
  let dataDir: string;
  const logger = createLogger({ role: 'datanode', instance: 'agent-test', level: 'error' });

  before(async () => {
    plan = await planMasterGroup(1);
    [master] = await startMasterGroupInProcess(plan);
    rpc = newTestRpcClient(plan);
    await waitForLeader(rpc, plan.addresses);
    masterClient = new MasterClient({ masters: plan.addresses, rpc });
    dataDir = await mkdtemp(join(tmpdir(), 'atoll-agent-'));
  });

  after(async () => {
    await masterClient?.stop();
    await rpc?.close();
    await master?.stop();
    if (plan !== undefined) await removePlan(plan);
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  const agentFor = (directory: string, servicePort: number) =>
    new NodeAgent({
      role: 'datanode',
      instance: `datanode-${servicePort}`,
      dataDir: directory,
      zone: 'default',
      address: { host: '127.0.0.1', servicePort, httpPort: servicePort + 1, raftHeartbeatPort: servicePort + 2, raftReplicaPort: servicePort + 3 },
      masterClient,
      logger,
      usage: async () => ({ capacityBytes: 5 * 2 ** 30, usedBytes: 2 ** 30 }),
      reports: () => [],
      onTasks: () => {},
      registerRetryMs: 50,
    });

  test('registers once, keeps its id across restarts, and its heartbeats reach the state', async () => {
    const first = agentFor(dataDir, 50_000);
    const identity = await first.start();
    assert.ok(identity.nodeId > 0);
    assert.equal(master.state.nodes[identity.nodeId]!.role, 'datanode');
    const saved = JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8')) as { nodeId: number; registrationToken: string };
    assert.equal(saved.nodeId, identity.nodeId);
    await waitFor('usage recorded from heartbeats', 10_000, () => (master.state.nodes[identity.nodeId]!.usedBytes === 2 ** 30 ? true : undefined));
    first.stop();
    // A restart on another port keeps the id and moves the address.
    const second = agentFor(dataDir, 50_010);
    const again = await second.start();
    second.stop();
    assert.equal(again.nodeId, identity.nodeId);
    assert.equal(master.state.nodes[identity.nodeId]!.servicePort, 50_010);
    assert.equal(Object.keys(master.state.nodes).length, 1);
  });

  test('a data directory from another cluster is refused, not retried forever', async () => {
    const foreign = await mkdtemp(join(tmpdir(), 'atoll-agent-foreign-'));
    try {
      await writeFile(join(foreign, 'node.json'), JSON.stringify({ nodeId: 9_999, registrationToken: 'abc', clusterName: 'other' }));
      await assert.rejects(agentFor(foreign, 50_020).start(), (error: unknown) => error instanceof AtollError && error.status === StatusCode.NOT_FOUND && /another cluster/.test(error.message));
    } finally {
      await rm(foreign, { recursive: true, force: true });
    }
  });
});
