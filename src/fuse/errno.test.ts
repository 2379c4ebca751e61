import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { AtollError, StatusCode } from '../errors/index.js';
import { FuseError, errnoOf, isExpectedError } from './errno.js';

const { errno } = constants;

test('AtollErrors become the negative errno of their status', () => {
  assert.equal(errnoOf(new AtollError(StatusCode.NOT_FOUND)), -errno.ENOENT);
  assert.equal(errnoOf(new AtollError(StatusCode.NOT_EMPTY)), -errno.ENOTEMPTY);
  assert.equal(errnoOf(new AtollError(StatusCode.NO_SPACE)), -errno.ENOSPC);
  assert.equal(errnoOf(new AtollError(StatusCode.TIMEOUT)), -errno.ETIMEDOUT);
  assert.equal(errnoOf(new AtollError(StatusCode.STALE_HANDLE)), -errno.ESTALE);
});

test('Node-style codes and negative errno numbers map as node:fs errors carry them', () => {
  assert.equal(errnoOf(new FuseError('EACCES')), -errno.EACCES);
  assert.equal(errnoOf(Object.assign(new Error('x'), { code: 'ENODATA' })), -errno.ENODATA);
  assert.equal(errnoOf(Object.assign(new Error('x'), { errno: -errno.EXDEV })), -errno.EXDEV);
  assert.equal(isExpectedError(new FuseError('ENOENT')), true);
});

test('anything else is EIO and counts as unexpected', () => {
  for (const thrown of [new TypeError('bug'), Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' }), 'a string', undefined, new AtollError(StatusCode.OK)]) {
    assert.equal(errnoOf(thrown), -errno.EIO);
    assert.equal(isExpectedError(thrown), false);
  }
});
