import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { createRandom } from '../random/index.js';
import { crc32 } from './crc32.js';

test('crc32 of a known string is the IEEE value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test('crc32 agrees with zlib on random ranges of every length class, and chains', () => {
  const seed = 20261121;
  const random = createRandom(seed);
  const bytes = Buffer.alloc(4096);
  for (let index = 0; index < bytes.length; index++) bytes[index] = random.nextInt(256);
  for (let round = 0; round < 3000; round++) {
    const start = random.nextInt(bytes.length);
    const end = start + random.nextInt(Math.min(1024, bytes.length - start) + 1);
    const expected = zlibCrc32(bytes.subarray(start, end)) >>> 0;
    assert.equal(crc32(bytes, start, end), expected, `seed ${seed} round ${round}: [${start}, ${end})`);
    const middle = start + random.nextInt(end - start + 1);
    assert.equal(crc32(bytes, middle, end, crc32(bytes, start, middle)), expected, 'chained in two parts');
  }
});
