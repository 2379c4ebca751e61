import assert from 'node:assert/strict';
import { StatusCode } from '../../errors/index.js';
import { InodeType } from '../../proto/generated/metanode.js';
import { apply, at, createFile, engineTest, failsWith, makeRoot, mkdir } from './engines.test.js';
import { linkDropKey, toFreeKey } from './keys.js';
import { dropRemoteLinks, forgetLinkDrops, pendingLinkDrops } from './link-drops.js';
import { addLinkByIno, createDentryOnly } from './links.js';
import { getInode, rename, unlink } from './namespace.js';
import { expireTrash } from './trash.js';

const remote = 500_000_001; // inodes of another partition
const source = 7; // the partition that owes the links

engineTest('removing an entry whose inode lives elsewhere queues the link it owes: unlink, a rename over it, trash expiry', (engine) => {
  const root = makeRoot(engine);
  for (const name of ['a', 'b', 'c', 'd']) apply(engine, createDentryOnly(engine, { parentIno: root, name, ino: remote + name.charCodeAt(0), type: InodeType.INODE_FILE, ...at(1) }));
  const removed = apply(engine, unlink(engine, { parentIno: root, name: 'a', ...at(2) }));
  assert.equal(removed.inode, undefined);
  assert.equal(removed.linkDropSeq, 1);
  createFile(engine, root, 'local');
  const renamed = apply(engine, rename(engine, { sourceParentIno: root, sourceName: 'local', targetParentIno: root, targetName: 'b', ...at(3) }));
  assert.equal(renamed.replaced?.ino, remote + 98);
  assert.equal(renamed.linkDropSeq, 2);
  // With the trash on the entry keeps its link until it expires; then the link is owed.
  const trashed = apply(engine, unlink(engine, { parentIno: root, name: 'c', trashRetentionSec: 60, ...at(4) }));
  assert.equal(trashed.linkDropSeq, undefined);
  apply(engine, expireTrash(engine, { retentionSec: 60, limit: 100, ...at(4 + 2 * 3600) }));
  // A local file's unlink owes nothing.
  createFile(engine, root, 'own');
  assert.equal(apply(engine, unlink(engine, { parentIno: root, name: 'own', ...at(5) })).linkDropSeq, undefined);
  assert.deepEqual(pendingLinkDrops(engine, { limit: 10 }), [
    { seq: 1, ino: remote + 97 },
    { seq: 2, ino: remote + 98 },
    { seq: 3, ino: remote + 99 },
  ]);
  assert.deepEqual(pendingLinkDrops(engine, { limit: 2 }).map((drop) => drop.seq), [1, 2], 'oldest first, a page at a time');
  assert.equal(apply(engine, forgetLinkDrops(engine, { seqs: [1, 3] })).forgotten, 2);
  assert.equal(apply(engine, forgetLinkDrops(engine, { seqs: [1] })).forgotten, 0, 'forgetting again is harmless');
  assert.deepEqual(pendingLinkDrops(engine, { limit: 10 }), [{ seq: 2, ino: remote + 98 }]);
  assert.equal(engine.get(linkDropKey(1)), undefined);
});

engineTest('the inode\'s partition applies each owed link once, in order, per source partition', (engine) => {
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'f');
  apply(engine, addLinkByIno(engine, { ino: file, ...at(1) }));
  apply(engine, addLinkByIno(engine, { ino: file, ...at(1) }));
  assert.equal(getInode(engine, file).nlink, 3);
  const first = apply(engine, dropRemoteLinks(engine, { sourcePartitionId: source, drops: [{ seq: 1, ino: file }], ...at(2) }));
  assert.equal(first.appliedThrough, 1);
  assert.equal(getInode(engine, file).nlink, 2);
  // The answer was lost and the source sends the same batch, now with a later record.
  const again = apply(engine, dropRemoteLinks(engine, { sourcePartitionId: source, drops: [{ seq: 1, ino: file }, { seq: 4, ino: file }], ...at(3) }));
  assert.equal(again.appliedThrough, 4);
  assert.equal(getInode(engine, file).nlink, 1, 'seq 1 was not applied twice');
  assert.equal(apply(engine, dropRemoteLinks(engine, { sourcePartitionId: source, drops: [{ seq: 4, ino: file }], ...at(4) })).appliedThrough, 4);
  assert.equal(getInode(engine, file).nlink, 1);
  // Another source counts its own sequences.
  const other = apply(engine, dropRemoteLinks(engine, { sourcePartitionId: source + 1, drops: [{ seq: 1, ino: file }], ...at(5) }));
  assert.equal(other.appliedThrough, 1);
  assert.equal(getInode(engine, file).nlink, 0);
  assert.ok(engine.get(toFreeKey(file)) !== undefined, 'at nlink 0 the inode is queued for freeing');
  // A drop that cannot apply is skipped, reported and counted as applied, so later ones still go.
  const directory = mkdir(engine, root, 'd');
  createFile(engine, directory, 'inside');
  const stuck = apply(engine, dropRemoteLinks(engine, { sourcePartitionId: source, drops: [{ seq: 5, ino: file }, { seq: 6, ino: 999_999 }, { seq: 7, ino: directory }], ...at(6) }));
  assert.equal(stuck.appliedThrough, 7);
  assert.deepEqual(stuck.skipped.map((skip) => [skip.seq, skip.reason]), [[5, 'already at nlink 0'], [6, 'no such inode here'], [7, 'a directory with entries']]);
  assert.equal(getInode(engine, directory).nlink, 2);
  assert.throws(
    () => dropRemoteLinks(engine, { sourcePartitionId: source, drops: [{ seq: 9, ino: file }, { seq: 8, ino: file }], ...at(7) }),
    failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'),
  );
  assert.throws(() => dropRemoteLinks(engine, { sourcePartitionId: 0, drops: [], ...at(7) }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
});

engineTest('an empty directory held here loses its links as a directory does (2 to 0)', (engine) => {
  const root = makeRoot(engine);
  const directory = mkdir(engine, root, 'empty');
  apply(engine, dropRemoteLinks(engine, { sourcePartitionId: source, drops: [{ seq: 1, ino: directory }], ...at(1) }));
  assert.equal(getInode(engine, directory).nlink, 0);
});
