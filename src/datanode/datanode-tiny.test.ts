// End to end, real processes on loopback: small files written whole into the shared tiny
// extents (DataClient.writeSmall), replicated to all three replicas; many read back,
// some deleted (holes punched, neighbours intact, the space back), bad tiny packets
// refused; a datanode killed while small files are in flight: every acknowledged file
// reads back, and the tiny extents converge and take files again once it returns.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from '../checksum/index.js';
import { DataClient, addressOfNode, type ExtentKey } from '../dataclient/index.js';
import { waitForWritablePartitions } from '../dataclient/testing/wait-partitions.js';
import { AtollError, StatusCode } from '../errors/index.js';
import { TestCluster } from '../launcher/testing/test-cluster.js';
import { waitFor } from '../master/testing/master-group.js';
import { DataNode } from '../proto/generated/datanode.js';
import type { DataPartitionView } from '../proto/generated/master.js';

const tinyIdsBelow = 1024;

/** A small file's bytes: its own size and pattern, so a neighbour's bytes never pass for it. */
function smallFile(index: number): Uint8Array {
  const size = 1 + ((index * 7919) % (40 * 1024));
  const bytes = new Uint8Array(size);
  let state = (index + 1) * 2654435761 >>> 0;
  for (let position = 0; position < size; position++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[position] = state >>> 24;
  }
  return bytes;
}

async function statusOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof AtollError) return StatusCode[error.status]!;
    throw error;
  }
}

