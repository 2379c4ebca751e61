// End to end with the shape `atoll start` runs (three masters, three metanodes, three
// datanodes, separate processes on loopback) and the volume SDK as the client:
// - a rolling restart of every instance, one at a time (SIGTERM, exit, start again on the
//   same ports and data, /readyz 200 before the next), under a continuous read/write
//   workload: no operation fails, every file holds what the workload wrote, replicas
//   converge;
// - a client given all three master addresses keeps working while each master in turn
//   is down: it opens the volume afresh, creates, reads and renames files.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Volume } from '../client/index.js';
import { TestCluster } from '../launcher/testing/test-cluster.js';
import { waitForConvergence } from '../launcher/testing/replica-convergence.js';
import { E2eClients, e2eCluster } from './e2e-cluster.js';
import { patternBytes, startWorkloads, verifyWorkloads } from './file-workload.js';

describe('rolling restart and masters down, three of each role', { timeout: 420_000 }, () => {
  let cluster: TestCluster;
  const clients = new E2eClients(() => cluster);
  const open = (): Promise<Volume> => clients.open('rolling');

  before(async () => {
    cluster = await e2eCluster({ datanodes: 3, volume: 'rolling' });
  });

  after(async () => {
    await clients.closeAll();
    await cluster?.stop();
  });

  test('every instance restarted in turn under a read/write workload: no operation fails, no data lost, replicas converge', async () => {
    const volume = await open();
    const workload = await startWorkloads(volume, 'rolling restart');
    const restarted: string[] = [];
    try {
      for (const name of cluster.names()) {
        const stepsBefore = workload.steps();
        await cluster.restart(name, { readyTimeoutMs: 90_000 });
        restarted.push(name);
        // The workload moves on between restarts (bounded wait: a stuck workload fails below).
        const deadline = Date.now() + 30_000;
        while (workload.steps() < stepsBefore + 10 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await workload.stop();
    }
    await workload.check('after the rolling restart');
    assert.deepEqual(restarted, cluster.names());
    await volume.close();
    // A fresh client reads the same: the data is in the cluster, not in a client's buffers.
    const fresh = await open();
    try {
      await verifyWorkloads(workload, fresh, 'a fresh client after the rolling restart');
    } finally {
      await fresh.close();
    }
    const converged = await waitForConvergence(cluster, { timeoutMs: 120_000 });
    assert.ok(converged.some((partition) => partition.kind === 'meta') && converged.some((partition) => partition.kind === 'data'));
  });

  test('a client with the three master addresses works while any one master is down', async () => {
    const existing = await open();
    const kept = patternBytes(150_000, 1);
    try {
      await existing.mkdir('/masters');
      await existing.writeFile('/masters/kept', kept);
    } finally {
      await existing.close();
    }
    for (const [turn, name] of cluster.names('master').entries()) {
      await cluster.kill(name, 'SIGTERM');
      try {
        // Opening a volume reads its view and record from the masters.
        const volume = await open();
        try {
          const content = patternBytes(70_000 + turn, 10 + turn);
          await volume.writeFile(`/masters/while-${name}-down`, content);
          assert.ok(((await volume.readFile(`/masters/while-${name}-down`)) as Buffer).equals(content), `written with ${name} down`);
          assert.ok(((await volume.readFile('/masters/kept')) as Buffer).equals(kept), `an existing file with ${name} down`);
          await volume.rename(`/masters/while-${name}-down`, `/masters/after-${name}`);
          assert.ok((await volume.statfs()).capacityBytes > 0, 'statfs (the volume record from the masters)');
        } finally {
          await volume.close();
        }
      } finally {
        await cluster.restart(name, { readyTimeoutMs: 90_000 });
      }
    }
    const volume = await open();
    try {
      assert.deepEqual((await volume.readdir('/masters')).sort(), ['after-master-1', 'after-master-2', 'after-master-3', 'kept']);
    } finally {
      await volume.close();
    }
  });
});
