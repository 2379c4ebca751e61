import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeDisk, SimulatedDisk } from '../disk/index.js';
import type { Disk } from '../disk/index.js';
import { StatusCode, isAtollError } from '../errors/index.js';
import type { LogIndex, NodeId, Term } from '../raft/index.js';
import { createRandom } from '../random/index.js';
import { encodeSnapshotFile } from './snapshot-file.js';
import type { StoredSnapshotMetadata } from './snapshot-file.js';
import { SnapshotStore } from './snapshot-store.js';

function metadata(index: number, term: number): StoredSnapshotMetadata {
  return {
    index: index as LogIndex,
    term: term as Term,
    confState: { voters: [1, 2, 3] as NodeId[], learners: [4] as NodeId[] },
  };
}

function data(length: number, salt: number): Uint8Array {
  return Uint8Array.from({ length }, (_, position) => (position * 7 + salt) & 0xff);
}

async function writeRaw(disk: Disk, path: string, bytes: Uint8Array): Promise<void> {
  const file = await disk.openForAppend(path);
  await file.append(bytes);
  await file.sync();
  await file.close();
}

function rawSnapshot(groupId: number, meta: StoredSnapshotMetadata, content: Uint8Array): Uint8Array {
  const { head, trailer } = encodeSnapshotFile(groupId, meta, content);
  return Buffer.concat([head, content, trailer]);
}

function describeSnapshotStore(implementation: string, create: () => Promise<{ disk: Disk; dir: string; cleanup(): Promise<void> }>): void {
  const withStore = (name: string, body: (disk: Disk, dir: string) => Promise<void>): void => {
    test(`${implementation}: ${name}`, async () => {
      const { disk, dir, cleanup } = await create();
      try {
        await body(disk, dir);
      } finally {
        await cleanup();
      }
    });
  };

  withStore('a saved snapshot loads back with its metadata, peers and data', async (disk, dir) => {
    const store = new SnapshotStore(disk, dir);
    assert.equal(await store.load(7), null);
    const path = await store.save(7, metadata(120, 3), data(5000, 1));
    assert.equal(path, `${dir}/snapshots/7/0000000000000120-0000000000000003.snap`);
    const loaded = await store.load(7);
    assert.ok(loaded !== null);
    assert.deepEqual(loaded.metadata, metadata(120, 3));
    assert.deepEqual(Buffer.from(loaded.data), Buffer.from(data(5000, 1)));
    assert.deepEqual(loaded.skipped, []);
    assert.equal(loaded.path, path);
    await store.save(8, { index: 1 as LogIndex, term: 1 as Term, confState: { voters: [], learners: [] } }, new Uint8Array(0));
    assert.deepEqual((await store.load(8))!.metadata.confState, { voters: [], learners: [] });
  });

  withStore('a newer snapshot replaces the older ones and stray temporary files', async (disk, dir) => {
    const store = new SnapshotStore(disk, dir);
    await store.save(1, metadata(10, 1), data(100, 1));
    await writeRaw(disk, `${dir}/snapshots/1/0000000000000015-0000000000000001.snap.tmp`, data(10, 2));
    await store.save(1, metadata(20, 2), data(100, 2));
    assert.deepEqual(await disk.list(`${dir}/snapshots/1`), ['0000000000000020-0000000000000002.snap']);
    assert.equal((await store.load(1))!.metadata.index, 20);
    await assert.rejects(store.save(1, metadata(15, 2), data(1, 1)), /older than the stored/);
  });

  withStore('a damaged newest snapshot is passed over, and reported, when an older intact one exists', async (disk, dir) => {
    const store = new SnapshotStore(disk, dir);
    await store.save(1, metadata(10, 1), data(300, 1));
    const newer = rawSnapshot(1, metadata(20, 2), data(300, 2));
    newer[100] = newer[100]! ^ 0xff;
    const newerPath = `${dir}/snapshots/1/0000000000000020-0000000000000002.snap`;
    await writeRaw(disk, newerPath, newer);
    const loaded = await store.load(1);
    assert.equal(loaded!.metadata.index, 10);
    assert.equal(loaded!.skipped.length, 1);
    assert.equal(loaded!.skipped[0]!.path, newerPath);
    assert.match(loaded!.skipped[0]!.reason, /checksum mismatch/);
  });

  withStore('with no intact snapshot, load is refused with INTERNAL naming the file and the damage', async (disk, dir) => {
    const store = new SnapshotStore(disk, dir);
    const path = await store.save(1, metadata(10, 1), data(300, 1));
    await store.remove(1);
    await disk.makeDirectory(`${dir}/snapshots/1`);
    const damaged = rawSnapshot(1, metadata(10, 1), data(300, 1));
    damaged[damaged.byteLength - 10] = 0;
    await writeRaw(disk, path, damaged);
    await assert.rejects(store.load(1), (error: unknown) => {
      assert.ok(isAtollError(error, StatusCode.INTERNAL));
      assert.ok(error.message.includes(path), error.message);
      assert.match(error.message, /checksum mismatch/);
      return true;
    });
  });

  withStore('a snapshot file of another group or with a name that disagrees with it is refused', async (disk, dir) => {
    const store = new SnapshotStore(disk, dir);
    await disk.makeDirectory(`${dir}/snapshots/2`);
    await writeRaw(disk, `${dir}/snapshots/2/0000000000000010-0000000000000001.snap`, rawSnapshot(3, metadata(10, 1), data(10, 1)));
    await assert.rejects(store.load(2), /belongs to group 3/);
    await disk.makeDirectory(`${dir}/snapshots/4`);
    await writeRaw(disk, `${dir}/snapshots/4/0000000000000011-0000000000000001.snap`, rawSnapshot(4, metadata(10, 1), data(10, 1)));
    await assert.rejects(store.load(4), /its name says \(11, 1\)/);
  });

  withStore('remove deletes every snapshot of a group', async (disk, dir) => {
    const store = new SnapshotStore(disk, dir);
    await store.save(5, metadata(10, 1), data(10, 1));
    await store.remove(5);
    assert.equal(await store.load(5), null);
    assert.deepEqual(await disk.list(`${dir}/snapshots`), []);
    await store.remove(5);
  });

  withStore('data beyond snapshotBytesMax is refused with TOO_LARGE', async (disk, dir) => {
    const store = new SnapshotStore(disk, dir, { snapshotBytesMax: 1000, snapshotMetadataBytesMax: 100 });
    await assert.rejects(store.save(1, metadata(10, 1), data(1001, 1)), (error: unknown) => isAtollError(error, StatusCode.TOO_LARGE));
    assert.equal(await store.load(1), null);
  });
}

