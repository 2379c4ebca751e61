import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusCode, isAtollError } from '../errors/index.js';
import { decodeOverwrite, encodeOverwrite } from './overwrite-command.js';

test('an overwrite command round-trips, with offsets past 4 GiB', () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const decoded = decodeOverwrite(encodeOverwrite({ extentId: 2 ** 40 + 3, offset: 5 * 2 ** 32 + 1, bytes }));
  assert.deepEqual({ ...decoded, bytes: [...decoded.bytes] }, { extentId: 2 ** 40 + 3, offset: 5 * 2 ** 32 + 1, bytes: [1, 2, 3] });
});

test('anything else is refused', () => {
  assert.throws(() => decodeOverwrite(new Uint8Array(5)), (error) => isAtollError(error, StatusCode.INTERNAL));
  const wrongKind = encodeOverwrite({ extentId: 1, offset: 0, bytes: new Uint8Array(0) });
  wrongKind[0] = 9;
  assert.throws(() => decodeOverwrite(wrongKind), (error) => isAtollError(error, StatusCode.INTERNAL));
});
