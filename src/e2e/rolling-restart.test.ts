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
import { randomInt } from 'node:crypto';
import { Volume } from '../client/index.js';
import { TestCluster } from '../launcher/testing/test-cluster.js';
import { waitForConvergence } from '../launcher/testing/replica-convergence.js';
import { FileWorkload, patternBytes } from './file-workload.js';

const workers = 2;
const stepsMax = 100_000;

describe('rolling restart and masters down, three of each role', { timeout: 420_000 }, () => {
  let cluster: TestCluster;
  const open = (): Promise<Volume> => Volume.open({ masters: cluster.masterAddresses(), volume: 'rolling', clusterSecret: cluster.secret });

  before(async () => {
    cluster = await TestCluster.start({ masters: 3, metanodes: 3, datanodes: 3, args: (instance) => (instance.role === 'datanode' ? ['--disk-reserved', '0'] : []) });
    await cluster.createVolume('rolling', { capacityBytes: 20 * 2 ** 30 });
  });

  after(async () => {
    await cluster?.stop();
  });

  test('every instance restarted in turn under a read/write workload: no operation fails, no data lost, replicas converge', async () => {
    const seed = Number(process.env.ATOLL_TEST_SEED ?? randomInt(1, 2 ** 31 - 1));
    process.stdout.write(`# rolling restart workload seed ${seed}\n`);
    const volume = await open();
    const workloads: FileWorkload[] = [];
    for (let index = 0; index < workers; index++) {
      await volume.mkdir(`/w${index}`);
      workloads.push(new FileWorkload({ volume, directory: `/w${index}`, seed: seed + index }));
    }
    let stop = false;
    const running = workloads.map((workload) => workload.run(() => stop, stepsMax));
    const restarted: string[] = [];
    try {
      for (const name of cluster.names()) {
        const stepsBefore = workloads.reduce((sum, workload) => sum + workload.steps, 0);
        await cluster.restart(name, { readyTimeoutMs: 90_000 });
        restarted.push(name);
        // The workload moves on between restarts (bounded wait: a stuck workload fails below).
        const deadline = Date.now() + 30_000;
        while (workloads.reduce((sum, workload) => sum + workload.steps, 0) < stepsBefore + 10 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      stop = true;
      await Promise.all(running);
    }
    assert.deepEqual(restarted, cluster.names());
    for (const workload of workloads) process.stdout.write(`# ${workload.summary()}\n`);
    assert.deepEqual(workloads.flatMap((workload) => workload.failures), [], 'no operation failed');
    assert.ok(workloads.every((workload) => workload.counts.read > 0 && workload.counts.create > 0 && workload.counts.overwrite > 0), 'the workload read, created and overwrote');
    for (const [index, workload] of workloads.entries()) await workload.verify(volume, `after the rolling restart (worker ${index})`);
    await volume.close();
    // A fresh client reads the same: the data is in the cluster, not in a client's buffers.
    const fresh = await open();
    try {
      for (const [index, workload] of workloads.entries()) await workload.verify(fresh, `a fresh client after the rolling restart (worker ${index})`);
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
