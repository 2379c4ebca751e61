import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BodyReader,
  ProtocolError,
  attrOutBytes,
  decodeHeader,
  decodeSetattr,
  decodeWrite,
  direntBytes,
  direntType,
  encodeAttrOut,
  encodeDirent,
  encodeEntryOut,
  encodeStatfsOut,
  entryOutBytes,
  inHeaderBytes,
  type KernelAttr,
} from './protocol.js';

const attr: KernelAttr = {
  ino: 2 ** 40 + 3,
  size: 5_000_000_000,
  blocks: 9,
  atimeNs: 1_000_000_000_000_000_001n,
  mtimeNs: 2_000_000_000_999_999_999n,
  ctimeNs: 3n,
  mode: 0o100644,
  nlink: 2,
  uid: 1000,
  gid: 1001,
  rdev: 0,
  blksize: 131072,
};

test('the reply structs have the kernel sizes and put every attribute field where fuse.h says', () => {
  assert.equal(entryOutBytes, 128);
  assert.equal(attrOutBytes, 104);
  const out = Buffer.alloc(entryOutBytes);
  encodeEntryOut(out, 0, 77, attr, 1.25, 0);
  assert.equal(out.readBigUInt64LE(0), 77n);
  assert.equal(out.readBigUInt64LE(16), 1n);
  assert.equal(out.readUInt32LE(32), 250_000_000);
  assert.equal(out.readBigUInt64LE(40), BigInt(2 ** 40 + 3), '64-bit inode numbers pass whole');
  assert.equal(out.readBigUInt64LE(48), 5_000_000_000n);
  assert.equal(out.readBigUInt64LE(64), 1_000_000_000n, 'atime seconds');
  assert.equal(out.readUInt32LE(88), 1, 'atime nanoseconds');
  assert.equal(out.readBigUInt64LE(72), 2_000_000_000n);
  assert.equal(out.readUInt32LE(92), 999_999_999);
  assert.deepEqual([out.readUInt32LE(100), out.readUInt32LE(104), out.readUInt32LE(108), out.readUInt32LE(112)], [0o100644, 2, 1000, 1001]);
  const attrOut = Buffer.alloc(attrOutBytes);
  encodeAttrOut(attrOut, 0, attr, 1);
  assert.equal(attrOut.readBigUInt64LE(16), BigInt(2 ** 40 + 3));
  const statfs = encodeStatfsOut({ blocks: 10, blocksFree: 4, blocksAvailable: 3, files: 100, filesFree: 50, blockBytes: 4096, nameBytesMax: 255 });
  assert.equal(statfs.length, 80);
  assert.deepEqual([statfs.readUInt32LE(40), statfs.readUInt32LE(44), statfs.readUInt32LE(48)], [4096, 255, 4096]);
});

test('directory entries are padded to 8 bytes and carry the file type', () => {
  assert.equal(direntBytes(1), 32);
  assert.equal(direntBytes(8), 32);
  assert.equal(direntBytes(9), 40);
  assert.equal(direntType(0o040755), 4);
  assert.equal(direntType(0o100644), 8);
  const out = Buffer.alloc(64, 0xff);
  assert.equal(encodeDirent(out, 0, 5, 1, Buffer.from('abc'), 4), 32);
  assert.equal(out.toString('utf8', 24, 27), 'abc');
  assert.ok(out.subarray(27, 32).every((byte) => byte === 0), 'padding is zeroed');
});

test('headers and bodies that do not add up are ProtocolErrors', () => {
  const header = Buffer.alloc(inHeaderBytes);
  header.writeUInt32LE(inHeaderBytes + 4, 0);
  assert.throws(() => decodeHeader(header, inHeaderBytes), ProtocolError);
  assert.throws(() => decodeHeader(header, 10), ProtocolError);
  header.writeUInt32LE(inHeaderBytes, 0);
  header.writeBigUInt64LE(2n ** 60n, 16);
  assert.throws(() => decodeHeader(header, inHeaderBytes), /beyond 2\^53/);
  assert.throws(() => new BodyReader(Buffer.from('name'), 0, 4).name(), /NUL/);
  assert.throws(() => new BodyReader(Buffer.alloc(4), 0, 4).u64(), ProtocolError);
  // A write whose size runs past the request.
  const write = Buffer.alloc(40);
  write.writeUInt32LE(100, 16);
  assert.throws(() => decodeWrite(new BodyReader(write, 0, 40)), ProtocolError);
});

test('setattr times come out in nanoseconds', () => {
  const body = Buffer.alloc(88);
  body.writeUInt32LE(48, 0);
  body.writeBigUInt64LE(1_234n, 32);
  body.writeBigUInt64LE(5_678n, 40);
  body.writeUInt32LE(9, 56);
  body.writeUInt32LE(999_999_999, 60);
  const decoded = decodeSetattr(new BodyReader(body, 0, 88));
  assert.equal(decoded.atimeNs, 1_234_000_000_009n);
  assert.equal(decoded.mtimeNs, 5_678_999_999_999n);
});
