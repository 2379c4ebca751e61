import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DataClient, ExtentKey } from '../dataclient/index.js';
import { Inode, InodeType } from '../proto/generated/metanode.js';
import { BufferBudget } from './buffer-budget.js';
import { buildVolumeLimits } from './limits.js';
import { OpenFile, type FileMetadata } from './open-file.js';

const mib = 1024 * 1024;

/**
 * A data client that only reads: each readFile is recorded and answered, when the test
 * lets it, with bytes whose value is their file offset modulo 251.
 */
class RecordingData {
  readonly reads: Array<{ offset: number; length: number }> = [];
  readonly #waiting: Array<() => void> = [];
  hold = false;

  readFile(_keys: readonly ExtentKey[], offset: number, length: number): Promise<Uint8Array> {
    this.reads.push({ offset, length });
    const answer = (): Uint8Array => Uint8Array.from({ length }, (_, index) => (offset + index) % 251);
    if (!this.hold) return Promise.resolve(answer());
    return new Promise((resolve) => this.#waiting.push(() => resolve(answer())));
  }

  release(): void {
    this.hold = false;
    for (const resume of this.#waiting.splice(0)) resume();
  }
}

const metadata: FileMetadata = {
  appendExtents: () => Promise.reject(new Error('not in this test')),
  truncate: () => Promise.reject(new Error('not in this test')),
};

function openFile(size: number, data: RecordingData, budget = new BufferBudget(256 * mib)): OpenFile {
  const inode = Inode.create({ ino: 7, type: InodeType.INODE_FILE, size, extents: [{ partitionId: 1, extentId: 1024, extentOffset: 0, size, fileOffset: 0 }] });
  return new OpenFile(inode, data as unknown as DataClient, metadata, buildVolumeLimits({ readAheadBytes: 4 * mib, readAheadWindows: 3 }), budget);
}

function expected(offset: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => (offset + index) % 251);
}

/** The bytes of a read (a Uint8Array, or a Buffer when it joined two windows) against the expected ones. */
function assertBytes(actual: Uint8Array, want: Uint8Array): void {
  assert.equal(actual.byteLength, want.byteLength);
  assert.ok(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(Buffer.from(want)), 'the bytes read are the file\'s');
}

test('a sequential reader has the window it reads and three more on their way', async () => {
  const data = new RecordingData();
  const file = openFile(40 * mib, data);
  data.hold = true;
  const first = file.read(0, 128 * 1024);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(data.reads, [0, 4, 8, 12].map((start) => ({ offset: start * mib, length: 4 * mib })), 'four windows asked for before the first answer');
  data.release();
  assertBytes(await first, expected(0, 128 * 1024));

  // Reading on through the first window asks for nothing more; entering the second keeps
  // three beyond it.
  for (let offset = 128 * 1024; offset < 4 * mib; offset += 128 * 1024) assertBytes(await file.read(offset, 128 * 1024), expected(offset, 128 * 1024));
  assert.equal(data.reads.length, 4);
  assertBytes(await file.read(4 * mib, 128 * 1024), expected(4 * mib, 128 * 1024));
  assert.deepEqual(data.reads.at(-1), { offset: 16 * mib, length: 4 * mib });
  assert.equal(data.reads.length, 5);

  // A read across two windows gets both halves.
  assertBytes(await file.read(8 * mib - 1000, 2000), expected(8 * mib - 1000, 2000));
});

test('the windows stop at the end of the file and give their budget back', async () => {
  const data = new RecordingData();
  const budget = new BufferBudget(256 * mib);
  const file = openFile(9 * mib, data, budget);
  assertBytes(await file.read(0, 4096), expected(0, 4096));
  assert.deepEqual(data.reads, [
    { offset: 0, length: 4 * mib },
    { offset: 4 * mib, length: 4 * mib },
    { offset: 8 * mib, length: mib },
  ]);
  assertBytes(await file.read(9 * mib - 10, 10), expected(9 * mib - 10, 10));
  file.dispose();
  assert.equal(budget.usedBytes, 0, 'every window given back');
});

test('a random reader reads just what it asks, also when it lands near its last read now and then', async () => {
  const data = new RecordingData();
  const budget = new BufferBudget(256 * mib);
  const file = openFile(64 * mib, data, budget);
  let seed = 17;
  const next = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
  let last = 32 * mib;
  for (let turn = 0; turn < 200; turn++) {
    // Every tenth read lands just past the last one, as random offsets sometimes do.
    const offset = turn % 10 === 9 ? last + 8192 : (1 + (next() % 16_000)) * 4096;
    assertBytes(await file.read(offset, 4096), expected(offset, 4096));
    last = offset;
  }
  assert.equal(data.reads.length, 200);
  assert.ok(data.reads.every((read) => read.length === 4096), 'no window read ahead');
  assert.equal(budget.usedBytes, 0);
});

test('a reader that starts in the middle reads ahead from its second read in order on, and gives its windows back when it jumps away', async () => {
  const data = new RecordingData();
  const budget = new BufferBudget(256 * mib);
  const file = openFile(64 * mib, data, budget);
  const start = 20 * mib;
  for (let offset = start; offset < start + 3 * 128 * 1024; offset += 128 * 1024) assertBytes(await file.read(offset, 128 * 1024), expected(offset, 128 * 1024));
  assert.deepEqual(data.reads.slice(0, 2), [{ offset: start, length: 128 * 1024 }, { offset: start + 128 * 1024, length: 128 * 1024 }], 'the first two go as asked');
  assert.deepEqual(data.reads.slice(2).map((read) => read.offset), [0, 1, 2, 3].map((window) => start + 256 * 1024 + window * 4 * mib), 'the third starts the windows');
  assert.ok(budget.usedBytes > 0);
  assertBytes(await file.read(50 * mib, 4096), expected(50 * mib, 4096));
  assert.equal(budget.usedBytes, 0, 'the jump gave the windows back');
  assert.deepEqual(data.reads.at(-1), { offset: 50 * mib, length: 4096 });
});

test('a reader whose budget is spent reads just what it asks', async () => {
  const data = new RecordingData();
  const file = openFile(40 * mib, data, new BufferBudget(mib));
  assertBytes(await file.read(0, 4096), expected(0, 4096));
  assert.deepEqual(data.reads, [{ offset: 0, length: 4096 }]);
});

test('a writer that gets no budget for its packets publishes its head and writes the rest directly', async () => {
  const written: Array<{ how: string; fileOffset: number; bytes: Uint8Array }> = [];
  let extentId = 1024;
  const keyFor = (bytes: Uint8Array, fileOffset: number): ExtentKey => ({ partitionId: 1, extentId: extentId++, extentOffset: 0, size: bytes.byteLength, fileOffset });
  const data = {
    limits: { packetBytes: 128 * 1024, windowPackets: 32 },
    writeSmall: (bytes: Uint8Array, fileOffset: number) => {
      written.push({ how: 'small', fileOffset, bytes: bytes.slice() });
      return Promise.resolve({ keys: bytes.byteLength === 0 ? [] : [keyFor(bytes, fileOffset)], abandoned: [] });
    },
    write: (bytes: Uint8Array, fileOffset: number) => {
      written.push({ how: 'direct', fileOffset, bytes: bytes.slice() });
      return Promise.resolve({ keys: [keyFor(bytes, fileOffset)], abandoned: [] });
    },
    writer: () => assert.fail('no writer without budget for its packets'),
  };
  let inode = Inode.create({ ino: 9, type: InodeType.INODE_FILE });
  const published: ExtentKey[] = [];
  const files: FileMetadata = {
    appendExtents: (_ino, keys) => {
      published.push(...keys);
      const end = Math.max(inode.size, ...keys.map((key) => key.fileOffset + key.size));
      inode = { ...inode, size: end, extents: [...inode.extents, ...keys] };
      return Promise.resolve(inode);
    },
    truncate: () => Promise.reject(new Error('not in this test')),
  };
  const limits = buildVolumeLimits({ smallFileBytesMax: 128 * 1024 });
  const budget = new BufferBudget(limits.smallFileBytesMax + 1024);
  const file = new OpenFile(inode, data as unknown as DataClient, files, limits, budget);
  const chunk = 64 * 1024;
  for (let offset = 0; offset < 512 * 1024; offset += chunk) await file.write(expected(offset, chunk), offset);
  await file.flush();
  assert.equal(budget.usedBytes, 0, 'the head buffer given back');
  // Every byte written once, in order, and published.
  let end = 0;
  for (const piece of written) {
    assert.equal(piece.fileOffset, end, 'pieces in file order without gaps or repeats');
    assertBytes(piece.bytes, expected(piece.fileOffset, piece.bytes.byteLength));
    end += piece.bytes.byteLength;
  }
  assert.equal(end, 512 * 1024);
  assert.deepEqual(published.map((key) => key.fileOffset), written.map((piece) => piece.fileOffset));
  assert.ok(written.some((piece) => piece.how === 'small') && written.some((piece) => piece.how === 'direct'));
  assert.equal(file.size, 512 * 1024);
});
