import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtollError, isAtollError, StatusCode } from '../../errors/index.js';
import { ExtentKey, Inode, InodeType, XattrPresence } from '../../proto/generated/metanode.js';
import { MemoryEngine } from '../store/memory-engine.js';
import { contents, engineTest } from './engines.test.js';
import type { KvEngine } from '../store/kv-engine.js';
import { dentryKey, inodeKey, toFreeKey } from './keys.js';
import { createDentryOnly } from './links.js';
import { buildNamespaceLimits } from './limits.js';
import {
  appendExtents, batchGetInode, createInode, findInode, getInode, getXattr, link, listXattr, lookup, lookupPlus, readdir, readdirPlus, removeXattr, rename, rmdir,
  setattr, setXattr, statfs, unlink, type InodeRange, type Outcome,
} from './namespace.js';

const range: InodeRange = { inodeStart: 1, inodeEnd: 1_000_000 };
const now = { nowSec: 1_700_000_000, nowNsec: 123_456_789 };
const later = { nowSec: 1_700_000_100, nowNsec: 5 };
const owner = { mode: 0o755, uid: 1000, gid: 1000 };

function apply<T>(engine: KvEngine, outcome: Outcome<T>): T {
  engine.write(engine.appliedIndex + 1, outcome.mutations);
  return outcome.result;
}

function newVolume(engine: KvEngine, limits = buildNamespaceLimits(), inodeRange = range): { engine: KvEngine; root: number } {
  const { inode } = apply(engine, createInode(engine, inodeRange, { type: InodeType.INODE_DIRECTORY, ...owner, ...now }, limits));
  return { engine, root: inode.ino };
}

function mkdir(engine: KvEngine, parentIno: number, name: string): number {
  return apply(engine, createInode(engine, range, { type: InodeType.INODE_DIRECTORY, ...owner, ...now, parentIno, name })).inode.ino;
}

function createFile(engine: KvEngine, parentIno: number, name: string): number {
  return apply(engine, createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, mode: 0o644, ...now, parentIno, name })).inode.ino;
}

function failsWith(status: StatusCode, errno: string) {
  return (error: unknown) => {
    assert.ok(isAtollError(error, status), `expected ${StatusCode[status]}, got ${error instanceof AtollError ? error.statusName : String(error)}`);
    assert.equal((error as AtollError).code, errno);
    return true;
  };
}


function names(engine: KvEngine, parentIno: number): string[] {
  return readdir(engine, { parentIno, limit: 4096 }).entries.map((entry) => entry.name);
}

engineTest('a create with a dentry, an unlink and an rmdir return the parent as they left it (what the service answers)', (store) => {
  const { engine, root } = newVolume(store);
  const file = apply(engine, createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, mode: 0o644, ...later, parentIno: root, name: 'f' }));
  assert.ok(file.parent !== undefined);
  assert.deepEqual(file.parent, getInode(engine, root));
  assert.equal(file.parent.mtimeSec, later.nowSec);
  const directory = apply(engine, createInode(engine, range, { type: InodeType.INODE_DIRECTORY, ...owner, ...now, parentIno: root, name: 'd' }));
  assert.equal(directory.parent?.nlink, 3);
  assert.deepEqual(directory.parent!, getInode(engine, root));
  const detached = apply(engine, createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, mode: 0o644, ...now }));
  assert.equal(detached.parent, undefined, 'no dentry, no parent');
  // An unlink and an rmdir answer the parent as they left it too.
  const unlinked = apply(engine, unlink(engine, { parentIno: root, name: 'f', ...later }));
  assert.deepEqual(unlinked.parent, getInode(engine, root));
  const removed = apply(engine, rmdir(engine, { parentIno: root, name: 'd', ...later }));
  assert.equal(removed.parent.nlink, 2);
  assert.deepEqual(removed.parent, getInode(engine, root));
});

engineTest('a new directory has nlink 2, its parent gains one link, and the times keep their nanoseconds', (store) => {
  const { engine, root } = newVolume(store);
  assert.equal(getInode(engine, root).nlink, 2);
  assert.equal(getInode(engine, root).parentIno, root, 'a root is its own parent');
  const year2100 = { nowSec: 4_102_444_800, nowNsec: 999_999_999 };
  const child = apply(engine, createInode(engine, range, { type: InodeType.INODE_DIRECTORY, ...owner, ...year2100, parentIno: root, name: 'd' })).inode.ino;
  const inode = getInode(engine, child);
  assert.equal(inode.nlink, 2);
  assert.equal(inode.parentIno, root);
  assert.deepEqual([inode.mtimeSec, inode.mtimeNsec, inode.ctimeSec, inode.ctimeNsec, inode.atimeNsec], [4_102_444_800, 999_999_999, 4_102_444_800, 999_999_999, 999_999_999]);
  assert.equal(getInode(engine, root).nlink, 3);
  assert.deepEqual([getInode(engine, root).mtimeSec, getInode(engine, root).mtimeNsec], [4_102_444_800, 999_999_999]);
});

