import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatusCode, isAtollError } from '../errors/index.js';
import { DiskSpace, chooseDisk, roomOf } from './disk-space.js';

test('a new partition goes to the disk with the most room; none with room is NO_SPACE naming every disk', () => {
  assert.equal(chooseDisk([{ path: '/a', freeBytes: 10 }, { path: '/b', freeBytes: 30 }, { path: '/c', freeBytes: 20 }], 0), '/b');
  assert.throws(() => chooseDisk([{ path: '/a', freeBytes: -5 }, { path: '/b', freeBytes: 3 }], 4), (error) => isAtollError(error, StatusCode.NO_SPACE) && /\/a: 0 bytes free, \/b: 3 bytes free/.test(error.message));
});

test('room is the smaller of the device and the budget, less the reserve', () => {
  assert.equal(roomOf(1000, 0, 900, 100), 900);
  assert.equal(roomOf(1000, 500, 300, 100), 100);
  assert.equal(roomOf(100, 500, 0, 50), 50);
});

test('a budgeted disk fills with what its partitions hold and refuses a packet past it', async () => {
  const disk = await mkdtemp(join(tmpdir(), 'atoll-diskspace-'));
  try {
    const space = new DiskSpace({ disks: [disk], reservedBytes: 10, capacityBytes: 1000, refreshMs: 1000 });
    await space.refresh();
    let held = 500;
    const untrack = space.track(disk, () => held);
    assert.equal(space.roomOf(disk), 490);
    space.checkRoom('append', disk, 490);
    held = 900;
    assert.throws(() => space.checkRoom('append', disk, 100), (error) => isAtollError(error, StatusCode.NO_SPACE) && error.message.includes(`disk ${disk} is full`));
    untrack();
    assert.equal(space.roomOf(disk), 990);
    assert.throws(() => space.track('/elsewhere', () => 0), (error) => isAtollError(error, StatusCode.INVALID_ARGUMENT));
  } finally {
    await rm(disk, { recursive: true, force: true });
  }
});
