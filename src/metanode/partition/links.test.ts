import assert from 'node:assert/strict';
import { StatusCode } from '../../errors/index.js';
import { InodeType } from '../../proto/generated/metanode.js';
import { apply, at, createFile, engineTest, failsWith, makeRoot, mkdir, now, owner, range } from './engines.test.js';
import { freeableInodes } from './freeing.js';
import { pendingLinkKey, toFreeKey } from './keys.js';
import {
  addLinkByIno, confirmInodeLinked, createDentryOnly, dropLinkByIno, freeOrphans, orphanCandidates, removeDentryOnly,
} from './links.js';
import { createInode, getInode, lookup } from './namespace.js';

const remote = 500_000_001; // an inode of another partition

engineTest('addLinkByIno and dropLinkByIno count links as link and unlink do', (engine) => {
  const root = makeRoot(engine);
  const file = createFile(engine, root, 'f');
  assert.equal(apply(engine, addLinkByIno(engine, { ino: file, ...at(1) })).nlink, 2);
  assert.equal(apply(engine, dropLinkByIno(engine, { ino: file, ...at(2) })).nlink, 1);
  assert.equal(apply(engine, dropLinkByIno(engine, { ino: file, ...at(3) })).nlink, 0);
  assert.ok(engine.get(toFreeKey(file)) !== undefined);
  assert.throws(() => addLinkByIno(engine, { ino: file, ...at(4) }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.throws(() => dropLinkByIno(engine, { ino: file, ...at(4) }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  const directory = mkdir(engine, root, 'd');
  createFile(engine, directory, 'inside');
  assert.throws(() => addLinkByIno(engine, { ino: directory, ...now }), failsWith(StatusCode.PERMISSION_DENIED, 'EACCES'));
  assert.throws(() => dropLinkByIno(engine, { ino: directory, ...now }), failsWith(StatusCode.NOT_EMPTY, 'ENOTEMPTY'));
  const empty = mkdir(engine, root, 'e');
  assert.equal(apply(engine, dropLinkByIno(engine, { ino: empty, ...now })).nlink, 0, 'a directory goes from 2 to 0');
});

engineTest('createDentryOnly and removeDentryOnly change entries and the parent, never the inode', (engine) => {
  const root = makeRoot(engine);
  const dentry = apply(engine, createDentryOnly(engine, { parentIno: root, name: 'far', ino: remote, type: InodeType.INODE_DIRECTORY, ...at(1) }));
  assert.deepEqual(lookup(engine, root, 'far'), dentry);
  assert.equal(getInode(engine, root).nlink, 3, 'a directory entry counts in its parent');
  apply(engine, createDentryOnly(engine, { parentIno: root, name: 'file', ino: remote + 1, type: InodeType.INODE_FILE, ...at(1) }));
  assert.equal(getInode(engine, root).nlink, 3);
  assert.throws(() => createDentryOnly(engine, { parentIno: root, name: 'far', ino: remote, type: InodeType.INODE_FILE, ...now }), failsWith(StatusCode.EXISTS, 'EEXIST'));
  assert.throws(() => createDentryOnly(engine, { parentIno: 77, name: 'x', ino: remote, type: InodeType.INODE_FILE, ...now }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.throws(() => createDentryOnly(engine, { parentIno: root, name: 'a/b', ino: remote, type: InodeType.INODE_FILE, ...now }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
  assert.throws(() => createDentryOnly(engine, { parentIno: root, name: '.trash', ino: remote, type: InodeType.INODE_FILE, ...now }), failsWith(StatusCode.PERMISSION_DENIED, 'EACCES'));
  assert.throws(() => removeDentryOnly(engine, { parentIno: root, name: 'far', ino: remote + 5, ...now }), failsWith(StatusCode.CONFLICT, 'EAGAIN'));
  assert.deepEqual(apply(engine, removeDentryOnly(engine, { parentIno: root, name: 'far', ino: remote, ...at(2) })), dentry);
  assert.equal(getInode(engine, root).nlink, 2);
  assert.throws(() => removeDentryOnly(engine, { parentIno: root, name: 'far', ...now }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
});

engineTest('a two-step create leaves a pending record until confirmed; the sweep frees the unconfirmed after the grace', (engine) => {
  makeRoot(engine);
  const create = (seconds: number, type = InodeType.INODE_FILE) =>
    apply(engine, createInode(engine, range, { type, ...owner, ...at(seconds), remoteParentIno: remote })).inode;
  const confirmed = create(0);
  const orphan = create(1);
  const orphanDirectory = create(2, InodeType.INODE_DIRECTORY);
  const young = create(100);
  assert.equal(orphanDirectory.parentIno, remote, 'a directory records its parent elsewhere');
  assert.equal(orphanDirectory.nlink, 2);
  assert.deepEqual(apply(engine, confirmInodeLinked(engine, { ino: confirmed.ino })), { confirmed: true });
  assert.deepEqual(apply(engine, confirmInodeLinked(engine, { ino: confirmed.ino })), { confirmed: false }, 'a retried confirm is harmless');
  const candidates = orphanCandidates(engine, { graceSec: 60, limit: 10, ...at(120) });
  assert.deepEqual(candidates.orphans.map((candidate) => candidate.ino), [orphan.ino, orphanDirectory.ino]);
  assert.deepEqual(candidates.orphans[0], { ino: orphan.ino, createdSec: now.nowSec + 1, createdNsec: now.nowNsec, parentIno: remote, name: '' });
  assert.deepEqual(orphanCandidates(engine, { graceSec: 60, limit: 1, ...at(120) }), { orphans: [candidates.orphans[0]], resumeAfter: orphan.ino });
  // The orphan is confirmed between the scan and the sweep: it is skipped.
  apply(engine, confirmInodeLinked(engine, { ino: orphanDirectory.ino }));
  const swept = apply(engine, freeOrphans(engine, { inos: [orphan.ino, orphanDirectory.ino, young.ino], graceSec: 60, ...at(120) }));
  assert.deepEqual(swept, { freed: [orphan.ino], skipped: [orphanDirectory.ino, young.ino] });
  assert.equal(getInode(engine, orphan.ino).nlink, 0);
  assert.equal(engine.get(pendingLinkKey(orphan.ino)), undefined);
  assert.deepEqual(freeableInodes(engine, { limit: 10 }).inos, [orphan.ino]);
  assert.throws(() => confirmInodeLinked(engine, { ino: orphan.ino }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.deepEqual(orphanCandidates(engine, { graceSec: 60, limit: 10, ...at(1000) }).orphans.map((candidate) => candidate.ino), [young.ino]);
});

engineTest('a root created without any parent is not pending; parentIno and remoteParentIno exclude each other', (engine) => {
  const root = makeRoot(engine);
  assert.equal(engine.get(pendingLinkKey(root)), undefined);
  assert.throws(() => createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: root, name: 'x', remoteParentIno: remote }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
  const pending = apply(engine, createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...now, remoteParentIno: remote })).inode.ino;
  apply(engine, dropLinkByIno(engine, { ino: pending, ...at(1) }));
  assert.equal(engine.get(pendingLinkKey(pending)), undefined, 'a pending inode that lost its link is no orphan');
});
