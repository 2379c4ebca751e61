import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kvKeyBytesMax } from '../store/limits.js';
import { keyId } from './operation.js';

test('keyId maps every byte to one char, so different keys never share an id, up to the longest key', () => {
  const all = Uint8Array.from({ length: 256 }, (_, byte) => byte);
  const id = keyId(all);
  assert.equal(id.length, 256);
  for (let byte = 0; byte < 256; byte++) assert.equal(id.charCodeAt(byte), byte);
  assert.notEqual(keyId(Uint8Array.of(1, 2)), keyId(Uint8Array.of(1, 2, 0)));
  assert.equal(keyId(new Uint8Array(0)), '');
  const longest = new Uint8Array(kvKeyBytesMax).fill(0xff);
  assert.equal(keyId(longest).length, kvKeyBytesMax);
  // A view into a larger buffer: only its own bytes.
  assert.equal(keyId(all.subarray(10, 13)), '\u000a\u000b\u000c');
});