describeSnapshotStore('SimulatedDisk', async () => {
  const disk = new SimulatedDisk();
  await disk.makeDirectory('/instance');
  return { disk, dir: '/instance', cleanup: async () => assert.equal(disk.openFileCount(), 0) };
});

describeSnapshotStore('NodeDisk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atoll-snapshots-'));
  return { disk: new NodeDisk(), dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
});

test('a crash at any point of a save leaves the old or the new snapshot, whole', async () => {
  const seed = Number(process.env.ATOLL_WAL_SEED ?? 4242);
  console.log(`snapshot crash seed ${seed} (ATOLL_WAL_SEED replays)`);
  const random = createRandom(seed);
  const outcomes = new Set<number>();
  for (let round = 0; round < 200; round++) {
    let disk = new SimulatedDisk();
    await disk.makeDirectory('/instance');
    await disk.syncDirectory('/');
    const store = new SnapshotStore(disk, '/instance');
    await store.save(1, metadata(10, 1), data(3000, 1));
    const saving = store.save(1, metadata(20, 2), data(3000, 2)).then(
      () => true,
      () => false,
    );
    for (let turn = random.nextInt(60); turn > 0; turn--) await Promise.resolve();
    disk = disk.crash(random, { reorderWriteback: random.nextInt(2) === 0 });
    const finished = await saving;
    const loaded = await new SnapshotStore(disk, '/instance').load(1);
    assert.ok(loaded !== null, `seed ${seed} round ${round}: no snapshot`);
    assert.deepEqual(loaded.skipped, [], `seed ${seed} round ${round}: a damaged file became visible`);
    const expected = loaded.metadata.index === 20 ? data(3000, 2) : data(3000, 1);
    assert.deepEqual(Buffer.from(loaded.data), Buffer.from(expected), `seed ${seed} round ${round}`);
    if (finished) assert.equal(loaded.metadata.index, 20, `seed ${seed} round ${round}: a save that resolved was lost`);
    outcomes.add(loaded.metadata.index);
  }
  assert.deepEqual([...outcomes].sort((left, right) => left - right), [10, 20]);
});
