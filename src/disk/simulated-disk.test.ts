import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusCode, isAtollError } from '../errors/index.js';
import { createRandom } from '../random/index.js';
import { simulatedPageBytes } from './simulated-file-content.js';
import { SimulatedDisk } from './simulated-disk.js';
import { describeDiskContract } from './testing/disk-contract.js';

describeDiskContract('SimulatedDisk', async () => {
  const disk = new SimulatedDisk();
  await disk.makeDirectory('/root');
  return { disk, root: '/root', cleanup: async () => assert.equal(disk.openFileCount(), 0, 'every file is closed') };
});

const seed = Number(process.env.ATOLL_DISK_SEED ?? 7031);

function pattern(length: number, salt: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let position = 0; position < length; position++) bytes[position] = (position * 31 + salt) & 0xff;
  return bytes;
}

async function readAll(disk: SimulatedDisk, path: string): Promise<Uint8Array> {
  const file = await disk.openForRead(path);
  const content = await file.read(0, await file.size());
  await file.close();
  return content;
}

async function statusOf(action: () => Promise<unknown>): Promise<StatusCode> {
  try {
    await action();
  } catch (error) {
    assert.ok(isAtollError(error), String(error));
    return error.status;
  }
  assert.fail('expected a failure');
}

test('a crash keeps synced data and a prefix of the unsynced tail, sometimes cutting an append in half', async () => {
  console.log(`simulated disk crash seed ${seed} (ATOLL_DISK_SEED replays)`);
  const random = createRandom(seed);
  const content = pattern(3000, 1);
  const keptLengths = new Set<number>();
  for (let round = 0; round < 200; round++) {
    let disk = new SimulatedDisk();
    await disk.makeDirectory('/d');
    const file = await disk.openForAppend('/d/f');
    await disk.syncDirectory('/d');
    await file.append(content.subarray(0, 1000));
    await file.sync();
    await file.append(content.subarray(1000, 2000));
    await file.append(content.subarray(2000, 3000));
    disk = disk.crash(random);
    const survived = await readAll(disk, '/d/f');
    assert.ok(survived.byteLength >= 1000 && survived.byteLength <= 3000, `seed ${seed} round ${round}: length ${survived.byteLength}`);
    assert.deepEqual(survived, content.subarray(0, survived.byteLength), `seed ${seed} round ${round}: not a prefix`);
    keptLengths.add(survived.byteLength);
  }
  assert.ok([...keptLengths].some((length) => length !== 1000 && length !== 2000 && length !== 3000), 'some crash tears an append');
  assert.ok(keptLengths.has(1000) || [...keptLengths].some((length) => length < 1100), 'some crash loses nearly the whole tail');
});

test('reordered writeback zeroes whole pages of the unsynced tail, never synced bytes', async () => {
  const random = createRandom(seed + 1);
  const content = pattern(6 * simulatedPageBytes, 3);
  let sawZeroedPage = false;
  for (let round = 0; round < 100; round++) {
    let disk = new SimulatedDisk();
    await disk.makeDirectory('/d');
    const file = await disk.openForAppend('/d/f');
    await disk.syncDirectory('/d');
    const synced = simulatedPageBytes + 100;
    await file.append(content.subarray(0, synced));
    await file.sync();
    await file.append(content.subarray(synced));
    disk = disk.crash(random, { reorderWriteback: true });
    const survived = await readAll(disk, '/d/f');
    assert.deepEqual(survived.subarray(0, synced), content.subarray(0, synced), `seed ${seed + 1} round ${round}: synced bytes changed`);
    for (let position = synced; position < survived.byteLength; position++) {
      if (survived[position] !== content[position]) {
        assert.equal(survived[position], 0);
        sawZeroedPage = true;
      }
    }
  }
  assert.ok(sawZeroedPage);
});