describe('small files in tiny extents, end to end', { timeout: 600_000 }, () => {
  let cluster: TestCluster;
  let client: DataClient;
  let partitions: DataPartitionView[];

  before(async () => {
    cluster = await TestCluster.start({ masters: 1, metanodes: 3, datanodes: 4, args: (instance) => (instance.role === 'datanode' ? ['--disk-reserved', '0'] : []) });
    // Four partitions over four datanodes: every node is left out of one, so small files
    // have somewhere to go when a node dies.
    const patched = await cluster.admin('PATCH', '/api/v1/cluster/settings', { initialDataPartitions: 4 });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    await cluster.createVolume('tiny');
    client = new DataClient({ rpc: cluster.rpc, masterClient: cluster.masterClient, volume: 'tiny' });
    partitions = await waitForWritablePartitions(client, 4);
    // Each leader opens its tiny extents after its first repair round compared them.
    const seen = new Set<number>();
    await waitFor('every partition to take small files', 60_000, async () => {
      const { keys } = await client.writeSmall(new Uint8Array([1, 2, 3]));
      if (keys[0]!.extentId < tinyIdsBelow) seen.add(keys[0]!.partitionId);
      return seen.size === partitions.length ? true : undefined;
    }, 50);
  });

  after(async () => {
    await cluster?.stop();
  });

  const extentFile = (name: string, partitionId: number, extentId: number): string => join(cluster.instance(name).dataDir, 'disk0', 'partitions', String(partitionId), `${extentId}.extent`);

  test('many small files land in tiny extents on every replica, read back, and deleting some punches holes and leaves the neighbours intact', async () => {
    const count = 240;
    const files = Array.from({ length: count }, (_, index) => smallFile(index));
    const keys: ExtentKey[] = [];
    // Eight at a time, as an SDK serving several writers would.
    for (let index = 0; index < count; index += 8) {
      const written = await Promise.all(files.slice(index, index + 8).map((bytes) => client.writeSmall(bytes)));
      for (const { keys: fileKeys, abandoned } of written) {
        assert.deepEqual(abandoned, []);
        assert.equal(fileKeys.length, 1);
        keys.push(fileKeys[0]!);
      }
    }
    for (const [index, key] of keys.entries()) {
      assert.ok(key.extentId < tinyIdsBelow, `file ${index} is in a tiny extent: ${JSON.stringify(key)}`);
      assert.equal(key.extentOffset % 4096, 0);
      assert.equal(key.size, files[index]!.byteLength);
      assert.equal(key.fileOffset, 0);
    }
    assert.ok(new Set(keys.map((key) => `${key.partitionId}/${key.extentId}`)).size >= 8, 'spread over several tiny extents');
    await client.sync(keys);
    for (const [index, key] of keys.entries()) assert.deepEqual(await client.readFile([key], 0, key.size), files[index], `file ${index}`);
    // Every replica holds every file, byte for byte.
    const view = await client.refreshView();
    for (const key of keys.slice(0, 40)) {
      const partition = view.dataPartitions.find((candidate) => candidate.partitionId === key.partitionId)!;
      for (const address of partition.peerServiceAddresses) {
        const { payload, response } = await cluster.rpc.callWithPayload(address, DataNode.read, { partitionId: key.partitionId, extentId: key.extentId, offset: key.extentOffset, size: key.size, forRepair: true });
        assert.equal(response.crc32, crc32(files[keys.indexOf(key)]!), `replica ${address} of ${JSON.stringify(key)}`);
        assert.equal(payload.byteLength, key.size);
      }
    }

    // Delete every other file: the space comes back, the others still read.
    const extentOf = (key: ExtentKey): string => `${key.partitionId}/${key.extentId}`;
    const allocatedBefore = new Map<string, number>();
    const holders = new Map<number, string[]>(view.dataPartitions.map((partition) => [partition.partitionId, partition.peerServiceAddresses.map((address) => cluster.nameOfAddress(address)!)]));
    for (const key of keys) {
      for (const name of holders.get(key.partitionId)!) allocatedBefore.set(`${name}:${extentOf(key)}`, (await stat(extentFile(name, key.partitionId, key.extentId))).blocks * 512);
    }
    const deleted = keys.filter((_, index) => index % 2 === 0);
    const kept = keys.filter((_, index) => index % 2 === 1);
    const freed = await client.deleteKeys(deleted);
    const pagesOf = (key: ExtentKey): number => Math.ceil(key.size / 4096) * 4096;
    // Each file frees its pages (the last file of an extent only up to the extent's end).
    assert.ok(freed <= deleted.reduce((sum, key) => sum + pagesOf(key), 0) && freed >= deleted.reduce((sum, key) => sum + key.size, 0), `freed ${freed}`);
    for (const key of kept) assert.deepEqual(await client.readFile([key], 0, key.size), files[keys.indexOf(key)], 'a neighbour of deleted files is intact');
    // Deleted ranges read as zeros: at once on a leader that did the deletion; a replica
    // that missed the forwarded deletion (a leader change on a loaded machine) gets it
    // from repair, so this may take a round or two.
    await waitFor('every deleted range to read as zeros', 30_000, async () => {
      for (const key of deleted) {
        const bytes = await client.readFile([key], 0, key.size);
        if (bytes.some((byte) => byte !== 0)) return undefined;
      }
      return true;
    }, 250);
    // Holes were punched: every replica of every tiny extent gave space back to the disk.
    const releasedPerExtent = new Map<string, number>();
    for (const key of deleted) releasedPerExtent.set(extentOf(key), (releasedPerExtent.get(extentOf(key)) ?? 0) + Math.floor(key.size / 4096) * 4096);
    for (const [extent, released] of releasedPerExtent) {
      if (released < 64 * 1024) continue; // too little to tell from block rounding
      const [partitionId, extentId] = extent.split('/').map(Number) as [number, number];
      for (const name of holders.get(partitionId)!) {
        await waitFor(`${name} to punch the holes of extent ${extent}`, 30_000, async () => {
          const after = (await stat(extentFile(name, partitionId, extentId))).blocks * 512;
          return after <= allocatedBefore.get(`${name}:${extent}`)! - released / 2 ? true : undefined;
        }, 100);
      }
    }
    // Deleting again is harmless and a range in no file's place is refused.
    await client.deleteKeys(deleted.slice(0, 3));
    const first = kept[0]!;
    assert.equal(await statusOf(client.deleteExtents(first.partitionId, [{ extentId: first.extentId, offset: first.extentOffset + 1, size: 10 }])), 'INVALID_ARGUMENT');
    assert.equal(await statusOf(client.deleteKeys([{ partitionId: first.partitionId, extentId: first.extentId }])), 'INVALID_ARGUMENT');
    assert.deepEqual(await client.readFile([first], 0, first.size), files[keys.indexOf(first)]);
  });

  test('bad small-file packets are refused with a status code and nothing is written', async () => {
    // The partition's leader as the view has it once a probe write there is accepted (a
    // leader change on a loaded machine would make every case answer NOT_LEADER instead).
    const probe = new Uint8Array(1).fill(9);
    const { partition, leader } = (await waitFor('a data partition whose leader takes a small file', 30_000, async () => {
      const candidate = (await client.refreshView()).dataPartitions[0]!;
      const address = addressOfNode(candidate, candidate.leaderNodeId);
      if (address === undefined) return undefined;
      const answer = await statusOf(cluster.rpc.call(address, DataNode.write, { partitionId: candidate.partitionId, extentId: 0, offset: 0, size: 1, crc32: crc32(probe), forwarded: false, tiny: true }, { payload: probe }));
      return answer === 'ok' ? { partition: candidate, leader: address } : undefined;
    }, 200))!;
    const follower = partition.peerServiceAddresses.find((address) => address !== leader)!;
    const sizes = async (): Promise<string> => JSON.stringify((await cluster.rpc.call(leader, DataNode.extentInfo, { partitionId: partition.partitionId })).extents.filter((extent) => extent.tiny).map((extent) => extent.size));
    const before = await sizes();
    const payload = new Uint8Array(5000).fill(4);
    const good = { partitionId: partition.partitionId, extentId: 0, offset: 0, size: payload.byteLength, crc32: crc32(payload), forwarded: false, tiny: true };
    const big = new Uint8Array(128 * 1024 + 1);
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ['wrong CRC', () => cluster.rpc.call(leader, DataNode.write, { ...good, crc32: (good.crc32 ^ 1) >>> 0 }, { payload }), 'CHECKSUM_MISMATCH'],
      ['extent named by the client', () => cluster.rpc.call(leader, DataNode.write, { ...good, extentId: 2 }, { payload }), 'INVALID_ARGUMENT'],
      ['offset named by the client', () => cluster.rpc.call(leader, DataNode.write, { ...good, offset: 4096 }, { payload }), 'INVALID_ARGUMENT'],
      ['oversized', () => cluster.rpc.call(leader, DataNode.write, { ...good, size: big.byteLength, crc32: crc32(big) }, { payload: big }), 'TOO_LARGE'],
      ['to a follower', () => cluster.rpc.call(follower, DataNode.write, good, { payload }), 'NOT_LEADER'],
      ['forwarded to a normal extent id', () => cluster.rpc.call(follower, DataNode.write, { ...good, forwarded: true, extentId: 1024 }, { payload }), 'INVALID_ARGUMENT'],
      ['forwarded at the wrong offset', () => cluster.rpc.call(follower, DataNode.write, { ...good, forwarded: true, extentId: 1, offset: 4096 * 100_000 }, { payload }), 'INVALID_ARGUMENT'],
    ];
    for (const [what, call, expected] of cases) assert.equal(await statusOf(call()), expected, what);
    assert.equal(await sizes(), before, 'no tiny extent grew');
    const { keys } = await client.writeSmall(payload);
    assert.deepEqual(await client.readFile(keys, 0, payload.byteLength), payload);
    // Larger than a small file, or empty: writeSmall does what write() does.
    const large = await client.writeSmall(new Uint8Array(300 * 1024).fill(6), 10);
    assert.ok(large.keys.every((key) => key.extentId >= tinyIdsBelow));
    assert.equal(large.keys[0]!.fileOffset, 10);
    assert.deepEqual(await client.writeSmall(new Uint8Array(0)), { keys: [], abandoned: [] });
  });

  test('a datanode killed while small files are in flight: every acknowledged file reads back; its tiny extents converge and take files again after it returns', async () => {
    const view = await client.refreshView();
    // The victim follows in some partition (not the leader of all of them).
    const partition = view.dataPartitions.find((candidate) => candidate.peers.length === 3)!;
    const victimNode = partition.peers.find((peer) => peer.nodeId !== partition.leaderNodeId)!.nodeId;
    const victimAddress = addressOfNode(partition, victimNode)!;
    const victim = cluster.nameOfAddress(victimAddress)!;
    const written: Array<{ index: number; key: ExtentKey }> = [];
    let next = 1000;
    const writeOne = async (): Promise<void> => {
      const index = next++;
      const { keys, abandoned } = await client.writeSmall(smallFile(index));
      assert.deepEqual(abandoned, []);
      assert.equal(keys.length, 1);
      written.push({ index, key: keys[0]! });
    };
    // Four writers in a loop; the node dies while they run.
    let stop = false;
    const writers = Array.from({ length: 4 }, async () => {
      for (let turn = 0; turn < 500 && !stop; turn++) await writeOne();
    });
    await waitFor('some small files before the kill', 30_000, async () => (written.length >= 20 ? true : undefined), 10);
    await cluster.kill(victim, 'SIGKILL');
    const atKill = written.length;
    await waitFor('small files after the kill', 120_000, async () => (written.length >= atKill + 60 ? true : undefined), 50);
    stop = true;
    await Promise.all(writers);
    for (const { index, key } of written) assert.deepEqual(await client.readFile([key], 0, key.size), smallFile(index), `file ${index} at ${JSON.stringify(key)}`);

    await cluster.restart(victim);
    // Every partition the victim holds: its tiny extents end up the same on every replica,
    // and the leader opens them again (a small file lands in that partition's tiny extent).
    const held = view.dataPartitions.filter((candidate) => candidate.peerServiceAddresses.includes(victimAddress));
    for (const candidate of held) {
      await waitFor(`tiny extents of partition ${candidate.partitionId} to converge`, 90_000, async () => {
        const infos = await Promise.all(candidate.peerServiceAddresses.map((address) => cluster.rpc.call(address, DataNode.extentInfo, { partitionId: candidate.partitionId })));
        const shapes = infos.map((info) => JSON.stringify(info.extents.filter((extent) => extent.tiny).map((extent) => [extent.extentId, extent.size, Buffer.from(extent.blockCrcs).toString('hex')])));
        return shapes.every((shape) => shape === shapes[0]) ? true : undefined;
      }, 250);
    }
    const landed = new Set<number>();
    await waitFor('small files in every partition again', 90_000, async () => {
      const { keys } = await client.writeSmall(smallFile(next++));
      if (keys[0]!.extentId < tinyIdsBelow) landed.add(keys[0]!.partitionId);
      return held.every((candidate) => landed.has(candidate.partitionId)) ? true : undefined;
    }, 50);
    await client.sync(written.map(({ key }) => key));
    for (const { index, key } of written.slice(0, 30)) assert.deepEqual(await client.readFile([key], 0, key.size), smallFile(index));
  });
});
