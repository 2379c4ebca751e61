import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatusCode, isAtollError } from '../errors/index.js';
import { DiskSpace, chooseDisk, diskUsage, roomOf } from './disk-space.js';

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

test("a disk's capacity and usage in heartbeats: the device or the smaller budget, less the reserve; used is what the room lacks", () => {
  // No budget: the device less the reserve; used is what the device holds.
  assert.deepEqual(diskUsage(1000, 300, 0, 50, 100), { capacityBytes: 900, usedBytes: 700 });
  // A budget smaller than the device: the partitions' bytes fill it.
  assert.deepEqual(diskUsage(1000, 900, 400, 150, 100), { capacityBytes: 300, usedBytes: 150 });
  // The device fuller than the budget says: the device's room wins.
  assert.deepEqual(diskUsage(1000, 150, 400, 10, 100), { capacityBytes: 300, usedBytes: 250 });
  // Over the budget or a reserve larger than the disk: clamped, never negative.
  assert.deepEqual(diskUsage(1000, 900, 400, 500, 100), { capacityBytes: 300, usedBytes: 300 });
  assert.deepEqual(diskUsage(50, 50, 0, 0, 100), { capacityBytes: 0, usedBytes: 0 });
});

test('the node usage sums its disks with their budget and reserve', async () => {
  const disks = [await mkdtemp(join(tmpdir(), 'atoll-diskspace-')), await mkdtemp(join(tmpdir(), 'atoll-diskspace-'))];
  try {
    const space = new DiskSpace({ disks, reservedBytes: 1000, capacityBytes: 1_000_000, refreshMs: 1000 });
    space.track(disks[0]!, () => 200_000);
    space.track(disks[1]!, () => 50_000);
    assert.deepEqual(await space.usage(), { capacityBytes: 2 * 999_000, usedBytes: 250_000 });
  } finally {
    for (const disk of disks) await rm(disk, { recursive: true, force: true });
  }
});
