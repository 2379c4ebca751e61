import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { MemoryFileSystem, memoryFsLimits } from './memory-fs.js';

const { S_IFREG, S_IFDIR } = constants;
const code = (pattern: string) => (error: unknown) => (error as { code?: string }).code === pattern;

test('unlink of an open file keeps its data until release', () => {
  const fs = new MemoryFileSystem();
  const handle = fs.create('/a', S_IFREG | 0o644);
  fs.write('/a', handle, Buffer.from('kept'), 0);
  fs.unlink('/a');
  assert.throws(() => fs.getattr('/a'), code('ENOENT'));
  assert.equal(Buffer.from(fs.read('/a', handle, 10, 0)).toString(), 'kept');
  assert.equal(fs.fgetattr('/a', handle).nlink, 0);
  const before = fs.counts();
  fs.release('/a', handle);
  assert.deepEqual(fs.counts(), { handles: 0, inodes: before.inodes - 1, usedBytes: 0 });
});

test('rename follows POSIX: replaces files and empty directories, refuses the rest', () => {
  const fs = new MemoryFileSystem();
  fs.mkdir('/d', 0o755);
  fs.mkdir('/d/sub', 0o755);
  fs.mkdir('/e', 0o755);
  fs.release('/f', fs.create('/f', S_IFREG | 0o644));
  assert.throws(() => fs.rename('/d', '/d/sub/x'), code('EINVAL'));
  assert.throws(() => fs.rename('/f', '/e'), code('EISDIR'));
  assert.throws(() => fs.rename('/e', '/f'), code('ENOTDIR'));
  assert.throws(() => fs.rename('/e', '/d'), code('ENOTEMPTY'));
  fs.rename('/d/sub', '/e');
  assert.deepEqual(fs.readdir('/d'), []);
  assert.equal(fs.getattr('/').nlink, 4, 'root holds d and e');
  assert.equal(fs.getattr('/e').mode & S_IFDIR, S_IFDIR);
});

test('truncate down then up reads zeros past the old end, across chunks', () => {
  const fs = new MemoryFileSystem();
  const handle = fs.create('/t', S_IFREG | 0o644);
  const chunk = memoryFsLimits.chunkBytes;
  fs.write('/t', handle, Buffer.alloc(chunk + 10, 1), 0);
  fs.ftruncate('/t', handle, chunk - 5);
  fs.ftruncate('/t', handle, chunk + 10);
  const data = Buffer.from(fs.read('/t', handle, 20, chunk - 10));
  assert.deepEqual([...data], [...Buffer.alloc(5, 1), ...Buffer.alloc(15, 0)]);
  fs.release('/t', handle);
});

test('writes past the capacity fail with ENOSPC; statfs shows the use', () => {
  const fs = new MemoryFileSystem({ bytesMax: 100 });
  const handle = fs.create('/s', S_IFREG | 0o644);
  fs.write('/s', handle, Buffer.alloc(60), 0);
  assert.throws(() => fs.write('/s', handle, Buffer.alloc(60), 60), code('ENOSPC'));
  assert.equal(fs.statfs().freeBytes, 40);
  fs.release('/s', handle);
});

test('xattr create and replace flags', () => {
  const fs = new MemoryFileSystem();
  fs.mkdir('/x', 0o755);
  assert.throws(() => fs.setxattr('/x', 'user.a', Buffer.from('1'), 2), code('ENODATA'));
  fs.setxattr('/x', 'user.a', Buffer.from('1'), 1);
  assert.throws(() => fs.setxattr('/x', 'user.a', Buffer.from('2'), 1), code('EEXIST'));
  fs.setxattr('/x', 'user.a', Buffer.from('2'), 2);
  assert.equal(Buffer.from(fs.getxattr('/x', 'user.a')).toString(), '2');
  assert.deepEqual(fs.listxattr('/x'), ['user.a']);
  fs.removexattr('/x', 'user.a');
  assert.throws(() => fs.getxattr('/x', 'user.a'), code('ENODATA'));
});

test('hard links share the inode; a directory cannot be linked', () => {
  const fs = new MemoryFileSystem();
  fs.release('/f', fs.create('/f', S_IFREG | 0o600));
  fs.link('/f', '/g');
  assert.equal(fs.getattr('/g').nlink, 2);
  assert.equal(fs.getattr('/g').ino, fs.getattr('/f').ino);
  fs.mkdir('/d', 0o755);
  assert.throws(() => fs.link('/d', '/d2'), code('EPERM'));
});
