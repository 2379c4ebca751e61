import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedDisk } from '../../disk/index.js';
import { StatusCode, isAtollError } from '../../errors/index.js';
import type { KvEntry } from './kv-engine.js';
import { decodeKvSnapshot, encodeKvSnapshot } from './snapshot-bytes.js';
import { writeSnapshotFile } from './snapshot-stream.js';

function entriesOf(count: number): KvEntry[] {
  return Array.from({ length: count }, (_, index) => {
    const key = Buffer.alloc(5);
    key[0] = 0x49;
    key.writeUInt32BE(index, 1);
    return { key, value: Buffer.alloc(index % 37, index & 0xff) };
  });
}

test('the in-memory encoding is byte for byte the snapshot file format', async () => {
  const entries = entriesOf(500);
  const disk = new SimulatedDisk();
  await disk.makeDirectory('/s');
  await writeSnapshotFile(disk, '/s', 'snap', 4242, entries);
  const file = await disk.openForRead('/s/snap');
  const fromFile = Buffer.from(await file.read(0, await file.size()));
  await file.close();
  assert.ok(encodeKvSnapshot(4242, entries).equals(fromFile));
});

test('decode gives back the index and every entry; an empty state round-trips too', () => {
  const entries = entriesOf(300);
  const decoded = decodeKvSnapshot(encodeKvSnapshot(17, entries), 'test');
  assert.equal(decoded.appliedIndex, 17);
  assert.equal(decoded.entries.length, 300);
  for (let index = 0; index < entries.length; index++) {
    assert.ok(Buffer.from(decoded.entries[index]!.key).equals(entries[index]!.key));
    assert.ok(Buffer.from(decoded.entries[index]!.value).equals(entries[index]!.value));
  }
  assert.deepEqual(decodeKvSnapshot(encodeKvSnapshot(0, []), 'empty'), { appliedIndex: 0, entries: [] });
});

test('every flipped byte and every truncation is refused with CHECKSUM_MISMATCH', () => {
  const bytes = encodeKvSnapshot(9, entriesOf(20));
  for (let position = 0; position < bytes.byteLength; position++) {
    const damaged = Buffer.from(bytes);
    damaged[position] = damaged[position]! ^ 0x5a;
    assert.throws(() => decodeKvSnapshot(damaged, 'damaged'), (error) => isAtollError(error, StatusCode.CHECKSUM_MISMATCH), `byte ${position}`);
  }
  for (const length of [0, 10, bytes.byteLength - 1]) {
    assert.throws(() => decodeKvSnapshot(bytes.subarray(0, length), 'cut'), (error) => isAtollError(error, StatusCode.CHECKSUM_MISMATCH));
  }
});

test('entries out of key order are refused when encoding', () => {
  const entries = entriesOf(3).reverse();
  assert.throws(() => encodeKvSnapshot(1, entries), (error) => isAtollError(error, StatusCode.INTERNAL));
});