engineTest('the nlink of a directory is 2 plus its subdirectories; files do not count', (store) => {
  const { engine, root } = newVolume(store);
  const parent = mkdir(engine, root, 'parent');
  for (const name of ['a', 'b', 'c']) mkdir(engine, parent, name);
  for (const name of ['f', 'g']) createFile(engine, parent, name);
  assert.equal(getInode(engine, parent).nlink, 5);
  apply(engine, rmdir(engine, { parentIno: parent, name: 'b', ...later }));
  assert.equal(getInode(engine, parent).nlink, 4);
  apply(engine, unlink(engine, { parentIno: parent, name: 'f', ...later }));
  assert.equal(getInode(engine, parent).nlink, 4);
});

engineTest('creating an existing name fails with EEXIST and changes nothing', (store) => {
  const { engine, root } = newVolume(store);
  createFile(engine, root, 'name');
  const before = contents(engine);
  assert.throws(() => createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: root, name: 'name' }), failsWith(StatusCode.EXISTS, 'EEXIST'));
  assert.throws(() => createInode(engine, range, { type: InodeType.INODE_DIRECTORY, ...owner, ...now, parentIno: root, name: 'name' }), failsWith(StatusCode.EXISTS, 'EEXIST'));
  assert.deepEqual(contents(engine), before);
});

engineTest('lookup of a missing name or in a missing directory fails with ENOENT; in a file with ENOTDIR', (store) => {
  const { engine, root } = newVolume(store);
  const file = createFile(engine, root, 'file');
  assert.equal(lookup(engine, root, 'file').ino, file);
  assert.throws(() => lookup(engine, root, 'missing'), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.throws(() => lookup(engine, 999, 'file'), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.throws(() => lookup(engine, file, 'x'), failsWith(StatusCode.NOT_DIR, 'ENOTDIR'));
  assert.throws(() => getInode(engine, 999), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
});

engineTest('names that are empty, dot, dot-dot, or contain a slash or NUL are refused; over 255 bytes is ENAMETOOLONG', (store) => {
  const { engine, root } = newVolume(store);
  for (const name of ['', '.', '..', 'a/b', '/', 'a\0b']) {
    assert.throws(() => createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: root, name }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'), JSON.stringify(name));
    assert.throws(() => lookup(engine, root, name), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'), JSON.stringify(name));
  }
  const longest = 'é'.repeat(127) + 'x'; // 255 bytes
  createFile(engine, root, longest);
  assert.equal(lookup(engine, root, longest).name, longest);
  for (const name of ['é'.repeat(128), 'x'.repeat(256)]) { // 256 bytes each
    assert.throws(() => createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: root, name }), failsWith(StatusCode.NAME_TOO_LONG, 'ENAMETOOLONG'));
    assert.throws(() => rename(engine, { sourceParentIno: root, sourceName: longest, targetParentIno: root, targetName: name, ...now }), failsWith(StatusCode.NAME_TOO_LONG, 'ENAMETOOLONG'));
  }
});

engineTest('inode numbers are allocated in order inside the range, then RANGE_FULL', (store) => {
  const { engine, root } = newVolume(store, buildNamespaceLimits(), { inodeStart: 10, inodeEnd: 13 });
  assert.equal(root, 10);
  const small: InodeRange = { inodeStart: 10, inodeEnd: 13 };
  const made = ['a', 'b'].map((name) => apply(engine, createInode(engine, small, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: root, name })).inode.ino);
  assert.deepEqual(made, [11, 12]);
  assert.throws(() => createInode(engine, small, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: root, name: 'c' }), failsWith(StatusCode.RANGE_FULL, 'ENOSPC'));
  // A removed inode's number is not reused.
  apply(engine, unlink(engine, { parentIno: root, name: 'a', ...now }));
  assert.throws(() => createInode(engine, small, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: root, name: 'c' }), failsWith(StatusCode.RANGE_FULL, 'ENOSPC'));
});

