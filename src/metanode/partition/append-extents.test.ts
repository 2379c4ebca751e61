import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAtollError, StatusCode } from '../../errors/index.js';
import { InodeType, type ExtentKey } from '../../proto/generated/metanode.js';
import type { KvEngine } from '../store/kv-engine.js';
import { MemoryEngine } from '../store/index.js';
import { buildNamespaceLimits } from './limits.js';
import { appendExtents, createInode, getInode, type Outcome } from './namespace.js';
import { extentReleasePrefix } from './keys.js';
import { decodeExtentReleaseValue } from './values.js';

const range = { inodeStart: 1, inodeEnd: 1000 };
const now = { nowSec: 1_800_000_000, nowNsec: 1 };

function apply<T>(engine: KvEngine, outcome: Outcome<T>): T {
  engine.write(engine.appliedIndex + 1, outcome.mutations);
  return outcome.result;
}

function fileAndDir(): { engine: KvEngine; file: number; dir: number } {
  const engine = new MemoryEngine();
  const dir = apply(engine, createInode(engine, range, { type: InodeType.INODE_DIRECTORY, mode: 0o755, uid: 0, gid: 0, ...now })).inode.ino;
  const file = apply(engine, createInode(engine, range, { type: InodeType.INODE_FILE, mode: 0o644, uid: 0, gid: 0, ...now, parentIno: dir, name: 'f' })).inode.ino;
  return { engine, file, dir };
}

const key = (fileOffset: number, size: number, extentId: number, extentOffset = 0): ExtentKey => ({ fileOffset, size, extentId, extentOffset, partitionId: 5 });

test('appends extend the size and keep extents in file order', () => {
  const { engine, file } = fileAndDir();
  apply(engine, appendExtents(engine, { ...now, ino: file, extents: [key(0, 100, 1024)] }));
  const { inode, released } = apply(engine, appendExtents(engine, { ...now, ino: file, extents: [key(100, 50, 1024, 100)] }));
  assert.equal(inode.size, 150);
  assert.deepEqual(released, []);
  assert.deepEqual(getInode(engine, file).extents.map((extent) => [extent.fileOffset, extent.size]), [[0, 100], [100, 50]]);
});

test('an overwrite in a new extent cuts the covered part out of the old one and reports it released', () => {
  const { engine, file } = fileAndDir();
  apply(engine, appendExtents(engine, { ...now, ino: file, extents: [key(0, 100, 1024)] }));
  const { inode, released } = apply(engine, appendExtents(engine, { ...now, ino: file, extents: [key(40, 20, 1025)] }));
  assert.equal(inode.size, 100);
  assert.deepEqual(inode.extents.map((extent) => [extent.fileOffset, extent.size, extent.extentId, extent.extentOffset]), [
    [0, 40, 1024, 0],
    [40, 20, 1025, 0],
    [60, 40, 1024, 60],
  ]);
  assert.deepEqual(released.map((extent) => [extent.fileOffset, extent.size, extent.extentId, extent.extentOffset]), [[40, 20, 1024, 40]]);
});

test('a write past the end leaves a hole and grows the size; bad keys, directories and too many keys are refused', () => {
  const { engine, file, dir } = fileAndDir();
  const { inode } = apply(engine, appendExtents(engine, { ...now, ino: file, extents: [key(1000, 10, 1024)] }));
  assert.equal(inode.size, 1010);
  assert.throws(() => appendExtents(engine, { ...now, ino: dir, extents: [key(0, 1, 1)] }), (error) => isAtollError(error, StatusCode.IS_DIR));
  assert.throws(() => appendExtents(engine, { ...now, ino: file, extents: [key(0, 0, 1)] }), (error) => isAtollError(error, StatusCode.INVALID_ARGUMENT));
  assert.throws(() => appendExtents(engine, { ...now, ino: file, extents: [] }), (error) => isAtollError(error, StatusCode.INVALID_ARGUMENT));
  assert.throws(() => appendExtents(engine, { ...now, ino: 999, extents: [key(0, 1, 1)] }), (error) => isAtollError(error, StatusCode.NOT_FOUND));
  const limits = buildNamespaceLimits({ extentKeysPerInodeMax: 2 });
  apply(engine, appendExtents(engine, { ...now, ino: file, extents: [key(0, 10, 1025)] }, limits));
  assert.throws(() => appendExtents(engine, { ...now, ino: file, extents: [key(20, 10, 1026)] }, limits), (error) => isAtollError(error, StatusCode.TOO_LARGE));
});

test('the same tiny key appended again (a retried AppendExtents) releases nothing; a tiny key partly overwritten releases only the covered bytes', () => {
  const { engine, file } = fileAndDir();
  const queued = () => engine.scan({ prefix: extentReleasePrefix, limit: 100 }).flatMap((entry) => decodeExtentReleaseValue(entry.value).ranges.map((range) => [range.extentId, range.extentOffset, range.size]));
  apply(engine, appendExtents(engine, { ...now, ino: file, extents: [key(0, 65_539, 4, 73_728)] }));
  apply(engine, appendExtents(engine, { ...now, ino: file, extents: [key(65_539, 91_538, 6, 4096)] }));
  // The second append applied twice: its answer was lost and the client sent it again.
  const again = apply(engine, appendExtents(engine, { ...now, ino: file, extents: [key(65_539, 91_538, 6, 4096)] }));
  assert.equal(again.inode.size, 157_077);
  assert.deepEqual(getInode(engine, file).extents.map((extent) => [extent.fileOffset, extent.size, extent.extentId, extent.extentOffset]), [
    [0, 65_539, 4, 73_728],
    [65_539, 91_538, 6, 4096],
  ]);
  assert.deepEqual(queued(), [], 'bytes the file still refers to are not released');
  // A new key over the middle of the tiny one: exactly the covered bytes go.
  apply(engine, appendExtents(engine, { ...now, ino: file, extents: [key(1000, 500, 1024)] }));
  assert.deepEqual(queued(), [[4, 73_728 + 1000, 500]]);
});
