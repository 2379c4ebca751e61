import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAtollError, StatusCode } from '../errors/index.js';
import { joinComponents, pathComponents, splitLast } from './paths.js';

test('paths split into components; bad paths are refused with a status', () => {
  assert.deepEqual(pathComponents('/a//b/./c/', 'stat'), ['a', 'b', 'c']);
  assert.deepEqual(pathComponents('a/../b', 'stat'), ['a', '..', 'b']);
  assert.deepEqual(pathComponents('/', 'stat'), []);
  assert.deepEqual(splitLast('/x/y', 'unlink'), { parent: ['x'], name: 'y' });
  assert.equal(joinComponents(['x', 'y']), '/x/y');
  assert.throws(() => pathComponents('', 'stat'), (error) => isAtollError(error, StatusCode.NOT_FOUND));
  assert.throws(() => pathComponents('a\0b', 'stat'), (error) => isAtollError(error, StatusCode.INVALID_ARGUMENT));
  assert.throws(() => pathComponents(7, 'stat'), (error) => isAtollError(error, StatusCode.INVALID_ARGUMENT));
  assert.throws(() => pathComponents(`/${'n'.repeat(256)}`, 'stat'), (error) => isAtollError(error, StatusCode.NAME_TOO_LONG));
  assert.throws(() => splitLast('/', 'unlink'), (error) => isAtollError(error, StatusCode.INVALID_ARGUMENT));
  assert.throws(() => splitLast('/a/..', 'unlink'), (error) => isAtollError(error, StatusCode.INVALID_ARGUMENT));
});