engineTest('readdir in pages over 1500 entries returns each entry once, in byte order of the names', (store) => {
  const { engine, root } = newVolume(store);
  const created: string[] = [];
  for (let index = 0; index < 1500; index++) {
    const name = index % 3 === 0 ? `dir-${index}` : index % 3 === 1 ? `файл-${index}` : `F${index}`;
    createFile(engine, root, name);
    created.push(name);
  }
  const expected = created.map((name) => Buffer.from(name)).sort(Buffer.compare).map((bytes) => bytes.toString());
  for (const limit of [1, 7, 100, 1500, 4096]) {
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = readdir(engine, { parentIno: root, after, limit });
      assert.ok(page.entries.length <= limit);
      seen.push(...page.entries.map((entry) => entry.name));
      pages++;
      if (!page.more) break;
      after = page.entries[page.entries.length - 1].name;
    }
    assert.deepEqual(seen, expected, `limit ${limit}`);
    assert.equal(pages, Math.max(1, Math.ceil(1500 / limit)));
  }
});

engineTest('readdir resumes after a name that was removed between pages', (store) => {
  const { engine, root } = newVolume(store);
  for (const name of ['a', 'b', 'c', 'd']) createFile(engine, root, name);
  const first = readdir(engine, { parentIno: root, limit: 2 });
  assert.deepEqual(first.entries.map((entry) => entry.name), ['a', 'b']);
  apply(engine, unlink(engine, { parentIno: root, name: 'b', ...now }));
  const second = readdir(engine, { parentIno: root, after: 'b', limit: 2 });
  assert.deepEqual(second.entries.map((entry) => entry.name), ['c', 'd']);
  assert.equal(second.more, false);
});

engineTest('readdirplus returns the inode of each entry in entry order', (store) => {
  const { engine, root } = newVolume(store);
  const file = createFile(engine, root, 'b');
  const directory = mkdir(engine, root, 'a');
  const page = readdirPlus(engine, { parentIno: root, limit: 10 });
  assert.deepEqual(page.entries.map((entry) => entry.ino), [directory, file]);
  assert.deepEqual(page.inodes.map((inode) => [inode.ino, inode.type]), [[directory, InodeType.INODE_DIRECTORY], [file, InodeType.INODE_FILE]]);
});

engineTest('hard links count: each link adds one, each unlink removes one', (store) => {
  const { engine, root } = newVolume(store);
  const directory = mkdir(engine, root, 'd');
  const file = createFile(engine, root, 'f');
  apply(engine, link(engine, { ino: file, parentIno: root, name: 'f2', ...later }));
  apply(engine, link(engine, { ino: file, parentIno: directory, name: 'f3', ...later }));
  assert.equal(getInode(engine, file).nlink, 3);
  assert.equal(lookup(engine, directory, 'f3').ino, file);
  assert.deepEqual([getInode(engine, file).ctimeSec, getInode(engine, file).ctimeNsec], [later.nowSec, later.nowNsec]);
  apply(engine, unlink(engine, { parentIno: root, name: 'f', ...later }));
  assert.equal(getInode(engine, file).nlink, 2);
  assert.equal(engine.get(toFreeKey(file)), undefined, 'an inode with links left is not queued for freeing');
  assert.throws(() => link(engine, { ino: file, parentIno: root, name: 'f2', ...later }), failsWith(StatusCode.EXISTS, 'EEXIST'));
});

engineTest('a directory cannot be hard-linked, and links stop at the limit with EMLINK', (store) => {
  const limits = buildNamespaceLimits({ linksMax: 3 });
  const { engine, root } = newVolume(store, limits);
  const directory = mkdir(engine, root, 'd');
  assert.throws(() => link(engine, { ino: directory, parentIno: root, name: 'd2', ...now }, limits), failsWith(StatusCode.PERMISSION_DENIED, 'EACCES'));
  const file = createFile(engine, root, 'f');
  apply(engine, link(engine, { ino: file, parentIno: root, name: 'f2', ...now }, limits));
  apply(engine, link(engine, { ino: file, parentIno: root, name: 'f3', ...now }, limits));
  assert.throws(() => link(engine, { ino: file, parentIno: root, name: 'f4', ...now }, limits), failsWith(StatusCode.TOO_MANY_LINKS, 'EMLINK'));
  // root has nlink 3 (one subdirectory): a second one would exceed the limit
  assert.throws(() => createInode(engine, range, { type: InodeType.INODE_DIRECTORY, ...owner, ...now, parentIno: root, name: 'e' }, limits), failsWith(StatusCode.TOO_MANY_LINKS, 'EMLINK'));
});

