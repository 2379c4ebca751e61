// End to end, real processes on loopback: one master, three metanodes (volume placement
// needs them), three datanodes. Files of several sizes written through the data client
// and read back; bad packets refused with nothing written; flipped bytes on disk found,
// repaired, and read correctly after.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from '../checksum/index.js';
import { DataClient, type ExtentKey } from '../dataclient/index.js';
import { AtollError, StatusCode } from '../errors/index.js';
import { TestCluster } from '../launcher/testing/test-cluster.js';
import { waitFor } from '../master/testing/master-group.js';
import { DataNode } from '../proto/generated/datanode.js';
import type { DataPartitionView } from '../proto/generated/master.js';
import { addressOfNode } from '../dataclient/index.js';
import { waitForWritablePartitions } from '../dataclient/testing/wait-partitions.js';

/** Deterministic bytes of a file (seeded per file) without holding them all at once. */
function* fileChunks(seed: number, size: number, chunkBytes = 1024 * 1024): Generator<Uint8Array> {
  let state = seed >>> 0 || 1;
  for (let at = 0; at < size; at += chunkBytes) {
    const chunk = new Uint8Array(Math.min(chunkBytes, size - at));
    const words = new Uint32Array(chunk.buffer, 0, chunk.byteLength >>> 2);
    for (let index = 0; index < words.length; index++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      words[index] = state >>> 0;
    }
    for (let index = words.length * 4; index < chunk.byteLength; index++) chunk[index] = (index * 31 + seed) & 0xff;
    yield chunk;
  }
}

function digestOf(chunks: Iterable<Uint8Array>): string {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

async function statusOf(promise: Promise<unknown>): Promise<StatusCode | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof AtollError) return error.status;
    throw error;
  }
}

