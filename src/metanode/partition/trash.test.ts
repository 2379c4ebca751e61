import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StatusCode } from '../../errors/index.js';
import { InodeType } from '../../proto/generated/metanode.js';
import { apply, at, createFile, engineTest, failsWith, makeRoot, mkdir, now, owner, range } from './engines.test.js';
import { toFreeKey, trashKey } from './keys.js';
import { buildNamespaceLimits } from './limits.js';
import { createDentryOnly } from './links.js';
import { createInode, getInode, link, lookup, readdir, rename, rmdir, unlink } from './namespace.js';
import { expireTrash, formatTrashHour, formatTrashName, listTrash, parseTrashName, restoreFromTrash, trashHourOf, trashKeyOfName } from './trash.js';
import { pendingLinkDrops } from './link-drops.js';

const day = 24 * 3600;
const trashOn = { trashRetentionSec: day };
const hourOfNow = trashHourOf(now.nowSec);

test('trash names are <YYYY-MM-DD-HH>/<parentIno>-<ino>-<name> in UTC and parse back', () => {
  assert.equal(formatTrashHour(0), '1970-01-01-00');
  assert.equal(formatTrashHour(trashHourOf(1_700_000_000)), '2023-11-14-22');
  assert.equal(formatTrashHour(trashHourOf(1_709_208_000)), '2024-02-29-12');
  assert.equal(formatTrashHour(trashHourOf(4_102_444_800)), '2100-01-01-00');
  assert.equal(formatTrashName({ hour: 472_222, parentIno: 1, ino: 42, name: 'a-b c' }), '2023-11-14-22/1-42-a-b c');
  assert.deepEqual(parseTrashName('2023-11-14-22/1-42-a-b c'), { hour: 472_222, parentIno: 1, ino: 42, name: 'a-b c' });
  for (const bad of ['2023-02-29-00/1-2-x', '2023-11-14-24/1-2-x', '2023-11-14-22/01-2-x', '2023-11-14-22/1-2-', '2023-11-14/1-2-x', '2023-11-14-22/1-x']) {
    assert.throws(() => parseTrashName(bad), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'), bad);
  }
  const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((text) => !text.includes('/'));
  fc.assert(fc.property(fc.integer({ min: 0, max: 70_000_000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 1, max: 2 ** 40 }), name,
    (hour, parentIno, ino, text) => {
      const entry = { hour, parentIno, ino, name: text };
      assert.deepEqual(parseTrashName(formatTrashName(entry)), entry);
    }));
  assert.deepEqual(trashKeyOfName('2023-11-14-22/1-42-a'), trashKey(472_222, 1, 42, 'a'));
});

engineTest('with trash retention, unlink moves the entry to the trash and the inode keeps its link; restore puts it back', (engine) => {
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'report.txt');
  const removed = apply(engine, unlink(engine, { parentIno: root, name: 'report.txt', ...at(1), ...trashOn }));
  assert.deepEqual(removed.trashKey, trashKey(hourOfNow, root, file, 'report.txt'));
  assert.equal(removed.inode?.nlink, 1);
  assert.equal(engine.get(toFreeKey(file)), undefined, 'a trashed file is not queued for freeing');
  assert.throws(() => lookup(engine, root, 'report.txt'), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  const { entries, more } = listTrash(engine, { limit: 10 });
  assert.equal(more, false);
  assert.deepEqual(entries, [{
    key: removed.trashKey, hour: hourOfNow, parentIno: root, ino: file, name: 'report.txt', type: InodeType.INODE_FILE,
    deletedSec: now.nowSec + 1, deletedNsec: now.nowNsec, trashName: `2023-11-14-22/${root}-${file}-report.txt`,
  }]);
  const restored = apply(engine, restoreFromTrash(engine, { key: entries[0].key, ...at(2) }));
  assert.deepEqual([restored.dentry.parentIno, restored.dentry.name, restored.dentry.ino], [root, 'report.txt', file]);
  assert.equal(lookup(engine, root, 'report.txt').ino, file);
  assert.equal(getInode(engine, file).nlink, 1);
  assert.deepEqual(listTrash(engine, { limit: 10 }).entries, []);
  assert.throws(() => restoreFromTrash(engine, { key: entries[0].key, ...at(3) }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
});

engineTest('restore refuses a taken name, a missing directory and .trash in the root; it restores to a given place', (engine) => {
  const root = makeRoot(engine);
  const other = mkdir(engine, root, 'other');
  const file = createFile(engine, root, 'f');
  const { trashKey: key } = apply(engine, unlink(engine, { parentIno: root, name: 'f', ...at(1), ...trashOn }));
  createFile(engine, root, 'f');
  assert.throws(() => restoreFromTrash(engine, { key: key!, ...at(2) }), failsWith(StatusCode.EXISTS, 'EEXIST'));
  assert.throws(() => restoreFromTrash(engine, { key: key!, targetParentIno: 999, ...at(2) }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.throws(() => restoreFromTrash(engine, { key: key!, targetName: '.trash', ...at(2) }), failsWith(StatusCode.PERMISSION_DENIED, 'EACCES'));
  apply(engine, restoreFromTrash(engine, { key: key!, targetParentIno: other, targetName: 'f-restored', ...at(2) }));
  assert.equal(lookup(engine, other, 'f-restored').ino, file);
});

engineTest('rmdir with trash detaches the directory: it takes no entries until restored, and counts in its new parent', (engine) => {
  const root = makeRoot(engine);
  const directory = mkdir(engine, root, 'd');
  const target = mkdir(engine, root, 'target');
  assert.equal(getInode(engine, root).nlink, 4);
  const removed = apply(engine, rmdir(engine, { parentIno: root, name: 'd', ...at(1), ...trashOn }));
  assert.equal(getInode(engine, root).nlink, 3);
  assert.equal(removed.inode?.nlink, 2);
  assert.equal(getInode(engine, directory).parentIno, 0);
  assert.throws(() => createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: directory, name: 'x' }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.throws(() => createDentryOnly(engine, { parentIno: directory, name: 'x', ino: 123_456, type: InodeType.INODE_FILE, ...now }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  apply(engine, restoreFromTrash(engine, { key: removed.trashKey!, targetParentIno: target, ...at(2) }));
  assert.equal(getInode(engine, target).nlink, 3);
  assert.equal(getInode(engine, directory).parentIno, target);
  createFile(engine, directory, 'now-it-works');
});

engineTest('rmdir without trash also leaves a directory that takes no new entries', (engine) => {
  const root = makeRoot(engine);
  const directory = mkdir(engine, root, 'd');
  apply(engine, rmdir(engine, { parentIno: root, name: 'd', ...at(1) }));
  assert.throws(() => createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: directory, name: 'x' }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
});

engineTest('expireTrash drops the links of entries older than the retention, oldest first, in bounded pages', (engine) => {
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'file');
  const linked = createFile(engine, root, 'linked');
  apply(engine, link(engine, { ino: linked, parentIno: root, name: 'linked-2', ...now }));
  const directory = mkdir(engine, root, 'dir');
  const young = createFile(engine, root, 'young');
  apply(engine, createDentryOnly(engine, { parentIno: root, name: 'far', ino: 900_000, type: InodeType.INODE_FILE, ...now }));
  apply(engine, unlink(engine, { parentIno: root, name: 'file', ...at(10), ...trashOn }));
  apply(engine, unlink(engine, { parentIno: root, name: 'linked', ...at(10), ...trashOn }));
  apply(engine, rmdir(engine, { parentIno: root, name: 'dir', ...at(10), ...trashOn }));
  const far = apply(engine, unlink(engine, { parentIno: root, name: 'far', ...at(10), ...trashOn }));
  assert.ok(far.trashKey !== undefined && far.inode === undefined, 'a remote inode keeps its link: nothing to drop now');
  apply(engine, unlink(engine, { parentIno: root, name: 'young', ...at(7200), ...trashOn }));
  assert.equal(listTrash(engine, { limit: 10 }).entries.length, 5);

  const none = apply(engine, expireTrash(engine, { retentionSec: day, limit: 10, ...at(day) }));
  assert.deepEqual([none.expired.length, none.more], [0, false]);
  const firstPage = apply(engine, expireTrash(engine, { retentionSec: day, limit: 2, ...at(day + 10) }));
  assert.deepEqual([firstPage.expired.length, firstPage.more], [2, true]);
  const rest = apply(engine, expireTrash(engine, { retentionSec: day, limit: 10, ...at(day + 10) }));
  assert.deepEqual([rest.expired.length, rest.more], [2, false]);
  assert.deepEqual(pendingLinkDrops(engine, { limit: 10 }).map((drop) => drop.ino), [900_000], 'the remote inode\'s link is owed to its partition');
  assert.equal(getInode(engine, file).nlink, 0);
  assert.equal(getInode(engine, linked).nlink, 1);
  assert.equal(getInode(engine, directory).nlink, 0);
  for (const ino of [file, directory]) assert.ok(engine.get(toFreeKey(ino)) !== undefined);
  assert.equal(engine.get(toFreeKey(linked)), undefined);
  assert.deepEqual(listTrash(engine, { limit: 10 }).entries.map((entry) => entry.ino), [young]);
  assert.equal(getInode(engine, young).nlink, 1);
});

engineTest('removing the same entry twice in one hour keeps one trash record and drops the second link', (engine) => {
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'f');
  apply(engine, link(engine, { ino: file, parentIno: root, name: 'g', ...now }));
  apply(engine, unlink(engine, { parentIno: root, name: 'f', ...at(1), ...trashOn }));
  apply(engine, rename(engine, { sourceParentIno: root, sourceName: 'g', targetParentIno: root, targetName: 'f', ...at(2) }));
  const second = apply(engine, unlink(engine, { parentIno: root, name: 'f', ...at(3), ...trashOn }));
  assert.equal(second.trashKey, undefined);
  assert.equal(getInode(engine, file).nlink, 1, 'the trash record holds the one link left');
  assert.equal(listTrash(engine, { limit: 10 }).entries.length, 1);
});

engineTest('.trash cannot be created in the root by create, mkdir, rename or link, but may be elsewhere', (engine) => {
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'f');
  const sub = mkdir(engine, root, 'sub');
  for (const type of [InodeType.INODE_FILE, InodeType.INODE_DIRECTORY]) {
    assert.throws(() => createInode(engine, range, { type, ...owner, ...now, parentIno: root, name: '.trash' }), failsWith(StatusCode.PERMISSION_DENIED, 'EACCES'));
  }
  assert.throws(() => rename(engine, { sourceParentIno: root, sourceName: 'f', targetParentIno: root, targetName: '.trash', ...now }), failsWith(StatusCode.PERMISSION_DENIED, 'EACCES'));
  assert.throws(() => link(engine, { ino: file, parentIno: root, name: '.trash', ...now }), failsWith(StatusCode.PERMISSION_DENIED, 'EACCES'));
  createFile(engine, sub, '.trash');
  assert.deepEqual(readdir(engine, { parentIno: root, limit: 10 }).entries.map((entry) => entry.name), ['f', 'sub']);
  // The root is whatever the partition says it is.
  const limits = buildNamespaceLimits({ rootIno: sub });
  assert.throws(() => createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: sub, name: '.trash' }, limits), failsWith(StatusCode.PERMISSION_DENIED, 'EACCES'));
  apply(engine, createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: root, name: '.trash' }, limits));
});
