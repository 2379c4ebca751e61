import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeDisk, SimulatedDisk } from '../../disk/index.js';
import type { Disk } from '../../disk/index.js';
import { StatusCode, isAtollError } from '../../errors/index.js';
import { createRandom } from '../../random/index.js';
import type { KvEntry } from './kv-engine.js';
import { kvSnapshotHeaderBytes, kvSnapshotTrailerBytes, readSnapshotFile, temporarySnapshotSuffix, writeSnapshotFile } from './snapshot-stream.js';

function entriesOf(count: number, valueBytes: (index: number) => number): KvEntry[] {
  return Array.from({ length: count }, (_, index) => {
    const key = Buffer.alloc(5);
    key.writeUInt32BE(index, 1);
    key[0] = 0x69;
    return { key, value: Buffer.alloc(valueBytes(index), index & 0xff) };
  });
}

function assertSameEntries(actual: readonly KvEntry[], expected: readonly KvEntry[]): void {
  assert.equal(actual.length, expected.length);
  for (let index = 0; index < expected.length; index++) {
    assert.ok(Buffer.from(actual[index]!.key).equals(expected[index]!.key), `key ${index}`);
    assert.ok(Buffer.from(actual[index]!.value).equals(expected[index]!.value), `value ${index}`);
  }
}

// Randomized tests use fixed seeds; ATOLL_KVSNAP_SEED=<n> replays one.
const seed = Number(process.env.ATOLL_KVSNAP_SEED ?? 20_260_501);

/** Fails every Disk and DiskFile call after the first `allowed` ones, as a process killed mid-write. */
function stopAfterCalls<T extends object>(target: T, counter: { calls: number; readonly allowed: number }): T {
  return new Proxy(target, {
    get(object, property) {
      const member = Reflect.get(object, property, object) as unknown;
      if (typeof member !== 'function') return member;
      return async (...args: unknown[]) => {
        if (counter.calls++ >= counter.allowed) throw new Error('power lost');
        const result = await (member as (...given: unknown[]) => unknown).apply(object, args);
        return typeof result === 'object' && result !== null && 'append' in result ? stopAfterCalls(result, counter) : result;
      };
    },
  });
}

const isRefused = (error: unknown): boolean => isAtollError(error, StatusCode.CHECKSUM_MISMATCH);

async function withDirectory(body: (disk: NodeDisk, directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'atoll-kvsnap-'));
  try {
    await body(new NodeDisk(), directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

test('empty, one-entry and 100k-entry snapshots read back as written', async () => {
  await withDirectory(async (disk, directory) => {
    const cases: Array<[string, KvEntry[]]> = [
      ['empty', []],
      ['one', [{ key: Buffer.from([0xff]), value: Buffer.alloc(0) }]],
      ['many', entriesOf(100_000, (index) => index % 50)],
    ];
    for (const [name, entries] of cases) {
      const written = await writeSnapshotFile(disk, directory, `${name}.snap`, 123_456_789_012, entries);
      assert.equal(written.recordCount, entries.length);
      const content = await readSnapshotFile(disk, written.path);
      assert.equal(content.appliedIndex, 123_456_789_012);
      assertSameEntries(content.entries, entries);
      assert.equal((await readFile(written.path)).byteLength, written.bytes);
    }
    const files = await readdir(directory);
    assert.ok(!files.some((file) => file.endsWith(temporarySnapshotSuffix)), 'no temporary file is left');
  });
});

test('values up to 1 MiB (a whole read chunk) crossing the write buffer round trip', async () => {
  await withDirectory(async (disk, directory) => {
    const entries = entriesOf(12, (index) => (index % 3 === 0 ? 1024 * 1024 : index * 1000 + 1));
    const written = await writeSnapshotFile(disk, directory, 'big.snap', 9, entries);
    assertSameEntries((await readSnapshotFile(disk, written.path)).entries, entries);
  });
});

test('a flipped byte anywhere in the file is refused', async () => {
  const disk = new SimulatedDisk();
  await disk.makeDirectory('/p');
  const entries = entriesOf(40, (index) => index);
  const written = await writeSnapshotFile(disk, '/p', 'a.snap', 5, entries);
  const random = createRandom(seed);
  // Every byte of header and trailer, and a sample of the records.
  const positions = new Set<number>();
  for (let position = 0; position < kvSnapshotHeaderBytes; position++) positions.add(position);
  for (let position = written.bytes - kvSnapshotTrailerBytes; position < written.bytes; position++) positions.add(position);
  for (let sample = 0; sample < 200; sample++) positions.add(random.nextInt(written.bytes));
  for (const position of positions) {
    disk.corrupt('/p/a.snap', position);
    await assert.rejects(readSnapshotFile(disk, '/p/a.snap'), isRefused, `byte ${position} flipped (seed ${seed})`);
    disk.corrupt('/p/a.snap', position);
  }
  assertSameEntries((await readSnapshotFile(disk, '/p/a.snap')).entries, entries);
});

test('a truncated file is refused at every length', async () => {
  await withDirectory(async (disk, directory) => {
    const written = await writeSnapshotFile(disk, directory, 'a.snap', 5, entriesOf(30, (index) => index * 2));
    const whole = await readFile(written.path);
    const cut = join(directory, 'cut.snap');
    for (let length = 0; length < whole.byteLength; length++) {
      await writeFile(cut, whole.subarray(0, length));
      await assert.rejects(readSnapshotFile(disk, cut), isRefused, `cut to ${length} bytes`);
    }
  });
});

test('a crash while a new snapshot is written leaves the previous complete file under the name', async () => {
  const random = createRandom(seed);
  const older = entriesOf(500, (index) => index % 7);
  const newer = entriesOf(800, (index) => index % 11);
  for (let round = 0; round < 100; round++) {
    let disk = new SimulatedDisk();
    await disk.makeDirectory('/p');
    await writeSnapshotFile(disk, '/p', 'a.snap', 1, older);
    // Stop the new write after a random number of disk and file calls, then lose power.
    const stopping = stopAfterCalls<Disk>(disk, { calls: 0, allowed: random.nextInt(16) });
    const finished = await writeSnapshotFile(stopping, '/p', 'a.snap', 2, newer).then(
      () => true,
      () => false,
    );
    disk = disk.crash(random, { reorderWriteback: random.nextInt(2) === 1 });
    const content = await readSnapshotFile(disk, '/p/a.snap');
    // Either the old file or (once the rename was durable) the new one; always whole.
    if (content.appliedIndex === 1) assertSameEntries(content.entries, older);
    else {
      assert.equal(content.appliedIndex, 2, `seed ${seed} round ${round}`);
      assertSameEntries(content.entries, newer);
    }
    if (finished) assert.equal(content.appliedIndex, 2, `a finished write is durable (seed ${seed} round ${round})`);
  }
});
