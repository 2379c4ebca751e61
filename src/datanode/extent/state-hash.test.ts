// The extent digest replicas compare: a function of extent ids, sizes and block CRCs only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeDisk } from '../../disk/index.js';
import { ExtentStore } from './extent-store.js';
import { hashExtentState } from './state-hash.js';

const digestOf = (store: ExtentStore) => hashExtentState(store.list().map((info) => ({ ...info, blockCrcs: store.blockCrcs(info.extentId) })));

test('two stores that took the same bytes in different packets have the same digest; a changed byte, size or extent changes it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'atoll-extent-hash-'));
  const stores: ExtentStore[] = [];
  try {
    const open = async (name: string) => {
      const store = await ExtentStore.open(new NodeDisk(), join(root, name));
      stores.push(store);
      return store;
    };
    const [left, right] = [await open('left'), await open('right')];
    const content = Buffer.alloc(300 * 1024);
    for (let index = 0; index < content.byteLength; index++) content[index] = (index * 31 + (index >>> 9)) & 0xff;
    const leftExtent = await left.createExtent();
    const rightExtent = await right.createExtent();
    assert.equal(leftExtent, rightExtent);
    // The same bytes in packets of other sizes (a packet is at most 128 KiB).
    for (let at = 0; at < content.byteLength; at += 100_000) await left.append(leftExtent, at, content.subarray(at, Math.min(at + 100_000, content.byteLength)));
    for (const [from, to] of [[0, 1000], [1000, 120_000], [120_000, 240_000], [240_000, content.byteLength]] as const) await right.append(rightExtent, from, content.subarray(from, to));
    const same = digestOf(left);
    assert.equal(digestOf(right).hash, same.hash);
    assert.ok(same.bytes >= content.byteLength);
    assert.match(same.hash, /^[0-9a-f]{64}$/);

    await right.overwrite(rightExtent, 150_000, Buffer.from([content[150_000]! ^ 1]));
    const changedByte = digestOf(right).hash;
    assert.notEqual(changedByte, same.hash, 'one byte changed');
    await right.overwrite(rightExtent, 150_000, content.subarray(150_000, 150_001));
    assert.equal(digestOf(right).hash, same.hash, 'the byte restored');

    await right.append(rightExtent, content.byteLength, Buffer.from([0]));
    assert.notEqual(digestOf(right).hash, same.hash, 'one byte longer');
    await left.append(leftExtent, content.byteLength, Buffer.from([0]));
    assert.equal(digestOf(right).hash, digestOf(left).hash);

    await left.createExtent();
    assert.notEqual(digestOf(left).hash, digestOf(right).hash, 'an extra empty extent');
  } finally {
    for (const store of stores) await store.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('the digest reads ids, sizes and CRCs only, and refuses extents out of order', () => {
  const one = hashExtentState([{ extentId: 1, size: 10, blockCrcs: [7] }, { extentId: 1025, size: 0, blockCrcs: [] }]);
  assert.equal(one.extents, 2);
  assert.equal(one.bytes, 10);
  assert.notEqual(hashExtentState([{ extentId: 1, size: 10, blockCrcs: [8] }, { extentId: 1025, size: 0, blockCrcs: [] }]).hash, one.hash);
  assert.notEqual(hashExtentState([{ extentId: 2, size: 10, blockCrcs: [7] }, { extentId: 1025, size: 0, blockCrcs: [] }]).hash, one.hash);
  assert.notEqual(hashExtentState([]).hash, one.hash);
  assert.throws(() => hashExtentState([{ extentId: 5, size: 0, blockCrcs: [] }, { extentId: 3, size: 0, blockCrcs: [] }]), /must increase/);
});