describe('datanode reads and writes, end to end', { timeout: 600_000 }, () => {
  let cluster: TestCluster;
  let client: DataClient;

  before(async () => {
    cluster = await TestCluster.start({ masters: 1, metanodes: 3, datanodes: 3, args: (instance) => (instance.role === 'datanode' ? ['--disk-reserved', '0'] : []) });
    await cluster.createVolume('vol-io');
    client = new DataClient({ rpc: cluster.rpc, masterClient: cluster.masterClient, volume: 'vol-io' });
    await waitForWritablePartitions(client, 1);
  });

  after(async () => {
    await cluster?.stop();
  });

  type PoolStatus = { buffersMade: number; lent: number; givenBack: number; buffersFree: number };
  /** Each datanode's append payload pool, from /status. */
  async function payloadPools(): Promise<Record<string, PoolStatus>> {
    const pools: Record<string, PoolStatus> = {};
    for (const name of cluster.names().filter((name) => name.startsWith('datanode'))) {
      const status = await cluster.probe(name, '/status');
      const pool = status.body?.rpcPayloadPool as PoolStatus | undefined;
      assert.ok(pool !== undefined, `${name} reports its payload pool in /status`);
      pools[name] = pool;
    }
    return pools;
  }

  for (const [name, size] of [
    ['0 B', 0],
    ['1 B', 1],
    ['4 KiB', 4096],
    ['1 MiB + 1', 2 ** 20 + 1],
    ['200 MiB', 200 * 2 ** 20],
  ] as const) {
    test(`a file of ${name} reads back byte for byte`, async () => {
      const seed = size + 7;
      const poolBefore = await payloadPools();
      const { keys, abandoned } = await client.write(fileChunks(seed, size));
      assert.deepEqual(abandoned, []);
      if (size >= 100 * 2 ** 20) {
        // Every replica took each 128 KiB packet in a pooled buffer and gave it back once
        // it was on disk (and, on the leader, every follower had answered): the buffers
        // made are a small part of the packets.
        const packets = Math.ceil(size / (128 * 1024));
        const poolAfter = await payloadPools();
        for (const [node, after] of Object.entries(poolAfter)) {
          const before = poolBefore[node]!;
          assert.ok(after.lent - before.lent >= packets, `${node} took each packet in a pooled buffer: ${JSON.stringify({ before, after })}`);
          assert.ok(after.givenBack - before.givenBack >= packets - 64, `${node} gave them back: ${JSON.stringify({ before, after })}`);
          assert.ok(after.buffersMade - before.buffersMade <= packets / 4, `${node} made few buffers: ${JSON.stringify({ before, after })}`);
        }
      }
      assert.equal(keys.reduce((sum, key) => sum + key.size, 0), size);
      let fileOffset = 0;
      for (const key of keys) {
        assert.equal(key.fileOffset, fileOffset, 'keys cover the file in order without gaps');
        fileOffset += key.size;
      }
      await client.sync(keys);
      // Read back in 8 MiB ranges, hashed as they come.
      const hash = createHash('sha256');
      for (let at = 0; at < size; at += 8 * 2 ** 20) hash.update(await client.readFile(keys, at, Math.min(8 * 2 ** 20, size - at)));
      assert.equal(hash.digest('hex'), digestOf(fileChunks(seed, size)));
      if (size > 0) {
        const freed = await client.deleteKeys(keys);
        assert.equal(freed, size);
      }
    });
  }

  test('bad packets are refused with a status code and nothing is written', async () => {
    const { keys } = await client.write(new Uint8Array(1000).fill(5));
    const key = keys[0]!;
    const view = await client.refreshView();
    const partition = view.dataPartitions.find((candidate) => candidate.partitionId === key.partitionId)!;
    const leader = addressOfNode(partition, partition.leaderNodeId)!;
    const follower = partition.peerServiceAddresses.find((address) => address !== leader)!;
    const payload = new Uint8Array(100).fill(9);
    const good = { partitionId: key.partitionId, extentId: key.extentId, offset: 1000, size: 100, crc32: crc32(payload), forwarded: false, tiny: false };
    const cases: Array<[string, () => Promise<unknown>, StatusCode]> = [
      ['wrong CRC', () => cluster.rpc.call(leader, DataNode.write, { ...good, crc32: (good.crc32 ^ 1) >>> 0 }, { payload }), StatusCode.CHECKSUM_MISMATCH],
      ['size not the payload', () => cluster.rpc.call(leader, DataNode.write, { ...good, size: 99 }, { payload }), StatusCode.INVALID_ARGUMENT],
      ['unknown extent', () => cluster.rpc.call(leader, DataNode.write, { ...good, extentId: 999_999 }, { payload }), StatusCode.NOT_FOUND],
      ['tiny extent', () => cluster.rpc.call(leader, DataNode.write, { ...good, extentId: 1, offset: 0 }, { payload }), StatusCode.INVALID_ARGUMENT],
      ['offset beyond the end', () => cluster.rpc.call(leader, DataNode.write, { ...good, offset: 1001 }, { payload }), StatusCode.INVALID_ARGUMENT],
      ['offset before the end', () => cluster.rpc.call(leader, DataNode.write, { ...good, offset: 0 }, { payload }), StatusCode.INVALID_ARGUMENT],
      ['oversized', () => cluster.rpc.call(leader, DataNode.write, { ...good, size: 128 * 1024 + 1, crc32: crc32(new Uint8Array(128 * 1024 + 1)) }, { payload: new Uint8Array(128 * 1024 + 1) }), StatusCode.TOO_LARGE],
      ['empty', () => cluster.rpc.call(leader, DataNode.write, { ...good, size: 0, crc32: 0 }, { payload: new Uint8Array(0) }), StatusCode.INVALID_ARGUMENT],
      ['unknown partition', () => cluster.rpc.call(leader, DataNode.write, { ...good, partitionId: 987_654 }, { payload }), StatusCode.STALE_VIEW],
      ['to a follower', () => cluster.rpc.call(follower, DataNode.write, good, { payload }), StatusCode.NOT_LEADER],
    ];
    for (const [what, call, expected] of cases) {
      const status = await statusOf(call());
      assert.equal(status === 'ok' ? 'ok' : StatusCode[status], StatusCode[expected], what);
    }
    // Nothing was written: the extent still holds its 1000 bytes on every replica.
    for (const address of partition.peerServiceAddresses) {
      const info = await cluster.rpc.call(address, DataNode.extentInfo, { partitionId: key.partitionId });
      assert.equal(info.extents.find((extent) => extent.extentId === key.extentId)?.size, 1000, `extent size on ${address}`);
    }
    // And the stream goes on where it was.
    await cluster.rpc.call(leader, DataNode.write, good, { payload });
    assert.deepEqual(await client.readKey({ ...key, size: 1100 }, 995, 10), new Uint8Array([5, 5, 5, 5, 5, 9, 9, 9, 9, 9]));
  });

  test('bytes flipped on disk: the read fails with CHECKSUM_MISMATCH, repair heals the block, the next read is correct', async () => {
    const size = 3 * 128 * 1024 + 500;
    const data = [...fileChunks(99, size, size)][0]!;
    const { keys } = await client.write(data);
    assert.equal(keys.length, 1);
    const key = keys[0]!;
    await client.sync(keys);
    const view = await client.refreshView();
    const partition = view.dataPartitions.find((candidate) => candidate.partitionId === key.partitionId)!;
    const leaderAddress = addressOfNode(partition, partition.leaderNodeId)!;
    const leaderName = cluster.nameOfAddress(leaderAddress)!;
    // Flip bytes in block 1 of the leader's copy, behind the datanode's back.
    const path = await extentPath(cluster, leaderName, key.partitionId, key.extentId);
    const file = await open(path, 'r+');
    try {
      const flipped = Buffer.from(data.subarray(128 * 1024 + 10, 128 * 1024 + 20)).map((byte) => byte ^ 0xff);
      await file.write(flipped, 0, flipped.length, 128 * 1024 + 10);
      await file.datasync();
    } finally {
      await file.close();
    }
    const direct = cluster.rpc.callWithPayload(leaderAddress, DataNode.read, { partitionId: key.partitionId, extentId: key.extentId, offset: 128 * 1024, size: 4096, forRepair: false });
    assert.equal(await statusOf(direct), StatusCode.CHECKSUM_MISMATCH, 'the leader refuses the bad block');
    // The client reads the whole file correctly (another replica, or after the repair)...
    assert.deepEqual(await client.readFile(keys, 0, size), data);
    // ...and the leader's own copy is healed by repair.
    await waitFor('the leader to repair its block', 60_000, async () => {
      const { payload } = await cluster.rpc.callWithPayload(leaderAddress, DataNode.read, { partitionId: key.partitionId, extentId: key.extentId, offset: 0, size, forRepair: false });
      return Buffer.compare(payload, data) === 0 ? true : undefined;
    }, 200);
  });

  test('an overwrite goes through Raft and every replica reads the new bytes', async () => {
    const { keys } = await client.write(new Uint8Array(300_000).fill(1));
    const key = keys[0]!;
    await client.overwrite(key.partitionId, key.extentId, 131_000, new Uint8Array(2000).fill(7));
    const view = await client.refreshView();
    const partition = view.dataPartitions.find((candidate) => candidate.partitionId === key.partitionId)! as DataPartitionView;
    const expected = new Uint8Array(300_000).fill(1);
    expected.fill(7, 131_000, 133_000);
    for (const address of partition.peerServiceAddresses) {
      await waitFor(`overwrite applied on ${address}`, 30_000, async () => {
        const { payload } = await cluster.rpc.callWithPayload(address, DataNode.read, { partitionId: key.partitionId, extentId: key.extentId, offset: 0, size: 300_000, forRepair: true });
        return Buffer.compare(payload, expected) === 0 ? true : undefined;
      }, 100);
    }
  });
});

/** The extent file of a partition replica on an instance's disk. */
export async function extentPath(cluster: TestCluster, name: string, partitionId: number, extentId: number): Promise<string> {
  const disk = join(cluster.instance(name).dataDir, 'disk0', 'partitions', String(partitionId));
  const names = await readdir(disk);
  assert.ok(names.includes(`${extentId}.extent`), `${name} holds extent ${extentId} of partition ${partitionId}`);
  return join(disk, `${extentId}.extent`);
}

export type { ExtentKey };
