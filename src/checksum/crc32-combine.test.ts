import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { createRandom } from '../random/index.js';
import { crc32Combine } from './crc32-combine.js';

test('crc32Combine gives the CRC of the concatenation for random splits, empty parts included', () => {
  const seed = 20261122;
  const random = createRandom(seed);
  const bytes = Buffer.alloc(300_000);
  for (let index = 0; index < bytes.length; index++) bytes[index] = random.nextInt(256);
  for (let round = 0; round < 400; round++) {
    const start = random.nextInt(bytes.length);
    const end = start + random.nextInt(bytes.length - start + 1);
    const middle = start + random.nextInt(end - start + 1);
    const a = zlibCrc32(bytes.subarray(start, middle)) >>> 0;
    const b = zlibCrc32(bytes.subarray(middle, end)) >>> 0;
    assert.equal(crc32Combine(a, b, end - middle), zlibCrc32(bytes.subarray(start, end)) >>> 0, `seed ${seed} round ${round}: [${start}, ${middle}, ${end})`);
  }
});

test('crc32Combine chains whole 128 KiB blocks into the CRC of the whole, and of a megabyte of zeros', () => {
  const block = 128 * 1024;
  const random = createRandom(7);
  const bytes = Buffer.alloc(8 * block + 1000);
  for (let index = 0; index < bytes.length; index++) bytes[index] = random.nextInt(256);
  let crc = 0;
  for (let at = 0; at < bytes.length; at += block) {
    const part = bytes.subarray(at, Math.min(at + block, bytes.length));
    crc = crc32Combine(crc, zlibCrc32(part) >>> 0, part.length);
  }
  assert.equal(crc, zlibCrc32(bytes) >>> 0);
  const zeros = Buffer.alloc(1 << 20);
  assert.equal(crc32Combine(zlibCrc32(zeros) >>> 0, zlibCrc32(zeros) >>> 0, zeros.length), zlibCrc32(Buffer.alloc(2 << 20)) >>> 0);
});

test('crc32Combine refuses a length that is not a whole number of bytes', () => {
  assert.throws(() => crc32Combine(1, 2, -1), /whole number of bytes/);
  assert.throws(() => crc32Combine(1, 2, 1.5), /whole number of bytes/);
});
