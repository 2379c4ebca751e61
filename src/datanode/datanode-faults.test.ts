// End to end, real processes on loopback: a follower killed in the middle of a stream of
// appends (the stream finishes on another extent, every acknowledged byte reads back,
// the replicas converge once the follower is back), then a datanode holding many
// partitions restarted slowly (staged start-up).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DataClient, addressOfNode, type ExtentKey } from '../dataclient/index.js';
import { AtollError, StatusCode } from '../errors/index.js';
import { waitForWritablePartitions } from '../dataclient/testing/wait-partitions.js';
import { TestCluster } from '../launcher/testing/test-cluster.js';
import { waitFor } from '../master/testing/master-group.js';
import { DataNode } from '../proto/generated/datanode.js';

function chunkOf(seed: number, bytes: number): Uint8Array {
  const chunk = new Uint8Array(bytes);
  let state = seed * 2654435761 >>> 0 || 1;
  for (let index = 0; index < bytes; index++) {
    state = (state * 1103515245 + 12345) >>> 0;
    chunk[index] = state >>> 24;
  }
  return chunk;
}

describe('datanode faults, end to end', { timeout: 600_000 }, () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ masters: 1, metanodes: 3, datanodes: 4, args: (instance) => (instance.role === 'datanode' ? ['--disk-reserved', '0'] : []) });
    // Six partitions over four datanodes: every node is left out of some partition, so a
    // stream has somewhere to go when one node dies.
    const patched = await cluster.admin('PATCH', '/api/v1/cluster/settings', { initialDataPartitions: 6 });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    await cluster.createVolume('faults');
  });

  after(async () => {
    await cluster?.stop();
  });

  test('a follower killed mid-stream: the file finishes on another extent, every acknowledged byte reads back, replicas converge after it returns', async () => {
    const client = new DataClient({ rpc: cluster.rpc, masterClient: cluster.masterClient, volume: 'faults' });
    const partitions = await waitForWritablePartitions(client, 6);
    const writer = client.writer();
    const chunkBytes = 1024 * 1024;
    const chunks = 48;
    const hash = createHash('sha256');
    let victim: string | null = null;
    for (let index = 0; index < chunks; index++) {
      const chunk = chunkOf(index + 1, chunkBytes);
      hash.update(chunk);
      await writer.write(chunk);
      if (index === 8) {
        const current = writer.currentExtent()!;
        const partition = partitions.find((candidate) => candidate.partitionId === current.partitionId)!;
        const follower = partition.peers.find((peer) => peer.nodeId !== partition.leaderNodeId && addressOfNode(partition, peer.nodeId) !== current.address)!;
        victim = cluster.nameOfAddress(addressOfNode(partition, follower.nodeId)!)!;
        await cluster.kill(victim, 'SIGKILL');
      }
    }
    const { keys, abandoned } = await writer.finish();
    assert.ok(victim !== null);
    assert.ok(abandoned.length >= 1, 'the stream gave up the extent whose follower died');
    assert.ok(keys.length >= 2, `the file continued on another extent: ${JSON.stringify(keys)}`);
    assert.equal(keys.reduce((sum, key) => sum + key.size, 0), chunks * chunkBytes);
    // Every acknowledged byte reads back while the follower is still down.
    const readHash = createHash('sha256');
    for (let at = 0; at < chunks * chunkBytes; at += 8 * chunkBytes) readHash.update(await client.readFile(keys, at, 8 * chunkBytes));
    assert.equal(readHash.digest('hex'), hash.digest('hex'));

    await cluster.restart(victim);
    // Every partition holding the victim converges: same extents, sizes and block CRCs.
    const victimAddress = cluster.serviceAddress(victim);
    const held = partitions.filter((partition) => partition.peerServiceAddresses.includes(victimAddress));
    for (const partition of held) {
      await waitFor(`replicas of partition ${partition.partitionId} to converge`, 90_000, async () => {
        const infos = await Promise.all(partition.peerServiceAddresses.map((address) => cluster.rpc.call(address, DataNode.extentInfo, { partitionId: partition.partitionId })));
        const shapes = infos.map((info) => JSON.stringify(info.extents.filter((extent) => !extent.tiny).map((extent) => [extent.extentId, extent.size, Buffer.from(extent.blockCrcs).toString('hex')])));
        return shapes.every((shape) => shape === shapes[0]) && infos.every((info) => info.caughtUp) ? true : undefined;
      }, 250);
    }
    await client.sync(keys);
    const again = await client.readFile(keys, 0, 4 * chunkBytes);
    assert.deepEqual(again.subarray(0, chunkBytes), chunkOf(1, chunkBytes));
  });

  test('a datanode restarted with many partitions: /readyz shows progress, unloaded partitions answer PARTITION_NOT_READY, then all serve', async () => {
    const patched = await cluster.admin('PATCH', '/api/v1/cluster/settings', { initialDataPartitions: 12 });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    await cluster.createVolume('many');
    const client = new DataClient({ rpc: cluster.rpc, masterClient: cluster.masterClient, volume: 'many' });
    const partitions = await waitForWritablePartitions(client, 12);
    const name = 'datanode-1';
    const address = cluster.serviceAddress(name);
    const held = partitions.filter((partition) => partition.peerServiceAddresses.includes(address));
    assert.ok(held.length >= 6, `datanode-1 holds ${held.length} partitions of the volume`);
    // Write something into each partition it holds, to read during and after the restart.
    const keys: ExtentKey[] = [];
    for (let index = 0; index < 6; index++) keys.push(...(await client.write(chunkOf(100 + index, 300_000))).keys);
    await client.sync(keys);

    await cluster.kill(name, 'SIGTERM');
    const delayMs = 700;
    await cluster.restart(name, { waitReady: false, env: { ATOLL_TEST_PARTITION_LOAD_DELAY_MS: String(delayMs) } });
    // /healthz at once, /readyz 503 with progress while loading.
    const progress = await waitFor('/readyz 503 with partition progress', 30_000, async () => {
      const ready = await cluster.probe(name, '/readyz');
      const details = ready.body as { partitionsLoaded?: number; partitionsTotal?: number } | null;
      return ready.status === 503 && details?.partitionsTotal !== undefined && details.partitionsTotal > 0 && details.partitionsLoaded! < details.partitionsTotal ? details : undefined;
    }, 20);
    assert.ok((await cluster.probe(name, '/healthz')).ok, '/healthz answers while loading');
    assert.ok(progress.partitionsTotal! >= held.length);
    // A partition that is not loaded yet: PARTITION_NOT_READY, retryable, not a refusal.
    const last = held[held.length - 1]!;
    const early = await cluster.rpc.call(address, DataNode.extentInfo, { partitionId: last.partitionId }).then(() => null, (error: unknown) => error as AtollError);
    assert.ok(early !== null, 'the last partition is not loaded this early');
    assert.equal(StatusCode[early.status], 'PARTITION_NOT_READY');
    assert.equal(early.retryable, true);
    // Reads go on meanwhile: the client tries the other replicas.
    assert.deepEqual(await client.readFile(keys.slice(0, 1), 0, 1000), chunkOf(100, 300_000).subarray(0, 1000));
    // Progress moves, then ready.
    let seenLoaded = progress.partitionsLoaded!;
    await waitFor('/readyz 200', 120_000, async () => {
      const ready = await cluster.probe(name, '/readyz');
      const details = ready.body as { partitionsLoaded?: number } | null;
      if (details?.partitionsLoaded !== undefined) {
        assert.ok(details.partitionsLoaded >= seenLoaded, 'progress never goes back');
        seenLoaded = details.partitionsLoaded;
      }
      return ready.status === 200 ? true : undefined;
    }, 100);
    assert.ok(seenLoaded >= progress.partitionsTotal!, 'every partition loaded');
    await cluster.rpc.call(address, DataNode.extentInfo, { partitionId: last.partitionId });
    for (const [index, key] of keys.entries()) assert.deepEqual(await client.readFile([key], 0, key.size), chunkOf(100 + index, 300_000));
  });
});