test('a crash keeps the old or the new content of each page written in place, and all of it after sync', async () => {
  const random = createRandom(seed);
  const original = pattern(3 * simulatedPageBytes, 1);
  const replacement = pattern(3 * simulatedPageBytes, 99);
  const outcomes = new Set<string>();
  for (let round = 0; round < 64; round++) {
    let disk = new SimulatedDisk();
    await disk.makeDirectory('/d');
    const file = await disk.openForAppend('/d/f');
    await disk.syncDirectory('/d');
    await file.append(original);
    await file.sync();
    await file.write(0, replacement);
    disk = disk.crash(random);
    const survived = await readAll(disk, '/d/f');
    assert.equal(survived.byteLength, original.byteLength);
    let outcome = '';
    for (let page = 0; page < 3; page++) {
      const range = [page * simulatedPageBytes, (page + 1) * simulatedPageBytes] as const;
      const kept = survived.subarray(...range);
      const isNew = kept.every((byte, index) => byte === replacement[range[0] + index]);
      assert.ok(isNew || kept.every((byte, index) => byte === original[range[0] + index]), `seed ${seed} round ${round}: page ${page} mixed`);
      outcome += isNew ? 'n' : 'o';
    }
    outcomes.add(outcome);
  }
  assert.ok(outcomes.size > 2, `seed ${seed}: pages survive independently: ${[...outcomes].join(',')}`);
  let disk = new SimulatedDisk();
  await disk.makeDirectory('/d');
  const file = await disk.openForAppend('/d/f');
  await disk.syncDirectory('/d');
  await file.append(original);
  await file.sync();
  await file.write(10, replacement.subarray(0, 5000));
  await file.sync();
  disk = disk.crash(random);
  const expected = original.slice();
  expected.set(replacement.subarray(0, 5000), 10);
  assert.deepEqual(await readAll(disk, '/d/f'), expected);
});

test('a new file whose directory was not synced may vanish in a crash; after syncDirectory it survives', async () => {
  const random = createRandom(seed + 2);
  const outcomes = new Set<string>();
  for (let round = 0; round < 50; round++) {
    let disk = new SimulatedDisk();
    await disk.makeDirectory('/d');
    await disk.syncDirectory('/');
    const file = await disk.openForAppend('/d/unsynced');
    await file.append(pattern(10, 0));
    await file.sync();
    const kept = await disk.openForAppend('/d/synced');
    await disk.syncDirectory('/d');
    await kept.close();
    await (await disk.openForAppend('/d/later')).close();
    disk = disk.crash(random);
    const names = await disk.list('/d');
    assert.ok(names.includes('synced') && names.includes('unsynced'), `seed ${seed + 2} round ${round}: ${names.join(',')}`);
    outcomes.add(names.join(','));
  }
  // 'later' was created after the last directory sync: both outcomes must occur.
  assert.deepEqual([...outcomes].sort(), ['later,synced,unsynced', 'synced,unsynced']);
});

test('an unsynced rename or remove comes out whole or not at all', async () => {
  const random = createRandom(seed + 3);
  const outcomes = new Set<string>();
  for (let round = 0; round < 60; round++) {
    let disk = new SimulatedDisk();
    await disk.makeDirectory('/d');
    for (const [name, salt] of [['target', 1], ['source.tmp', 2], ['doomed', 3]] as const) {
      const file = await disk.openForAppend(`/d/${name}`);
      await file.append(pattern(8, salt));
      await file.sync();
      await file.close();
    }
    await disk.syncDirectory('/d');
    await disk.rename('/d/source.tmp', '/d/target');
    await disk.remove('/d/doomed');
    disk = disk.crash(random);
    const names = (await disk.list('/d')).join(',');
    const target = await readAll(disk, '/d/target');
    if (names.includes('source.tmp')) assert.deepEqual(target, pattern(8, 1), 'rename not applied: old target');
    else assert.deepEqual(target, pattern(8, 2), 'rename applied: new content');
    outcomes.add(names);
  }
  // Changes persist in order: the remove never survives without the rename before it.
  assert.deepEqual([...outcomes].sort(), ['doomed,source.tmp,target', 'doomed,target', 'target']);
});

