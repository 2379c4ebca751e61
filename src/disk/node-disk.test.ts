import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatusCode } from '../errors/index.js';
import { NodeDisk } from './node-disk.js';
import { diskError } from './disk-error.js';
import { describeDiskContract } from './testing/disk-contract.js';

describeDiskContract('NodeDisk', async () => {
  const root = await mkdtemp(join(tmpdir(), 'atoll-disk-'));
  return { disk: new NodeDisk(), root, cleanup: () => rm(root, { recursive: true, force: true }) };
});

test('NodeDisk: errno codes become status codes and the message names action and path', () => {
  const full = diskError('append to', '/data/wal/0.log', Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
  assert.equal(full.status, StatusCode.NO_SPACE);
  assert.match(full.message, /^append to \/data\/wal\/0\.log: ENOSPC/);
  assert.equal(diskError('read', '/x', Object.assign(new Error('EIO'), { code: 'EIO' })).status, StatusCode.INTERNAL);
});