engineTest('unlink at nlink 0 keeps the inode record and leaves a to-free record', (store) => {
  const { engine, root } = newVolume(store);
  const file = createFile(engine, root, 'f');
  const result = apply(engine, unlink(engine, { parentIno: root, name: 'f', ...later }));
  assert.equal(result.inode?.nlink, 0);
  assert.equal(result.dentry.ino, file);
  assert.throws(() => lookup(engine, root, 'f'), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.equal(getInode(engine, file).nlink, 0);
  assert.equal(engine.get(toFreeKey(file))?.length, 0);
  assert.deepEqual(statfs(engine), { inodes: 2, dentries: 0, inodesToFree: 1 });
  assert.throws(() => link(engine, { ino: file, parentIno: root, name: 'back', ...later }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
});

engineTest('unlink of a directory fails with EISDIR; rmdir of a file with ENOTDIR; of a missing name with ENOENT', (store) => {
  const { engine, root } = newVolume(store);
  mkdir(engine, root, 'd');
  createFile(engine, root, 'f');
  assert.throws(() => unlink(engine, { parentIno: root, name: 'd', ...now }), failsWith(StatusCode.IS_DIR, 'EISDIR'));
  assert.throws(() => rmdir(engine, { parentIno: root, name: 'f', ...now }), failsWith(StatusCode.NOT_DIR, 'ENOTDIR'));
  assert.throws(() => rmdir(engine, { parentIno: root, name: 'x', ...now }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.throws(() => unlink(engine, { parentIno: root, name: 'x', ...now }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
});

engineTest('rmdir of a non-empty directory fails with ENOTEMPTY; once empty it is removed and queued for freeing', (store) => {
  const { engine, root } = newVolume(store);
  const directory = mkdir(engine, root, 'd');
  createFile(engine, directory, 'f');
  const before = contents(engine);
  assert.throws(() => rmdir(engine, { parentIno: root, name: 'd', ...now }), failsWith(StatusCode.NOT_EMPTY, 'ENOTEMPTY'));
  assert.deepEqual(contents(engine), before);
  apply(engine, unlink(engine, { parentIno: directory, name: 'f', ...now }));
  apply(engine, rmdir(engine, { parentIno: root, name: 'd', ...now }));
  assert.deepEqual(names(engine, root), []);
  assert.equal(getInode(engine, root).nlink, 2);
  assert.equal(getInode(engine, directory).nlink, 0);
  assert.ok(engine.get(toFreeKey(directory)) !== undefined);
});

engineTest('rename over an existing file replaces it and the replaced inode loses a link', (store) => {
  const { engine, root } = newVolume(store);
  const source = createFile(engine, root, 'new');
  const target = createFile(engine, root, 'old');
  apply(engine, link(engine, { ino: target, parentIno: root, name: 'old-link', ...now }));
  const result = apply(engine, rename(engine, { sourceParentIno: root, sourceName: 'new', targetParentIno: root, targetName: 'old', ...later }));
  assert.equal(result.replaced?.ino, target);
  assert.equal(lookup(engine, root, 'old').ino, source);
  assert.deepEqual(names(engine, root), ['old', 'old-link']);
  assert.equal(getInode(engine, target).nlink, 1);
  apply(engine, rename(engine, { sourceParentIno: root, sourceName: 'old', targetParentIno: root, targetName: 'old-link', ...later }));
  assert.equal(getInode(engine, target).nlink, 0);
  assert.ok(engine.get(toFreeKey(target)) !== undefined, 'the last link replaced queues the inode for freeing');
  assert.deepEqual(names(engine, root), ['old-link']);
});

engineTest('rename over an empty directory replaces it; over a non-empty one fails with ENOTEMPTY', (store) => {
  const { engine, root } = newVolume(store);
  const source = mkdir(engine, root, 'src');
  const empty = mkdir(engine, root, 'empty');
  const full = mkdir(engine, root, 'full');
  createFile(engine, full, 'f');
  assert.equal(getInode(engine, root).nlink, 5);
  assert.throws(() => rename(engine, { sourceParentIno: root, sourceName: 'src', targetParentIno: root, targetName: 'full', ...now }), failsWith(StatusCode.NOT_EMPTY, 'ENOTEMPTY'));
  apply(engine, rename(engine, { sourceParentIno: root, sourceName: 'src', targetParentIno: root, targetName: 'empty', ...now }));
  assert.equal(lookup(engine, root, 'empty').ino, source);
  assert.deepEqual(names(engine, root), ['empty', 'full']);
  assert.equal(getInode(engine, root).nlink, 4);
  assert.equal(getInode(engine, empty).nlink, 0);
  assert.ok(engine.get(toFreeKey(empty)) !== undefined);
});

engineTest('rename of a directory over a file fails with ENOTDIR, of a file over a directory with EISDIR', (store) => {
  const { engine, root } = newVolume(store);
  mkdir(engine, root, 'd');
  createFile(engine, root, 'f');
  const before = contents(engine);
  assert.throws(() => rename(engine, { sourceParentIno: root, sourceName: 'd', targetParentIno: root, targetName: 'f', ...now }), failsWith(StatusCode.NOT_DIR, 'ENOTDIR'));
  assert.throws(() => rename(engine, { sourceParentIno: root, sourceName: 'f', targetParentIno: root, targetName: 'd', ...now }), failsWith(StatusCode.IS_DIR, 'EISDIR'));
  assert.throws(() => rename(engine, { sourceParentIno: root, sourceName: 'missing', targetParentIno: root, targetName: 'x', ...now }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.deepEqual(contents(engine), before);
});

engineTest('rename of a directory into its own subtree is refused with EINVAL', (store) => {
  const { engine, root } = newVolume(store);
  const top = mkdir(engine, root, 'a');
  const middle = mkdir(engine, top, 'b');
  const bottom = mkdir(engine, middle, 'c');
  for (const targetParentIno of [top, middle, bottom]) {
    assert.throws(() => rename(engine, { sourceParentIno: root, sourceName: 'a', targetParentIno, targetName: 'x', ...now }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
  }
  // Moving a deeper directory up, or a directory beside itself, is fine.
  apply(engine, rename(engine, { sourceParentIno: middle, sourceName: 'c', targetParentIno: root, targetName: 'c', ...now }));
  assert.equal(getInode(engine, bottom).parentIno, root);
});

engineTest('rename of a directory to another parent moves a link from the old parent to the new one', (store) => {
  const { engine, root } = newVolume(store);
  const from = mkdir(engine, root, 'from');
  const to = mkdir(engine, root, 'to');
  const moved = mkdir(engine, from, 'moved');
  mkdir(engine, moved, 'inner');
  apply(engine, rename(engine, { sourceParentIno: from, sourceName: 'moved', targetParentIno: to, targetName: 'here', ...later }));
  assert.equal(getInode(engine, from).nlink, 2);
  assert.equal(getInode(engine, to).nlink, 3);
  assert.equal(getInode(engine, moved).nlink, 3);
  assert.equal(getInode(engine, moved).parentIno, to);
  assert.equal(lookup(engine, to, 'here').ino, moved);
  assert.throws(() => lookup(engine, from, 'moved'), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.equal(getInode(engine, root).nlink, 4);
});

engineTest('rename onto another link of the same inode does nothing', (store) => {
  const { engine, root } = newVolume(store);
  const file = createFile(engine, root, 'a');
  apply(engine, link(engine, { ino: file, parentIno: root, name: 'b', ...now }));
  const outcome = rename(engine, { sourceParentIno: root, sourceName: 'a', targetParentIno: root, targetName: 'b', ...later });
  assert.deepEqual(outcome.mutations, []);
  assert.equal(getInode(engine, file).nlink, 2);
});

test('operations are deterministic: the same state and arguments give the same mutations', () => {
  function build(): { engine: KvEngine; root: number } {
    const volume = newVolume(new MemoryEngine());
    const directory = mkdir(volume.engine, volume.root, 'd');
    createFile(volume.engine, directory, 'f');
    createFile(volume.engine, volume.root, 'g');
    return volume;
  }
  const first = build();
  const second = build();
  assert.deepEqual(contents(first.engine), contents(second.engine));
  const operations: Array<(engine: KvEngine, root: number) => Outcome<unknown>> = [
    (engine: KvEngine, root: number) => createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...later, parentIno: root, name: 'h' }),
    (engine: KvEngine, root: number) => rename(engine, { sourceParentIno: root, sourceName: 'g', targetParentIno: root, targetName: 'd2', ...later }),
    (engine: KvEngine, root: number) => link(engine, { ino: lookup(engine, root, 'h').ino, parentIno: root, name: 'h2', ...later }),
    (engine: KvEngine, root: number) => unlink(engine, { parentIno: root, name: 'h', ...later }),
    (engine: KvEngine, root: number) => setXattr(engine, { ino: root, name: 'user.k', value: Uint8Array.of(1, 2), ...later }),
  ];
  for (const operation of operations) {
    const left = operation(first.engine, first.root);
    const right = operation(second.engine, second.root);
    assert.ok(left.mutations.length > 0);
    assert.deepEqual(left.mutations, right.mutations);
    apply(first.engine, left);
    apply(second.engine, right);
  }
  assert.deepEqual(contents(first.engine), contents(second.engine));
});

engineTest('an operation reads but never writes the engine: nothing changes until its mutations are applied', (store) => {
  const { engine, root } = newVolume(store);
  const before = contents(engine);
  const outcome = createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: root, name: 'f' });
  assert.deepEqual(contents(engine), before);
  assert.throws(() => lookup(engine, root, 'f'), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  apply(engine, outcome);
  assert.equal(lookup(engine, root, 'f').ino, outcome.result.inode.ino);
});

engineTest('setattr changes mode, owner, times as seconds and nanoseconds, and ctime becomes now', (store) => {
  const { engine, root } = newVolume(store);
  const file = createFile(engine, root, 'f');
  const inode = apply(engine, setattr(engine, { ino: file, mode: 0o600, uid: 7, gid: 8, atime: { sec: -1, nsec: 999_999_999 }, mtime: { sec: 4_102_444_800, nsec: 1 }, ...later }));
  assert.deepEqual(Inode.decode(engine.get(inodeKey(file))!), inode);
  assert.deepEqual([inode.mode, inode.uid, inode.gid], [0o600, 7, 8]);
  assert.deepEqual([inode.atimeSec, inode.atimeNsec, inode.mtimeSec, inode.mtimeNsec], [-1, 999_999_999, 4_102_444_800, 1]);
  assert.deepEqual([inode.ctimeSec, inode.ctimeNsec], [later.nowSec, later.nowNsec]);
  assert.throws(() => setattr(engine, { ino: file, mode: 0o100644, ...now }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
  assert.throws(() => setattr(engine, { ino: file, atime: { sec: 0, nsec: 1_000_000_000 }, ...now }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
  assert.throws(() => setattr(engine, { ino: root, size: 0, ...now }), failsWith(StatusCode.IS_DIR, 'EISDIR'));
});

engineTest('shrinking a file drops and clips the extents beyond the new size', (store) => {
  const { engine, root } = newVolume(store);
  const file = createFile(engine, root, 'f');
  const extents = [0, 100, 200].map((fileOffset, index) => ExtentKey.create({ fileOffset, partitionId: 1, extentId: index + 1, size: 100 }));
  const stored = Inode.decode(engine.get(inodeKey(file))!);
  engine.write(engine.appliedIndex + 1, [{ op: 'set', key: inodeKey(file), value: Inode.encode({ ...stored, size: 300, extents }) }]);
  const inode = apply(engine, setattr(engine, { ino: file, size: 150, ...later }));
  assert.equal(inode.size, 150);
  assert.deepEqual(inode.extents.map((extent) => [extent.fileOffset, extent.size]), [[0, 100], [100, 50]]);
  assert.deepEqual([inode.mtimeSec, inode.mtimeNsec], [later.nowSec, later.nowNsec]);
});

engineTest('a setattr repeated with the request id the inode last applied changes nothing: a write in between stays', (store) => {
  const { engine, root } = newVolume(store);
  const file = createFile(engine, root, 'f');
  const written = (fileOffset: number) => [ExtentKey.create({ fileOffset, partitionId: 1, extentId: 5 + fileOffset, size: 100 })];
  apply(engine, appendExtents(engine, { ino: file, extents: written(0), ...now }));
  // A truncate (id 41) applies; then another client appends; then the truncate's repeat.
  const truncated = apply(engine, setattr(engine, { ino: file, size: 0, requestId: 41, ...now }));
  assert.equal(truncated.size, 0);
  assert.equal(truncated.lastSetattrId, 41);
  apply(engine, appendExtents(engine, { ino: file, extents: written(0), ...later }));
  const repeat = setattr(engine, { ino: file, size: 0, requestId: 41, ...later });
  assert.equal(repeat.result.size, 100, 'the repeat answers the inode as it is');
  const before = contents(engine);
  apply(engine, repeat);
  assert.deepEqual(contents(engine), before, 'the repeat wrote nothing');
  // Another call (another id, or none) applies as usual and becomes the last one.
  assert.equal(apply(engine, setattr(engine, { ino: file, size: 10, requestId: 42, ...later })).size, 10);
  const plain = apply(engine, setattr(engine, { ino: file, mode: 0o600, ...later }));
  assert.equal(plain.lastSetattrId, 0);
  assert.equal(apply(engine, setattr(engine, { ino: file, size: 0, requestId: 42, ...later })).size, 0, 'an id the inode no longer holds applies again');
  assert.throws(() => setattr(engine, { ino: file, size: 0, requestId: -1, ...now }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
});

engineTest('extended attributes: set, get, list in name order, replace, remove, and their limits', (store) => {
  const { engine, root } = newVolume(store);
  const file = createFile(engine, root, 'f');
  apply(engine, setXattr(engine, { ino: file, name: 'user.b', value: Uint8Array.of(2), ...now }));
  apply(engine, setXattr(engine, { ino: file, name: 'user.a', value: new Uint8Array(64 * 1024), ...now }));
  assert.deepEqual(listXattr(engine, file), ['user.a', 'user.b']);
  assert.deepEqual(getXattr(engine, file, 'user.b'), Uint8Array.of(2));
  assert.throws(() => setXattr(engine, { ino: file, name: 'user.b', value: Uint8Array.of(3), flag: 'create', ...now }), failsWith(StatusCode.EXISTS, 'EEXIST'));
  assert.throws(() => setXattr(engine, { ino: file, name: 'user.c', value: Uint8Array.of(3), flag: 'replace', ...now }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  apply(engine, setXattr(engine, { ino: file, name: 'user.b', value: Uint8Array.of(3), flag: 'replace', ...now }));
  assert.deepEqual(getXattr(engine, file, 'user.b'), Uint8Array.of(3));
  assert.throws(() => setXattr(engine, { ino: file, name: 'user.big', value: new Uint8Array(64 * 1024 + 1), ...now }), failsWith(StatusCode.TOO_LARGE, 'EMSGSIZE'));
  assert.throws(() => setXattr(engine, { ino: file, name: 'x'.repeat(256), value: Uint8Array.of(1), ...now }), failsWith(StatusCode.NAME_TOO_LONG, 'ENAMETOOLONG'));
  apply(engine, setXattr(engine, { ino: file, name: 'x'.repeat(255), value: Uint8Array.of(1), ...now }));
  apply(engine, removeXattr(engine, { ino: file, name: 'user.a', ...later }));
  assert.throws(() => getXattr(engine, file, 'user.a'), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.throws(() => removeXattr(engine, { ino: file, name: 'user.a', ...later }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.deepEqual(listXattr(engine, file), ['user.b', 'x'.repeat(255)]);
  assert.equal(getInode(engine, file).ctimeSec, later.nowSec);
});

engineTest('an inode says whether it holds extended attributes, and a record from before learns it at its next change', (store) => {
  const { engine, root } = newVolume(store);
  const presence = (ino: number): XattrPresence => getInode(engine, ino).xattrs;
  assert.equal(presence(root), XattrPresence.XATTRS_NONE);
  const file = createFile(engine, root, 'f');
  assert.equal(presence(file), XattrPresence.XATTRS_NONE);
  assert.equal(apply(engine, setXattr(engine, { ino: file, name: 'user.a', value: Uint8Array.of(1), ...now })).xattrs, XattrPresence.XATTRS_SOME);
  apply(engine, setXattr(engine, { ino: file, name: 'user.b', value: Uint8Array.of(2), ...now }));
  assert.equal(apply(engine, removeXattr(engine, { ino: file, name: 'user.a', ...later })).xattrs, XattrPresence.XATTRS_SOME, 'one is left');
  assert.equal(presence(file), XattrPresence.XATTRS_SOME);
  assert.equal(apply(engine, removeXattr(engine, { ino: file, name: 'user.b', ...later })).xattrs, XattrPresence.XATTRS_NONE, 'the last one went');
  assert.equal(presence(file), XattrPresence.XATTRS_NONE);
  // A refused change leaves the presence as it was.
  assert.throws(() => removeXattr(engine, { ino: file, name: 'user.b', ...later }), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
  assert.equal(presence(file), XattrPresence.XATTRS_NONE);

  // Records written before partitions kept this say nothing, whatever they hold.
  const old = createFile(engine, root, 'old');
  apply(engine, setXattr(engine, { ino: old, name: 'user.x', value: Uint8Array.of(1), ...now }));
  apply(engine, setXattr(engine, { ino: old, name: 'user.y', value: Uint8Array.of(1), ...now }));
  const unknown = (ino: number): void => engine.write(engine.appliedIndex + 1, [{ op: 'set', key: inodeKey(ino), value: Inode.encode({ ...getInode(engine, ino), xattrs: XattrPresence.XATTRS_UNKNOWN }) }]);
  unknown(old);
  assert.equal(presence(old), XattrPresence.XATTRS_UNKNOWN);
  assert.equal(apply(engine, removeXattr(engine, { ino: old, name: 'user.x', ...later })).xattrs, XattrPresence.XATTRS_SOME);
  unknown(old);
  assert.equal(apply(engine, removeXattr(engine, { ino: old, name: 'user.y', ...later })).xattrs, XattrPresence.XATTRS_NONE);
  unknown(old);
  assert.equal(apply(engine, setXattr(engine, { ino: old, name: 'user.z', value: Uint8Array.of(1), ...now })).xattrs, XattrPresence.XATTRS_SOME);
});

engineTest('a symlink keeps its target and its size is the target length', (store) => {
  const { engine, root } = newVolume(store);
  const target = new TextEncoder().encode('../somewhere/else');
  const { inode } = apply(engine, createInode(engine, range, { type: InodeType.INODE_SYMLINK, mode: 0o777, uid: 0, gid: 0, symlinkTarget: target, ...now, parentIno: root, name: 'link' }));
  assert.deepEqual(getInode(engine, inode.ino).symlinkTarget, target);
  assert.equal(getInode(engine, inode.ino).size, target.length);
  assert.equal(lookup(engine, root, 'link').type, InodeType.INODE_SYMLINK);
  assert.throws(() => createInode(engine, range, { type: InodeType.INODE_SYMLINK, ...owner, ...now, parentIno: root, name: 'empty' }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
});

engineTest('batchGetInode returns the inodes held here in the order asked and skips the others', (store) => {
  const { engine, root } = newVolume(store);
  const first = createFile(engine, root, 'a');
  const second = createFile(engine, root, 'b');
  assert.deepEqual(batchGetInode(engine, [second, 999, first, root]).map((inode) => inode.ino), [second, first, root]);
});

engineTest('statfs counts inodes and dentries', (store) => {
  const { engine, root } = newVolume(store);
  const directory = mkdir(engine, root, 'd');
  createFile(engine, directory, 'f');
  createFile(engine, root, 'g');
  assert.deepEqual(statfs(engine), { inodes: 4, dentries: 3, inodesToFree: 0 });
  assert.ok(engine.get(dentryKey(directory, 'f')) !== undefined);
});

engineTest('lookupPlus answers the entry with its inode when held here; findInode is undefined for an inode held elsewhere', (store) => {
  const { engine, root } = newVolume(store);
  const file = createFile(engine, root, 'f');
  const found = lookupPlus(engine, root, 'f');
  assert.equal(found.dentry.ino, file);
  assert.deepEqual(found.inode, getInode(engine, file));
  assert.equal(findInode(engine, 999_999), undefined);
  // An entry whose inode another partition holds (a two-step create): the dentry alone.
  const remote = 2_000_123;
  apply(engine, createDentryOnly(engine, { parentIno: root, name: 'remote', ino: remote, type: InodeType.INODE_FILE, ...later }));
  const elsewhere = lookupPlus(engine, root, 'remote');
  assert.equal(elsewhere.dentry.ino, remote);
  assert.equal(elsewhere.inode, undefined);
  assert.throws(() => lookupPlus(engine, root, 'missing'), failsWith(StatusCode.NOT_FOUND, 'ENOENT'));
});

engineTest('a create keeps the generation its client chose (0 when none), a uint32', (store) => {
  const { engine, root } = newVolume(store);
  const made = apply(engine, createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, mode: 0o644, ...now, parentIno: root, name: 'g', generation: 0xdead_beef }));
  assert.equal(getInode(engine, made.inode.ino).generation, 0xdead_beef);
  assert.equal(getInode(engine, createFile(engine, root, 'plain')).generation, 0);
  assert.throws(() => createInode(engine, range, { type: InodeType.INODE_FILE, ...owner, ...now, parentIno: root, name: 'h', generation: 2 ** 32 }), failsWith(StatusCode.INVALID_ARGUMENT, 'EINVAL'));
});