test('an unsynced truncate comes back undone or done, with any later appends cut at a random point', async () => {
  const random = createRandom(seed + 4);
  const content = pattern(100, 5);
  const lengths = new Set<number>();
  for (let round = 0; round < 60; round++) {
    let disk = new SimulatedDisk();
    await disk.makeDirectory('/d');
    const file = await disk.openForAppend('/d/f');
    await disk.syncDirectory('/d');
    await file.append(content);
    await file.sync();
    await file.truncate(40);
    await file.append(pattern(10, 9));
    disk = disk.crash(random);
    const survived = await readAll(disk, '/d/f');
    if (survived.byteLength === 100) assert.deepEqual(survived, content);
    else {
      assert.ok(survived.byteLength >= 40 && survived.byteLength <= 50);
      assert.deepEqual(survived.subarray(0, 40), content.subarray(0, 40));
      assert.deepEqual(survived.subarray(40), pattern(10, 9).subarray(0, survived.byteLength - 40));
    }
    lengths.add(survived.byteLength);
  }
  assert.ok(lengths.has(100) && [...lengths].some((length) => length < 100));
});

test('the same seed gives the same crash', async () => {
  const run = async (): Promise<number[]> => {
    const random = createRandom(seed + 5);
    const lengths: number[] = [];
    for (let round = 0; round < 20; round++) {
      let disk = new SimulatedDisk();
      await disk.makeDirectory('/d');
      await disk.syncDirectory('/');
      for (const name of ['a', 'b', 'c']) {
        const file = await disk.openForAppend(`/d/${name}`);
        await file.append(pattern(500, round));
      }
      disk = disk.crash(random);
      for (const name of await disk.list('/d')) lengths.push((await readAll(disk, `/d/${name}`)).byteLength);
    }
    return lengths;
  };
  assert.deepEqual(await run(), await run());
});

test('corrupt flips a byte of durable data, also behind an unsynced truncate', async () => {
  const disk = new SimulatedDisk();
  await disk.makeDirectory('/d');
  const file = await disk.openForAppend('/d/f');
  await file.append(pattern(10, 0));
  await file.sync();
  disk.corrupt('/d/f', 3);
  assert.equal((await file.read(3, 1))[0], pattern(10, 0)[3]! ^ 0xff);
  await file.append(pattern(5, 1));
  assert.throws(() => disk.corrupt('/d/f', 12), /outside the durable/);
  await file.truncate(2);
  disk.corrupt('/d/f', 8);
  await disk.syncDirectory('/d');
  const restarted = disk.crash(createRandom(1));
  const survived = await readAll(restarted, '/d/f');
  if (survived.byteLength === 10) assert.equal(survived[8], pattern(10, 0)[8]! ^ 0xff);
});

test('appends beyond fullAfterBytes fail with NO_SPACE and write nothing', async () => {
  const disk = new SimulatedDisk({ fullAfterBytes: 100 });
  await disk.makeDirectory('/d');
  const file = await disk.openForAppend('/d/f');
  await file.append(pattern(60, 0));
  assert.equal(await statusOf(() => file.append(pattern(41, 0))), StatusCode.NO_SPACE);
  assert.equal(await file.size(), 60);
  await file.append(pattern(40, 0));
  disk.setFullAfterBytes(200);
  await file.append(pattern(100, 0));
  assert.equal(disk.bytesUsed(), 200);
  await file.close();
});

test('after a crash the old disk and its open files refuse every call', async () => {
  const disk = new SimulatedDisk();
  await disk.makeDirectory('/d');
  const file = await disk.openForAppend('/d/f');
  const restarted = disk.crash(createRandom(9));
  assert.equal(await statusOf(() => file.append(pattern(1, 0))), StatusCode.UNAVAILABLE);
  assert.equal(await statusOf(() => disk.list('/')), StatusCode.UNAVAILABLE);
  assert.equal(await statusOf(() => disk.remove('/d')), StatusCode.UNAVAILABLE);
  assert.equal(restarted.openFileCount(), 0);
  assert.ok(restarted.isFullySynced());
});
