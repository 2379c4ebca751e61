// End to end, real processes on loopback: datanodes whose disk may hold 16 MiB of
// partitions (the `disk-capacity` budget: a tmpfs needs root, a budget does not). Writes
// fail with NO_SPACE naming the disk, nothing written before is damaged, the partitions
// report read-only, and deleting gives the space back (heartbeats show it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataClient, type ExtentKey } from '../dataclient/index.js';
import { AtollError, StatusCode } from '../errors/index.js';
import { waitForWritablePartitions } from '../dataclient/testing/wait-partitions.js';
import { TestCluster } from '../launcher/testing/test-cluster.js';
import { waitFor } from '../master/testing/master-group.js';

const mebibyte = 1024 * 1024;

describe('a full disk, end to end', { timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let client: DataClient;

  before(async () => {
    cluster = await TestCluster.start({ masters: 1, metanodes: 3, datanodes: 3, args: (instance) => (instance.role === 'datanode' ? ['--disk-reserved', '0', '--disk-capacity', '16MiB'] : []) });
    // The datanodes report their 16 MiB budget as capacity: partitions must be planned
    // small enough for the master to place them there (it wants 1/16 of one free).
    const patched = await cluster.admin('PATCH', '/api/v1/cluster/settings', { dataPartitionCapacityBytes: 64 * mebibyte });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    await cluster.createVolume('space');
    client = new DataClient({ rpc: cluster.rpc, masterClient: cluster.masterClient, volume: 'space', limits: { extentFailuresMax: 64 } });
    await waitForWritablePartitions(client, 1);
  });

  after(async () => {
    await cluster?.stop();
  });

  const dataPartitions = async (): Promise<Array<{ id: number; usedBytes: number; status: string }>> => {
    const listed = await cluster.admin('GET', '/api/v1/partitions?volume=space&kind=data');
    assert.equal(listed.status, 200);
    return listed.body.partitions;
  };

  test("the datanodes' capacity in the master is their 16 MiB budget, not the device", async () => {
    const nodes = await waitFor('datanode capacities from the budget', 60_000, async () => {
      const listed = await cluster.admin('GET', '/api/v1/nodes?role=datanode');
      const found = listed.body.nodes as Array<{ capacityBytes: number; usedBytes: number }>;
      return found.length === 3 && found.every((node) => node.capacityBytes === 16 * mebibyte) ? found : undefined;
    }, 250);
    for (const node of nodes) assert.ok(node.usedBytes >= 0 && node.usedBytes < 16 * mebibyte, JSON.stringify(node));
  });

  test('writes fail with NO_SPACE, earlier files stay intact, deletes give the space back', async () => {
    const first = new Uint8Array(4 * mebibyte).map((_, index) => (index * 7) & 0xff);
    const written = await client.write(first);
    await client.sync(written.keys);

    const writer = client.writer();
    let failure: AtollError | null = null;
    try {
      for (let index = 0; index < 32; index++) await writer.write(new Uint8Array(mebibyte).fill(index));
      await writer.finish();
    } catch (error) {
      failure = error as AtollError;
    }
    assert.ok(failure !== null, 'a 32 MiB file does not fit in 16 MiB');
    assert.equal(failure.status, StatusCode.NO_SPACE, failure.message);
    assert.match(failure.message, /disk .* is full/);
    // Nothing already written is damaged.
    assert.deepEqual(await client.readFile(written.keys, 0, first.byteLength), first);
    // The partitions on the full disks say they are read-only (the leader's disk decides
    // a partition's status, and the disks fill within a packet of each other).
    await waitFor('a partition reported read-only', 60_000, async () => ((await dataPartitions()).some((partition) => partition.status === 'read-only') ? true : undefined), 250);
    // The reports reach the master one heartbeat apart: wait until they show the disks full.
    const usedFull = await waitFor('the full disks in the reports', 60_000, async () => {
      const used = (await dataPartitions()).reduce((sum, partition) => sum + partition.usedBytes, 0);
      return used >= 12 * mebibyte ? used : undefined;
    }, 250);

    // Delete everything: the first file, what the failed stream acknowledged, and the
    // extents it abandoned.
    const leftovers: Array<Pick<ExtentKey, 'partitionId' | 'extentId'>> = [...written.keys, ...writer.keys(), ...writer.abandoned()];
    await client.deleteKeys(leftovers);
    let last: unknown = null;
    await waitFor('space given back in the heartbeats', 120_000, async () => {
      const partitions = await dataPartitions();
      last = { usedFull, partitions };
      const used = partitions.reduce((sum, partition) => sum + partition.usedBytes, 0);
      // Everything written was deleted: what the partitions hold drops to (nearly) nothing.
      return used < usedFull - 8 * mebibyte && used <= mebibyte && partitions.every((partition) => partition.status === 'read-write') ? true : undefined;
    }, 250).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`);
    });
    await client.refreshView();
    const again = await client.write(new Uint8Array(2 * mebibyte).fill(3));
    assert.deepEqual(await client.readFile(again.keys, 0, 2 * mebibyte), new Uint8Array(2 * mebibyte).fill(3));
  });
});
