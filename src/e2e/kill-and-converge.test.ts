// End to end, real processes on loopback (three masters, three metanodes, four
// datanodes), the volume SDK as the client:
// - SIGKILL of the master leader, then a metanode, then a datanode, each started again
//   after a while, under a continuous read/write workload: no operation fails, every file
//   holds what the workload wrote, and once all are back every partition's replicas
//   converge (same Raft applied index and state digest, GET /partitions);
// - a datanode restarting with many partitions: /healthz at once, /readyz 503 with
//   progress while it loads (each load slowed by the test hook), SDK clients succeed
//   through the other replicas meanwhile, then it is ready and its replicas converge.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Volume } from '../client/index.js';
import { TestCluster } from '../launcher/testing/test-cluster.js';
import { replicaReports, waitForConvergence } from '../launcher/testing/replica-convergence.js';
import { waitFor } from '../master/testing/master-group.js';
import { E2eClients, e2eCluster } from './e2e-cluster.js';
import { patternBytes, startWorkloads, verifyWorkloads } from './file-workload.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('SIGKILL in turn and a slow datanode restart, with replica convergence', { timeout: 420_000 }, () => {
  let cluster: TestCluster;
  const clients = new E2eClients(() => cluster);
  const open = (volume: string): Promise<Volume> => clients.open(volume);

  before(async () => {
    cluster = await e2eCluster({ datanodes: 4, volume: 'crash' });
  });

  after(async () => {
    await clients.closeAll();
    await cluster?.stop();
  });

  test('the master leader, a metanode and a datanode killed in turn under load: no operation fails, no data lost, every replica converges', async () => {
    const volume = await open('crash');
    const workload = await startWorkloads(volume, 'kill-in-turn');
    const killed: string[] = [];
    try {
      const leader = cluster.masterClient.state().leader;
      const leaderName = (leader === null ? undefined : cluster.nameOfAddress(leader)) ?? 'master-1';
      for (const name of [leaderName, 'metanode-2', 'datanode-2']) {
        await sleep(2_000);
        await cluster.kill(name, 'SIGKILL');
        killed.push(name);
        await sleep(4_000);
        await cluster.restart(name, { readyTimeoutMs: 90_000 });
      }
      await sleep(2_000);
    } finally {
      await workload.stop();
    }
    await workload.check('after the kills');
    assert.equal(killed.length, 3);
    // Closed before comparing: an open client's session renewals keep the meta partitions moving.
    await volume.close();
    const converged = await waitForConvergence(cluster, { timeoutMs: 120_000 });
    const restartedNodes = new Set((await replicaReports(cluster)).filter((report) => report.instance === 'metanode-2' || report.instance === 'datanode-2').map((report) => report.partitionId));
    assert.ok(restartedNodes.size > 0, 'the killed nodes hold replicas');
    for (const partitionId of restartedNodes) assert.ok(converged.some((partition) => partition.partitionId === partitionId), `partition ${partitionId} of a killed node converged`);
    const fresh = await open('crash');
    try {
      await verifyWorkloads(workload, fresh, 'a fresh client after the kills');
    } finally {
      await fresh.close();
    }
  });

  test('a datanode restarting with many partitions: /healthz at once, /readyz 503 with progress, SDK clients succeed through the other replicas meanwhile', async () => {
    const patched = await cluster.admin('PATCH', '/api/v1/cluster/settings', { initialDataPartitions: 24 });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    await cluster.createVolume('many', { capacityBytes: 20 * 2 ** 30 });
    const before = await open('many');
    const files = new Map<string, Buffer>();
    try {
      for (let index = 0; index < 12; index++) {
        const content = patternBytes(index % 2 === 0 ? 3_000 : 300_000, 500 + index);
        await before.writeFile(`/before-${index}`, content);
        files.set(`/before-${index}`, content);
      }
    } finally {
      await before.close();
    }
    const name = 'datanode-3';
    // About 18 partitions on the node: a loading window of some 15 s, far longer than the SDK work below.
    const loadDelayMs = 800;
    await cluster.kill(name, 'SIGTERM');
    await cluster.restart(name, { waitReady: false, env: { ATOLL_TEST_PARTITION_LOAD_DELAY_MS: String(loadDelayMs) } });
    // /healthz answers as soon as the ports are bound, while /readyz says how far loading got.
    await waitFor('/healthz 200', 20_000, async () => ((await cluster.probe(name, '/healthz')).ok ? true : undefined), 20);
    const loading = await waitFor('/readyz 503 with progress', 20_000, async () => {
      const ready = await cluster.probe(name, '/readyz');
      const body = ready.body as { partitionsLoaded?: number; partitionsTotal?: number } | null;
      return ready.status === 503 && body?.partitionsTotal !== undefined && body.partitionsTotal > 1 && body.partitionsLoaded! < body.partitionsTotal ? body : undefined;
    }, 20);
    assert.ok(loading.partitionsTotal! >= 12, `${name} holds ${loading.partitionsTotal} partitions`);
    // Meanwhile an SDK client opens the volume, reads every file and writes new ones.
    const workStartedAt = Date.now();
    const during = await open('many');
    try {
      for (const [path, content] of files) assert.ok(((await during.readFile(path)) as Buffer).equals(content), `${path} while ${name} loads`);
      for (let index = 0; index < 4; index++) {
        const content = patternBytes(index % 2 === 0 ? 2_000 : 200_000, 900 + index);
        await during.writeFile(`/during-${index}`, content);
        files.set(`/during-${index}`, content);
        assert.ok(((await during.readFile(`/during-${index}`)) as Buffer).equals(content));
      }
    } finally {
      await during.close();
    }
    const still = await cluster.probe(name, '/readyz');
    process.stdout.write(`# SDK work while ${name} loaded: ${Date.now() - workStartedAt} ms; /readyz then ${JSON.stringify(still.body)}\n`);
    assert.equal(still.status, 503, `the SDK work finished while ${name} was still loading: ${JSON.stringify(still.body)}`);
    let loaded = loading.partitionsLoaded!;
    await waitFor(`${name} /readyz 200`, 120_000, async () => {
      const ready = await cluster.probe(name, '/readyz');
      const body = ready.body as { partitionsLoaded?: number } | null;
      if (body?.partitionsLoaded !== undefined) {
        assert.ok(body.partitionsLoaded >= loaded, 'progress never goes back');
        loaded = body.partitionsLoaded;
      }
      return ready.status === 200 ? true : undefined;
    }, 100);
    assert.ok(loaded >= loading.partitionsTotal!, 'every partition loaded');
    await waitForConvergence(cluster, { timeoutMs: 120_000 });
    const after = await open('many');
    try {
      for (const [path, content] of files) assert.ok(((await after.readFile(path)) as Buffer).equals(content), `${path} after ${name} is ready`);
    } finally {
      await after.close();
    }
  });
});
