import assert from 'node:assert/strict';
import { ExtentKey, Inode } from '../../proto/generated/metanode.js';
import type { KvEngine } from '../store/kv-engine.js';
import { apply, at, createFile, engineTest, makeRoot, mkdir, now } from './engines.test.js';
import { ackExtentReleases, extentsBeyond, freeableInodes, freeInodes, pendingExtentReleases } from './freeing.js';
import { inodeKey, toFreeKey, xattrPrefix } from './keys.js';
import { buildNamespaceLimits } from './limits.js';
import { getInode, rmdir, setattr, setXattr, statfs, unlink } from './namespace.js';

/** Gives a file extents directly (the append operation is the lead's); returns them. */
function giveExtents(engine: KvEngine, ino: number, extents: ExtentKey[]): void {
  const inode = Inode.decode(engine.get(inodeKey(ino))!);
  const size = extents.reduce((end, extent) => Math.max(end, extent.fileOffset + extent.size), 0);
  engine.write(engine.appliedIndex + 1, [{ op: 'set', key: inodeKey(ino), value: Inode.encode({ ...inode, size, extents }) }]);
}

const extent = (fileOffset: number, partitionId: number, extentId: number, extentOffset: number, size: number): ExtentKey =>
  ExtentKey.create({ fileOffset, partitionId, extentId, extentOffset, size });

engineTest('freeing a file deletes its inode, xattrs and F record and queues its extents per data partition', (engine) => {
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'f');
  const directory = mkdir(engine, root, 'd');
  giveExtents(engine, file, [extent(0, 7, 1, 0, 100), extent(100, 8, 2, 4096, 50), extent(150, 7, 3, 0, 10)]);
  apply(engine, setXattr(engine, { ino: file, name: 'user.a', value: Uint8Array.of(1), ...now }));
  apply(engine, unlink(engine, { parentIno: root, name: 'f', ...at(1) }));
  apply(engine, rmdir(engine, { parentIno: root, name: 'd', ...at(1) }));
  assert.deepEqual(freeableInodes(engine, { limit: 10 }), { inos: [file, directory] });
  assert.deepEqual(freeableInodes(engine, { limit: 1 }), { inos: [file], resumeAfter: file });
  assert.deepEqual(freeableInodes(engine, { after: file, limit: 1 }), { inos: [directory], resumeAfter: directory });
  const result = apply(engine, freeInodes(engine, { inos: [file, directory, root] }));
  assert.deepEqual(result, { freed: [file, directory], skipped: [root], extentReleaseSeqs: [1, 2] });
  assert.equal(engine.get(inodeKey(file)), undefined);
  assert.equal(engine.get(toFreeKey(file)), undefined);
  assert.equal(engine.count(xattrPrefix(file)), 0);
  assert.deepEqual(statfs(engine), { inodes: 1, dentries: 0, inodesToFree: 0 });
  assert.deepEqual(pendingExtentReleases(engine, { limit: 10 }), {
    releases: [
      { seq: 1, partitionId: 7, ranges: [{ extentId: 1, extentOffset: 0, size: 100 }, { extentId: 3, extentOffset: 0, size: 10 }] },
      { seq: 2, partitionId: 8, ranges: [{ extentId: 2, extentOffset: 4096, size: 50 }] },
    ],
    more: false,
  });
  // Freeing again is harmless: nothing qualifies any more.
  assert.deepEqual(apply(engine, freeInodes(engine, { inos: [file] })), { freed: [], skipped: [file], extentReleaseSeqs: [] });
});

engineTest('acknowledged extent releases leave the queue; unknown seqs are reported, not refused', (engine) => {
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'f');
  giveExtents(engine, file, [extent(0, 1, 1, 0, 10), extent(10, 2, 2, 0, 10), extent(20, 3, 3, 0, 10)]);
  apply(engine, unlink(engine, { parentIno: root, name: 'f', ...at(1) }));
  apply(engine, freeInodes(engine, { inos: [file] }));
  assert.deepEqual(pendingExtentReleases(engine, { limit: 2 }).releases.map((release) => release.seq), [1, 2]);
  assert.equal(pendingExtentReleases(engine, { limit: 2 }).more, true);
  assert.deepEqual(pendingExtentReleases(engine, { after: 2, limit: 2 }).releases.map((release) => release.seq), [3]);
  assert.deepEqual(apply(engine, ackExtentReleases(engine, { seqs: [2, 9] })), { acked: [2], unknown: [9] });
  assert.deepEqual(pendingExtentReleases(engine, { limit: 10 }).releases.map((release) => release.seq), [1, 3]);
  apply(engine, ackExtentReleases(engine, { seqs: [1, 3] }));
  assert.deepEqual(pendingExtentReleases(engine, { limit: 10 }), { releases: [], more: false });
});

engineTest('a file with many extents spreads them over records of at most extentRangesPerRecordMax ranges', (engine) => {
  const limits = buildNamespaceLimits({ extentRangesPerRecordMax: 2 });
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'f');
  giveExtents(engine, file, [0, 1, 2, 3, 4].map((index) => extent(index * 10, 5, index + 1, 0, 10)));
  apply(engine, unlink(engine, { parentIno: root, name: 'f', ...at(1) }));
  assert.deepEqual(apply(engine, freeInodes(engine, { inos: [file] }, limits)).extentReleaseSeqs, [1, 2, 3]);
  assert.deepEqual(pendingExtentReleases(engine, { limit: 10 }).releases.map((release) => release.ranges.length), [2, 2, 1]);
});

engineTest('truncate queues the dropped extents and the tail of the clipped one for release', (engine) => {
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'f');
  giveExtents(engine, file, [extent(0, 1, 11, 0, 100), extent(100, 1, 12, 500, 100), extent(200, 2, 13, 0, 100)]);
  const inode = apply(engine, setattr(engine, { ino: file, size: 150, ...at(1) }));
  assert.deepEqual(inode.extents.map((kept) => [kept.fileOffset, kept.extentId, kept.extentOffset, kept.size]), [[0, 11, 0, 100], [100, 12, 500, 50]]);
  assert.deepEqual(pendingExtentReleases(engine, { limit: 10 }).releases, [
    { seq: 1, partitionId: 1, ranges: [{ extentId: 12, extentOffset: 550, size: 50 }] },
    { seq: 2, partitionId: 2, ranges: [{ extentId: 13, extentOffset: 0, size: 100 }] },
  ]);
  // Growing again releases nothing; truncating at an extent boundary releases whole extents only.
  apply(engine, setattr(engine, { ino: file, size: 1000, ...at(2) }));
  apply(engine, setattr(engine, { ino: file, size: 100, ...at(3) }));
  assert.deepEqual(pendingExtentReleases(engine, { after: 2, limit: 10 }).releases, [{ seq: 3, partitionId: 1, ranges: [{ extentId: 12, extentOffset: 500, size: 50 }] }]);
  assert.deepEqual(getInode(engine, file).extents.length, 1);
});

engineTest('extentsBeyond keeps what lies before the new size', () => {
  const extents = [extent(0, 1, 1, 0, 10), extent(10, 1, 2, 0, 10)];
  assert.deepEqual(extentsBeyond(extents, 20), []);
  assert.deepEqual(extentsBeyond(extents, 15), [{ partitionId: 1, extentId: 2, extentOffset: 5, size: 5 }]);
  assert.deepEqual(extentsBeyond(extents, 0).map((released) => released.extentId), [1, 2]);
});
