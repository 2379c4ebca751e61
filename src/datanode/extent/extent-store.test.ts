import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '../../checksum/index.js';
import { SimulatedDisk, type DiskFile } from '../../disk/index.js';
import { StatusCode, isAtollError } from '../../errors/index.js';
import { createRandom } from '../../random/index.js';
import { ExtentStore, buildExtentLimits, extentLimitsDefault } from './index.js';

const directory = '/partition';
const blockBytes = extentLimitsDefault.blockBytes;

function pattern(length: number, salt: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let position = 0; position < length; position++) bytes[position] = (position * 31 + salt) & 0xff;
  return bytes;
}

function joined(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

async function statusOf(action: () => Promise<unknown>): Promise<{ status: StatusCode; message: string }> {
  try {
    await action();
  } catch (error) {
    assert.ok(isAtollError(error), String(error));
    return { status: error.status, message: error.message };
  }
  assert.fail('expected a failure');
}

/** Appends in packets of at most packetBytesMax, as the write protocol does. */
async function appendAll(store: ExtentStore, extentId: number, bytes: Uint8Array): Promise<void> {
  const packet = extentLimitsDefault.packetBytesMax;
  for (let offset = 0; offset < bytes.byteLength; offset += packet) {
    await store.append(extentId, store.size(extentId), bytes.subarray(offset, Math.min(offset + packet, bytes.byteLength)));
  }
}

/** The simulated disk has no holes: this puncher zeroes like the real one would, and records each punch. */
function fakePuncher(disk: SimulatedDisk, punched: Array<[string, number, number]>, works: () => boolean): (path: string, offset: number, length: number) => Promise<boolean> {
  return async (path, offset, length) => {
    if (!works()) return false;
    punched.push([path, offset, length]);
    const file = await disk.openForAppend(path);
    try {
      await file.write(offset, new Uint8Array(length));
    } finally {
      await file.close();
    }
    return true;
  };
}

async function fresh(): Promise<{ disk: SimulatedDisk; store: ExtentStore }> {
  const disk = new SimulatedDisk();
  return { disk, store: await ExtentStore.open(disk, directory) };
}

test('appends of 0 B, 1 B, 4 KiB and 1 MiB + 1 read back whole and in pieces', async () => {
  const { disk, store } = await fresh();
  for (const length of [0, 1, 4096, 1024 * 1024 + 1]) {
    const extentId = await store.createExtent();
    const content = pattern(length, length & 0xff);
    await appendAll(store, extentId, content);
    assert.equal(store.size(extentId), length);
    assert.deepEqual(await store.read(extentId, 0, length), content, `${length} bytes`);
    if (length > blockBytes) {
      // A range across a block boundary, and the partial last block alone.
      assert.deepEqual(await store.read(extentId, blockBytes - 10, 20), content.subarray(blockBytes - 10, blockBytes + 10));
      assert.deepEqual(await store.read(extentId, length - 1, 1), content.subarray(length - 1));
    }
  }
  await store.close();
  assert.equal(disk.openFileCount(), 0);
});

test('readWithCrc answers the CRC of exactly the bytes read: whole blocks, partial ends and the partial last block', async () => {
  const { store } = await fresh();
  const seed = 4242;
  const random = createRandom(seed);
  const extentId = await store.createExtent();
  const length = 5 * blockBytes + 777;
  const content = pattern(length, 9);
  await appendAll(store, extentId, content);
  const ranges: Array<[number, number]> = [[0, length], [0, blockBytes], [blockBytes, 2 * blockBytes], [blockBytes - 1, blockBytes + 2], [5 * blockBytes, 777], [length - 1, 1], [3, 0]];
  for (let round = 0; round < 60; round++) {
    const offset = random.nextInt(length);
    ranges.push([offset, random.nextInt(Math.min(length - offset, 2 * blockBytes) + 1)]);
  }
  for (const [offset, size] of ranges) {
    const { data, crc32: answered } = await store.readWithCrc(extentId, offset, size);
    assert.deepEqual(data, content.subarray(offset, offset + size), `seed ${seed}: [${offset}, +${size})`);
    assert.equal(answered, crc32(content, offset, offset + size), `seed ${seed}: CRC of [${offset}, +${size})`);
  }
  await store.close();
});

test('an append past 128 MiB is refused with TOO_LARGE and the extent stays at the limit', async () => {
  const { store } = await fresh();
  const extentId = await store.createExtent();
  const packet = pattern(extentLimitsDefault.packetBytesMax, 3);
  const packets = extentLimitsDefault.extentBytesMax / packet.byteLength;
  for (let index = 0; index < packets; index++) await store.append(extentId, index * packet.byteLength, packet);
  assert.equal(store.size(extentId), 128 * 1024 * 1024);
  const refused = await statusOf(() => store.append(extentId, store.size(extentId), new Uint8Array(1)));
  assert.equal(refused.status, StatusCode.TOO_LARGE);
  assert.equal(store.size(extentId), 128 * 1024 * 1024);
  assert.deepEqual(await store.read(extentId, 128 * 1024 * 1024 - 5, 5), packet.subarray(packet.byteLength - 5));
  await store.close();
});

test('bad arguments are refused with a status code and write nothing', async () => {
  const { disk, store } = await fresh();
  const extentId = await store.createExtent();
  await store.append(extentId, 0, pattern(100, 1));
  await store.sync();
  const used = disk.bytesUsed();
  const wrongOffset = await statusOf(() => store.append(extentId, 50, pattern(10, 2)));
  assert.equal(wrongOffset.status, StatusCode.INVALID_ARGUMENT);
  assert.match(wrongOffset.message, /expected offset 100/);
  assert.equal((await statusOf(() => store.append(999_999, 0, pattern(10, 2)))).status, StatusCode.NOT_FOUND);
  assert.equal((await statusOf(() => store.read(999_999, 0, 1))).status, StatusCode.NOT_FOUND);
  assert.equal((await statusOf(() => store.append(extentId, 100, new Uint8Array(blockBytes + 1)))).status, StatusCode.TOO_LARGE);
  assert.equal((await statusOf(() => store.overwrite(extentId, 95, pattern(10, 2)))).status, StatusCode.INVALID_ARGUMENT);
  assert.equal((await statusOf(() => store.read(extentId, 90, 11))).status, StatusCode.INVALID_ARGUMENT);
  assert.equal((await statusOf(() => store.appendTiny(new Uint8Array(128 * 1024 + 1)))).status, StatusCode.TOO_LARGE);
  assert.equal(store.size(extentId), 100);
  assert.equal(disk.bytesUsed(), used);
  assert.deepEqual(await store.read(extentId, 0, 100), pattern(100, 1));
  await store.close();
});

test('a flipped byte on disk makes the read fail with CHECKSUM_MISMATCH and lists the block as bad', async () => {
  const { disk, store } = await fresh();
  const extentId = await store.createExtent();
  await appendAll(store, extentId, pattern(3 * blockBytes, 5));
  await store.sync();
  disk.corrupt(`${directory}/${extentId}.extent`, blockBytes + 7);
  assert.deepEqual(await store.read(extentId, 0, blockBytes), pattern(blockBytes, 5));
  const failed = await statusOf(() => store.read(extentId, blockBytes - 1, 2));
  assert.equal(failed.status, StatusCode.CHECKSUM_MISMATCH);
  assert.match(failed.message, new RegExp(`extent ${extentId}: block 1 \\[${blockBytes}, ${2 * blockBytes}\\)`));
  assert.deepEqual(store.badBlocks(), [{ extentId, block: 1 }]);
  // An overwrite next to the damage must not bless it with a fresh CRC.
  assert.equal((await statusOf(() => store.overwrite(extentId, blockBytes, pattern(4, 1)))).status, StatusCode.CHECKSUM_MISMATCH);
  await store.close();
});

test('an overwrite recomputes the CRCs of the blocks it touches, before and after reopen', async () => {
  const { disk, store } = await fresh();
  const extentId = await store.createExtent();
  const content = pattern(2 * blockBytes + 1000, 9);
  await appendAll(store, extentId, content);
  const patch = pattern(5000, 77);
  await store.overwrite(extentId, blockBytes - 2500, patch);
  content.set(patch, blockBytes - 2500);
  assert.deepEqual(await store.read(extentId, 0, content.byteLength), content);
  await store.close();
  const reopened = await ExtentStore.open(disk, directory);
  assert.deepEqual(await reopened.read(extentId, 0, content.byteLength), content);
  assert.deepEqual(reopened.badBlocks(), []);

  // Overwrites queued together, in two extents, across and within blocks, with reads
  // between them: each merges its own blocks (they share one buffer, one at a time).
  const second = await reopened.createExtent();
  const other = pattern(3 * blockBytes, 5);
  await appendAll(reopened, second, other);
  const patches: Array<{ extent: number; into: Uint8Array; at: number; bytes: Uint8Array }> = [];
  for (let index = 0; index < 24; index++) {
    const [extent, into] = index % 2 === 0 ? [extentId, content] : [second, other];
    const length = 1 + ((index * 7919) % blockBytes);
    const at = (index * 50_021) % (into.byteLength - length);
    patches.push({ extent, into, at, bytes: pattern(length, 100 + index) });
  }
  const reads: Array<Promise<Uint8Array>> = [];
  const writes = patches.map(({ extent, at, bytes }, index) => {
    const written = reopened.overwrite(extent, at, bytes);
    if (index % 5 === 0) reads.push(reopened.read(extent, 0, 1000));
    return written;
  });
  await Promise.all([...writes, ...reads]);
  for (const { into, at, bytes } of patches) into.set(bytes, at);
  assert.deepEqual(await reopened.read(extentId, 0, content.byteLength), content);
  assert.deepEqual(await reopened.read(second, 0, other.byteLength), other);
  await reopened.close();
  const again = await ExtentStore.open(disk, directory);
  assert.deepEqual(await again.read(extentId, 0, content.byteLength), content, 'the CRCs written match the bytes');
  assert.deepEqual(await again.read(second, 0, other.byteLength), other);
  assert.deepEqual(again.badBlocks(), []);
  await again.close();
});

test('deleting an extent removes its files, gives the space back and never reuses its id', async () => {
  const { disk, store } = await fresh();
  const extentId = await store.createExtent();
  await appendAll(store, extentId, pattern(500_000, 1));
  await store.sync();
  const used = disk.bytesUsed();
  await store.deleteExtent(extentId);
  assert.ok(disk.bytesUsed() <= used - 500_000, `space back: ${disk.bytesUsed()} of ${used}`);
  assert.ok(!(await disk.list(directory)).some((name) => name.startsWith(`${extentId}.`)));
  assert.equal((await statusOf(() => store.read(extentId, 0, 1))).status, StatusCode.NOT_FOUND);
  assert.ok(store.isDeleted(extentId));
  const next = await store.createExtent();
  assert.ok(next > extentId);
  await store.close();
  const reopened = await ExtentStore.open(disk, directory);
  assert.ok(reopened.isDeleted(extentId));
  assert.ok((await reopened.createExtent()) > next);
  await reopened.close();
});

test('tiny writes land at 4 KiB-aligned offsets; a release zeroes the pages and counts them free', async () => {
  const { disk, store } = await fresh();
  const first = await store.appendTiny(pattern(10, 1));
  const locations = [first];
  // One more than the tiny extent count, so one tiny extent takes a second file.
  for (let index = 0; index < extentLimitsDefault.tinyExtentCount; index++) locations.push(await store.appendTiny(pattern(5000, index)));
  for (const location of locations) {
    assert.equal(location.offset % 4096, 0);
    assert.ok(location.extentId >= 1 && location.extentId <= extentLimitsDefault.tinyExtentCount);
  }
  const shared = locations.find((location) => location.offset > 0)!;
  assert.equal(shared.extentId, first.extentId);
  assert.equal(shared.offset, 4096);
  assert.equal(await store.releaseTiny(first.extentId, first.offset, 10), 4096);
  assert.deepEqual(await store.read(first.extentId, 0, 10), new Uint8Array(10));
  assert.deepEqual(await store.read(shared.extentId, shared.offset, 5000), pattern(5000, extentLimitsDefault.tinyExtentCount - 1));
  assert.equal(store.freedBytes(first.extentId), 4096);
  assert.equal((await statusOf(() => store.releaseTiny(first.extentId, 100, 10))).status, StatusCode.INVALID_ARGUMENT);
  await store.close();
  const reopened = await ExtentStore.open(disk, directory);
  assert.equal(reopened.freedBytes(first.extentId), 4096);
  assert.deepEqual(await reopened.read(first.extentId, 0, 10), new Uint8Array(10));
  await reopened.close();
});

test('reopen after close keeps every extent, size and byte', async () => {
  const { disk, store } = await fresh();
  const contents = new Map<number, Uint8Array>();
  for (let index = 0; index < 4; index++) {
    const extentId = await store.createExtent();
    const content = pattern(index * 100_000 + 3, index);
    await appendAll(store, extentId, content);
    contents.set(extentId, content);
  }
  const listed = store.list();
  await store.close();
  const reopened = await ExtentStore.open(disk, directory);
  assert.deepEqual(reopened.list(), listed);
  for (const [extentId, content] of contents) assert.deepEqual(await reopened.read(extentId, 0, content.byteLength), content);
  assert.deepEqual(reopened.recovery.trimmedTails, []);
  await reopened.close();
});

const seed = Number(process.env.ATOLL_EXTENT_SEED ?? 4242);

test('a crash keeps synced data with good CRCs and never exposes an unsynced tail', async () => {
  console.log(`extent crash seed ${seed} (ATOLL_EXTENT_SEED replays)`);
  const random = createRandom(seed);
  const limits = buildExtentLimits();
  let trimmed = 0;
  for (let round = 0; round < 30; round++) {
    let disk = new SimulatedDisk();
    const store = await ExtentStore.open(disk, directory, limits);
    const extentId = await store.createExtent();
    const synced = pattern(blockBytes + 5000, round);
    await appendAll(store, extentId, synced);
    await store.sync();
    // Unsynced: more of the partial block, and a further block.
    await store.append(extentId, synced.byteLength, pattern(blockBytes, round + 100));
    disk = disk.crash(random, { reorderWriteback: round % 2 === 0 });
    const recovered = await ExtentStore.open(disk, directory, limits);
    assert.equal(recovered.size(extentId), synced.byteLength, `seed ${seed} round ${round}`);
    assert.deepEqual(await recovered.read(extentId, 0, synced.byteLength), synced, `seed ${seed} round ${round}`);
    trimmed += recovered.recovery.trimmedTails.length;
    // Appends continue where the synced data ended.
    await recovered.append(extentId, synced.byteLength, pattern(10, 1));
    await recovered.close();
  }
  assert.ok(trimmed > 0, `seed ${seed}: some crash left an unsynced tail to trim`);
});

test('a crash before an extent create is durable never reuses an id that was handed out', async () => {
  const random = createRandom(seed + 1);
  let disk = new SimulatedDisk();
  const store = await ExtentStore.open(disk, directory);
  const first = await store.createExtent();
  const second = await store.createExtent();
  disk = disk.crash(random);
  const recovered = await ExtentStore.open(disk, directory);
  assert.deepEqual(recovered.list().filter((info) => !info.tiny).map((info) => info.extentId), [first, second]);
  assert.ok((await recovered.createExtent()) > second);
  await recovered.close();
});

test('a follower creates the extent id its leader chose; again is a no-op; a deleted id is refused; ids go on above it', async () => {
  const { store } = await fresh();
  assert.equal(await store.createExtent(5000), 5000);
  assert.equal(await store.createExtent(5000), 5000);
  assert.equal(await store.createExtent(), 5001);
  await store.deleteExtent(5000);
  assert.equal((await statusOf(() => store.createExtent(5000))).status, StatusCode.NOT_FOUND);
  assert.equal((await statusOf(() => store.createExtent(3))).status, StatusCode.INVALID_ARGUMENT);
});

test("after a reopen a follower still creates its leader's id, below the ids this store reserved for itself", async () => {
  const disk = new SimulatedDisk();
  const first = await ExtentStore.open(disk, directory);
  const own = await first.createExtent();
  await first.close();
  // Reopened, the store's own next id is past the reserved batch; the leader's is not.
  const store = await ExtentStore.open(disk, directory);
  const leaderChose = own + 5;
  assert.equal(await store.createExtent(leaderChose), leaderChose);
  assert.ok(store.hasExtent(leaderChose));
  await store.append(leaderChose, 0, pattern(10, 1));
  assert.equal(store.size(leaderChose), 10);
  assert.deepEqual(store.list().filter((info) => !info.tiny).map((info) => info.extentId), [own, leaderChose]);
  const next = await store.createExtent();
  assert.ok(next > leaderChose && next !== own);
  await store.close();
  // The ids stay reserved across another reopen: nothing is handed out twice.
  const again = await ExtentStore.open(disk, directory);
  assert.ok((await again.createExtent()) > next);
  await again.close();
});

test('repair: copied bytes append to any extent, a bad block is replaced only by bytes with the source CRC, used bytes count it all', async () => {
  const { disk, store } = await fresh();
  const extentId = await store.createExtent();
  const data = pattern(2 * blockBytes + 100, 3);
  await store.appendCopied(extentId, 0, data.subarray(0, blockBytes));
  await store.appendCopied(extentId, blockBytes, data.subarray(blockBytes, 2 * blockBytes));
  await store.appendCopied(extentId, 2 * blockBytes, data.subarray(2 * blockBytes));
  assert.equal((await statusOf(() => store.appendCopied(extentId, 5, new Uint8Array(1)))).status, StatusCode.INVALID_ARGUMENT);
  await store.sync();
  assert.equal(store.usedBytes(), data.byteLength);
  const crcs = store.blockCrcs(extentId);
  // Corrupt block 1 on the disk behind the store's back.
  const file = await disk.openForAppend(`${directory}/${extentId}.extent`);
  await file.write(blockBytes + 7, new Uint8Array([0xee]));
  await file.sync();
  assert.equal((await statusOf(() => store.read(extentId, blockBytes, 10))).status, StatusCode.CHECKSUM_MISMATCH);
  assert.deepEqual(store.badBlocksOf(extentId), [1]);
  const good = data.subarray(blockBytes, 2 * blockBytes);
  assert.equal((await statusOf(() => store.replaceBlock(extentId, 1, good, (crcs[1]! ^ 1) >>> 0))).status, StatusCode.CHECKSUM_MISMATCH);
  assert.equal((await statusOf(() => store.replaceBlock(extentId, 1, good.subarray(1), crcs[1]!))).status, StatusCode.INVALID_ARGUMENT);
  await store.replaceBlock(extentId, 1, good, crcs[1]!);
  assert.deepEqual(store.badBlocksOf(extentId), []);
  assert.deepEqual(await store.read(extentId, 0, data.byteLength), data);
});

test('a replica writes a small file exactly where its leader placed it: the aligned end of the tiny extent, else refused', async () => {
  const { store } = await fresh();
  await store.appendTinyAt(3, 0, pattern(10, 1));
  assert.equal(store.tinyEnd(store.size(3)), 4096);
  for (const [what, offset] of [['before the end', 0], ['not the aligned end', 10], ['past the aligned end', 8192]] as const) {
    const refused = await statusOf(() => store.appendTinyAt(3, offset, pattern(20, 2)));
    assert.equal(refused.status, StatusCode.INVALID_ARGUMENT, what);
    assert.match(refused.message, /expected offset 4096/, what);
  }
  assert.equal((await statusOf(() => store.appendTinyAt(1024, 0, pattern(20, 2)))).status, StatusCode.NOT_FOUND);
  const normal = await store.createExtent();
  assert.equal((await statusOf(() => store.appendTinyAt(normal, 0, pattern(20, 2)))).status, StatusCode.INVALID_ARGUMENT);
  assert.equal((await statusOf(() => store.appendTinyAt(3, 4096, new Uint8Array(0)))).status, StatusCode.INVALID_ARGUMENT);
  assert.equal((await statusOf(() => store.appendTinyAt(3, 4096, new Uint8Array(128 * 1024 + 1)))).status, StatusCode.TOO_LARGE);
  assert.equal(store.size(3), 10, 'nothing refused was written');
  await store.appendTinyAt(3, 4096, pattern(20, 2));
  assert.equal(store.size(3), 4096 + 20);
  assert.deepEqual(await store.read(3, 0, 10), pattern(10, 1));
  assert.deepEqual(await store.read(3, 10, 4086), new Uint8Array(4086), 'the padding is zeros');
  assert.deepEqual(await store.read(3, 4096, 20), pattern(20, 2));
  await store.close();
});

test('a release punches whole pages through the hole puncher, zeroes a partial last page, and falls back to zeroing when punching fails', async () => {
  const disk = new SimulatedDisk();
  const punched: Array<[string, number, number]> = [];
  let punchWorks = true;
  const punchHole = fakePuncher(disk, punched, () => punchWorks);
  const store = await ExtentStore.open(disk, directory, extentLimitsDefault, { punchHole });
  const first = pattern(9000, 1);
  await store.appendTinyAt(2, 0, first);
  await store.appendTinyAt(2, 12288, pattern(5000, 2));
  await store.appendTinyAt(2, 20480, pattern(100, 3));
  // Three pages, all whole: one punch.
  assert.equal(await store.releaseTiny(2, 0, 9000), 12288);
  assert.deepEqual(punched, [[`${directory}/2.extent`, 0, 12288]]);
  // The last file ends inside its page: nothing to punch, the bytes are zeroed.
  assert.equal(await store.releaseTiny(2, 20480, 100), 100);
  assert.equal(punched.length, 1);
  assert.deepEqual(await store.read(2, 0, 12288), new Uint8Array(12288));
  assert.deepEqual(await store.read(2, 20480, 100), new Uint8Array(100));
  assert.deepEqual(await store.read(2, 12288, 5000), pattern(5000, 2), 'the neighbour is intact');
  punchWorks = false;
  assert.equal(await store.releaseTiny(2, 12288, 5000), 8192);
  assert.deepEqual(await store.read(2, 12288, 5000), new Uint8Array(5000), 'zeroed when punching fails');
  assert.equal(store.freedBytes(2), 12288 + 8192 + 4096);
  await store.close();
});

test('repair of a tiny extent block gives back the pages a missed release zeroed: whole zero pages are punched, the rest written', async () => {
  const disk = new SimulatedDisk();
  const punched: Array<[string, number, number]> = [];
  const store = await ExtentStore.open(disk, directory, extentLimitsDefault, { punchHole: fakePuncher(disk, punched, () => true) });
  await store.appendTinyAt(2, 0, pattern(9000, 1));
  await store.appendTinyAt(2, 12288, pattern(5000, 2));
  await store.appendTinyAt(2, 20480, pattern(100, 3));
  // What the majority holds after the first file's release: its three pages are zeros.
  const majority = new Uint8Array(20580);
  majority.set(pattern(5000, 2), 12288);
  majority.set(pattern(100, 3), 20480);
  await store.replaceBlock(2, 0, majority, crc32(majority));
  // Pages 0-2 (the released file) go as one run; page 4 holds the second file's tail and
  // then zeros, and the last page is partial: both are written, not punched.
  assert.deepEqual(punched, [[`${directory}/2.extent`, 0, 12288]]);
  assert.deepEqual(await store.read(2, 0, 20580), majority, 'the bytes are the copied ones');
  assert.equal(store.freedBytes(2), 0, 'punched pages are not counted as released here');
  await store.close();
});

test('a bad block stays marked across a restart and a crash until repair replaces it', async () => {
  const { disk, store } = await fresh();
  const extentId = await store.createExtent();
  const data = pattern(3 * blockBytes, 4);
  await appendAll(store, extentId, data);
  await store.sync();
  disk.corrupt(`${directory}/${extentId}.extent`, 2 * blockBytes + 1);
  assert.equal((await statusOf(() => store.read(extentId, 2 * blockBytes, 10))).status, StatusCode.CHECKSUM_MISMATCH);
  // A crash right after the read (nothing else synced) keeps the mark.
  const crashed = disk.crash(createRandom(7));
  const reopened = await ExtentStore.open(crashed, directory);
  assert.deepEqual(reopened.badBlocks(), [{ extentId, block: 2 }]);
  const crcs = reopened.blockCrcs(extentId);
  await reopened.replaceBlock(extentId, 2, data.subarray(2 * blockBytes), crcs[2]!);
  assert.deepEqual(reopened.badBlocks(), []);
  await reopened.close();
  const again = await ExtentStore.open(crashed, directory);
  assert.deepEqual(again.badBlocks(), [], 'the repair cleared the mark for good');
  assert.deepEqual(await again.read(extentId, 0, data.byteLength), data);
  await again.close();
});

test('a damaged bad-block list refuses the open with INTERNAL', async () => {
  const { disk, store } = await fresh();
  const extentId = await store.createExtent();
  await appendAll(store, extentId, pattern(blockBytes, 4));
  await store.sync();
  disk.corrupt(`${directory}/${extentId}.extent`, 3);
  await statusOf(() => store.read(extentId, 0, 10));
  await store.close();
  disk.corrupt(`${directory}/bad-blocks.list`, 13);
  const refused = await statusOf(() => ExtentStore.open(disk, directory));
  assert.equal(refused.status, StatusCode.INTERNAL);
  assert.match(refused.message, /bad-blocks.list is damaged/);
});

test("an append given its packet's CRC uses it for a block the packet starts, and computes the others", async () => {
  // Small blocks, so that one packet can span two of them.
  const small = 4096;
  const store = await ExtentStore.open(new SimulatedDisk(), directory, buildExtentLimits({ blockBytes: small, tinyAlignmentBytes: small, extentBytesMax: 1024 * small }));
  const plain = await store.createExtent();
  const given = await store.createExtent();
  const packets = [pattern(small, 1), pattern(1000, 2), pattern(small - 1000, 3), pattern(2 * small + 5, 4), pattern(10, 5)];
  for (const packet of packets) {
    await store.append(plain, store.size(plain), packet);
    // The CRC is the wire's, already checked: for the packet that continues a block it must not be used.
    await store.append(given, store.size(given), packet, crc32(packet));
  }
  assert.deepEqual(store.blockCrcs(given), store.blockCrcs(plain));
  assert.deepEqual(await store.read(given, 0, store.size(given)), await store.read(plain, 0, store.size(plain)));
  await store.close();
});

/**
 * A disk whose data-file reads wait at a gate while it is closed, counting the reads in
 * flight and the in-place writes, so a test can see what runs beside what.
 */
class GatedDisk extends SimulatedDisk {
  gateClosed = false;
  readsInFlight = 0;
  readsInFlightMax = 0;
  inPlaceWrites = 0;
  /** Extent file appends: the number of pieces each call wrote at once. */
  readonly appendPieces: number[] = [];
  appendGateClosed = false;
  #opened: Array<() => void> = [];
  #appendsOpened: Array<() => void> = [];

  open(): void {
    this.gateClosed = false;
    for (const release of this.#opened.splice(0)) release();
  }

  openAppends(): void {
    this.appendGateClosed = false;
    for (const release of this.#appendsOpened.splice(0)) release();
  }

  override async openForAppend(path: string): Promise<DiskFile> {
    const file = await super.openForAppend(path);
    if (!path.endsWith('.extent')) return file;
    const gated: DiskFile = {
      path: file.path,
      size: () => file.size(),
      append: async (bytes) => {
        this.appendPieces.push(bytes instanceof Uint8Array ? 1 : bytes.length);
        if (this.appendGateClosed) await new Promise<void>((resolve) => this.#appendsOpened.push(resolve));
        return file.append(bytes);
      },
      sync: () => file.sync(),
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
      read: async (position, length) => {
        this.readsInFlight += 1;
        this.readsInFlightMax = Math.max(this.readsInFlightMax, this.readsInFlight);
        try {
          if (this.gateClosed) await new Promise<void>((resolve) => this.#opened.push(resolve));
          return await file.read(position, length);
        } finally {
          this.readsInFlight -= 1;
        }
      },
      write: (position, bytes) => {
        this.inPlaceWrites += 1;
        return file.write(position, bytes);
      },
    };
    return gated;
  }
}

async function settleTicks(): Promise<void> {
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
}

test('reads run side by side; a change waits for the reads before it, and a read after a change sees it', async () => {
  const disk = new GatedDisk();
  const store = await ExtentStore.open(disk, directory);
  const extentId = await store.createExtent();
  const before = pattern(2 * blockBytes, 1);
  await appendAll(store, extentId, before);

  disk.gateClosed = true;
  const first = store.read(extentId, 0, blockBytes);
  const second = store.read(extentId, blockBytes, blockBytes);
  await settleTicks();
  assert.equal(disk.readsInFlight, 2, 'two reads are at the disk at once');

  const replacement = pattern(100, 9);
  const overwrite = store.overwrite(extentId, 10, replacement);
  const after = store.read(extentId, 0, blockBytes);
  await settleTicks();
  // The overwrite reads its blocks first: had it started, a third read would be in flight.
  assert.equal(disk.readsInFlight, 2, 'the overwrite and the read queued after it wait for the reads before them');
  assert.equal(disk.inPlaceWrites, 0);

  disk.open();
  assert.deepEqual(await first, before.subarray(0, blockBytes), 'the read before the overwrite sees the old bytes');
  assert.deepEqual(await second, before.subarray(blockBytes));
  await overwrite;
  assert.equal(disk.inPlaceWrites, 1);
  const expected = before.slice(0, blockBytes);
  expected.set(replacement, 10);
  assert.deepEqual(await after, expected, 'the read queued after the overwrite sees it');
  assert.equal(disk.readsInFlightMax, 2);
});

test("appends queued back to back reach each extent's file in one write, each checked and answered alone; a read between them splits the batch", async () => {
  const disk = new GatedDisk();
  const store = await ExtentStore.open(disk, directory, buildExtentLimits({ appendBatchBytesMax: 4 * blockBytes }));
  const extentId = await store.createExtent();
  const other = await store.createExtent();
  const packets = [0, 1, 2, 3, 4, 5, 6].map((salt) => pattern(blockBytes, salt));

  disk.appendGateClosed = true;
  const first = store.append(extentId, 0, packets[0]!);
  await settleTicks();
  assert.deepEqual(disk.appendPieces, [1], 'the first append is at the disk alone');
  // Queued while it is in flight: one batch, with a wrong offset in the middle.
  const second = store.append(extentId, blockBytes, packets[1]!, crc32(packets[1]!));
  const wrongOffset = statusOf(() => store.append(extentId, 5 * blockBytes, packets[2]!));
  const third = store.append(extentId, 2 * blockBytes, packets[3]!);
  const read = store.read(extentId, 0, 3 * blockBytes);
  const fourth = store.append(extentId, 3 * blockBytes, packets[4]!);
  const elsewhere = store.append(other, 0, packets[5]!);
  const fifth = store.append(extentId, 4 * blockBytes, packets[6]!);
  disk.openAppends();
  await Promise.all([first, second, third, fourth, elsewhere, fifth]);
  const refused = await wrongOffset;
  assert.equal(refused.status, StatusCode.INVALID_ARGUMENT);
  assert.match(refused.message, /expected offset 262144/);
  // [first], [second, wrong offset (not written), third], read, [fourth, fifth] beside [elsewhere]
  assert.deepEqual(disk.appendPieces, [1, 2, 2, 1]);
  const expected = joined([packets[0]!, packets[1]!, packets[3]!, packets[4]!, packets[6]!]);
  assert.deepEqual(await read, expected.subarray(0, 3 * blockBytes), 'the read queued between two batches sees the first and not the second');
  assert.equal(store.size(extentId), 5 * blockBytes);
  assert.deepEqual(await store.read(extentId, 0, 5 * blockBytes), expected, 'every block reads back against its CRC');
  assert.deepEqual(await store.read(other, 0, blockBytes), packets[5]);

  // A batch holds at most appendBatchBytesMax: six packets queued at once go in a write of four and one of two.
  const start = store.size(extentId);
  const many = [7, 8, 9, 10, 11, 12].map((salt) => pattern(blockBytes, salt));
  await Promise.all(many.map((bytes, index) => store.append(extentId, start + index * blockBytes, bytes)));
  assert.deepEqual(disk.appendPieces.slice(4), [4, 2]);
  assert.deepEqual(await store.read(extentId, start, 6 * blockBytes), joined(many));

  // The extents of one batch are written side by side.
  disk.appendGateClosed = true;
  const alongside = [store.append(extentId, store.size(extentId), pattern(10, 1)), store.append(other, blockBytes, pattern(10, 2))];
  await settleTicks();
  assert.deepEqual(disk.appendPieces.slice(6), [1, 1], 'both writes are at the disk at once');
  disk.openAppends();
  await Promise.all(alongside);
  assert.equal(store.size(other), blockBytes + 10);
});

test('a batch of appends that fails at the disk refuses every append in it and leaves no bytes behind', async () => {
  const disk = new SimulatedDisk({ fullAfterBytes: 1024 * 1024 });
  const store = await ExtentStore.open(disk, directory);
  const extentId = await store.createExtent();
  await store.append(extentId, 0, pattern(blockBytes, 1));
  await store.sync();
  const results = await Promise.allSettled([1, 2, 3, 4, 5, 6, 7, 8].map((index) => store.append(extentId, index * blockBytes, pattern(blockBytes, index + 1))));
  const refused = results.filter((result) => result.status === 'rejected');
  assert.ok(refused.length > 0, 'the disk fills');
  for (const result of refused) assert.equal((result.reason as { status: StatusCode }).status, StatusCode.NO_SPACE);
  const kept = results.findIndex((result) => result.status === 'rejected');
  assert.equal(store.size(extentId), (kept + 1) * blockBytes, 'the extent ends after the last append answered ok');
  assert.deepEqual(await store.read(extentId, 0, blockBytes), pattern(blockBytes, 1));
  // The store goes on: after the failed batch, an append at the end is taken.
  await store.append(extentId, store.size(extentId), pattern(100, 3));
  assert.equal(store.size(extentId), (kept + 1) * blockBytes + 100);
});
