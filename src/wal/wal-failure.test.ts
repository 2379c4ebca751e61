// What the log does when the disk fails under it: it stops, and a reopen recovers what
// is durable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedDisk } from '../disk/index.js';
import { StatusCode, isAtollError } from '../errors/index.js';
import { createRandom } from '../random/index.js';
import { entriesFrom, hardState } from './testing/wal-suite.js';
import { WriteAheadLog } from './write-ahead-log.js';

test('a full disk fails the sync with NO_SPACE, then every call, and a reopen recovers what was synced', async () => {
  const disk = new SimulatedDisk();
  await disk.makeDirectory('/instance');
  // Without preallocation every frame needs new space (the test below covers it with).
  const { wal } = await WriteAheadLog.open(disk, '/instance', { preallocationBytes: 0 });
  wal.appendEntries(1, entriesFrom(1, 3, 1));
  wal.setHardState(1, hardState(1, 1, 3));
  await wal.sync();
  disk.setFullAfterBytes(disk.bytesUsed() + 100);
  wal.appendEntries(1, entriesFrom(4, 20, 1));
  const failed = await wal.sync().then(
    () => assert.fail('the sync should fail'),
    (error: unknown) => error,
  );
  assert.ok(isAtollError(failed, StatusCode.NO_SPACE), String(failed));
  assert.match((failed as Error).message, /write-ahead log failed to write: append to \/instance\/wal\/0000000000000000\.log: no space left/);
  assert.throws(() => wal.appendEntries(2, entriesFrom(1, 1, 1)), (error: unknown) => error === failed);
  await assert.rejects(wal.sync(), (error: unknown) => error === failed);
  await assert.rejects(wal.close(), (error: unknown) => error === failed);
  assert.equal(disk.openFileCount(), 0);
  disk.setFullAfterBytes(Number.MAX_SAFE_INTEGER);
  const { wal: reopened, recovered } = await WriteAheadLog.open(disk, '/instance');
  assert.deepEqual(recovered.get(1)!.entries.map((item) => item.index), [1, 2, 3]);
  assert.deepEqual(recovered.get(1)!.hardState, hardState(1, 1, 3));
  await reopened.close();
});

test('appends beyond bufferedBytesMax are refused with OVERLOADED until a sync', async () => {
  const disk = new SimulatedDisk();
  await disk.makeDirectory('/instance');
  const limits = { segmentBytesMax: 8192, syncBatchBytesMax: 4096, recordBytesMax: 1024, bufferedBytesMax: 4096 };
  const { wal } = await WriteAheadLog.open(disk, '/instance', limits);
  let index = 1;
  assert.throws(
    () => {
      for (; index < 1000; index++) wal.appendEntries(1, entriesFrom(index, 1, 1, 'x'.repeat(100)));
    },
    (error: unknown) => isAtollError(error, StatusCode.OVERLOADED),
  );
  await wal.sync();
  wal.appendEntries(1, entriesFrom(index, 1, 1));
  await wal.close();
  const { wal: reopened, recovered } = await WriteAheadLog.open(disk, '/instance', limits);
  assert.equal(recovered.get(1)!.entries.length, index);
  await reopened.close();
});

test('a crash under the log fails it; the restarted disk opens with what was synced', async () => {
  let disk = new SimulatedDisk();
  await disk.makeDirectory('/instance');
  await disk.syncDirectory('/');
  const { wal } = await WriteAheadLog.open(disk, '/instance');
  wal.appendEntries(1, entriesFrom(1, 2, 1));
  await wal.sync();
  wal.appendEntries(1, entriesFrom(3, 2, 1));
  const pending = wal.sync();
  disk = disk.crash(createRandom(5));
  await assert.rejects(pending, (error: unknown) => isAtollError(error) && /crashed/.test(error.message));
  const { wal: reopened, recovered } = await WriteAheadLog.open(disk, '/instance');
  assert.deepEqual(recovered.get(1)!.entries.map((item) => item.index).slice(0, 2), [1, 2]);
  await reopened.close();
});

test('with preallocation a full disk still takes frames in the room already written, and fails NO_SPACE beyond it', async () => {
  const disk = new SimulatedDisk();
  await disk.makeDirectory('/instance');
  const limits = { segmentBytesMax: 64 * 1024, syncBatchBytesMax: 16 * 1024, recordBytesMax: 4096, bufferedBytesMax: 64 * 1024, preallocationBytes: 8192 };
  const { wal } = await WriteAheadLog.open(disk, '/instance', limits);
  wal.appendEntries(1, entriesFrom(1, 1, 1));
  await wal.sync();
  assert.ok(wal.stats().bytesPreallocated >= 8192 - 100, `zeros written after the first frame: ${wal.stats().bytesPreallocated}`);
  disk.setFullAfterBytes(disk.bytesUsed());
  let index = 2;
  // Frames of 100-odd bytes: dozens fit in the 8 KiB already written, then one needs more.
  for (let written = 0; written < 1000; written++, index++) {
    wal.appendEntries(1, entriesFrom(index, 1, 1, 'x'.repeat(50)));
    const failed = await wal.sync().then(
      () => null,
      (error: unknown) => error,
    );
    if (failed === null) continue;
    assert.ok(isAtollError(failed, StatusCode.NO_SPACE), String(failed));
    break;
  }
  assert.ok(index > 30 && index < 1000, `frames synced in the preallocated room before the disk said full: ${index - 2}`);
  await assert.rejects(wal.close());
  disk.setFullAfterBytes(Number.MAX_SAFE_INTEGER);
  const { wal: reopened, recovered } = await WriteAheadLog.open(disk, '/instance', limits);
  assert.deepEqual(recovered.get(1)!.entries.map((item) => item.index), Array.from({ length: index - 1 }, (_, position) => position + 1));
  await reopened.close();
});
