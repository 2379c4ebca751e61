import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import type { DataPartition } from './data-partition.js';
import { buildDataNodeLimits } from './limits.js';
import { executeRepairs, type RepairDeps } from './repair-runner.js';
import { RepairSlots } from './repair-slots.js';
import { RepairThrottle } from './repair-throttle.js';

function overloaded(partitionId: number, inFlight: number, max: number) {
  return (error: unknown): boolean => {
    assert.ok(isAtollError(error, StatusCode.OVERLOADED), String(error));
    assert.equal((error as Error).message, `repair of data partition ${partitionId} refused: ${inFlight} repairs in flight (repairs-in-flight-max ${max}); the next repair round tries again`);
    return true;
  };
}

test('repairs beyond repairs-in-flight-max are refused with OVERLOADED; a finished or failed one frees its slot', async () => {
  const slots = new RepairSlots(2);
  const releases: Array<() => void> = [];
  const hold = () => new Promise<string>((resolve) => releases.push(() => resolve('done')));
  const first = slots.run(1, hold);
  const second = slots.run(2, hold);
  assert.equal(slots.inFlight, 2);
  await assert.rejects(slots.run(3, hold), overloaded(3, 2, 2));
  assert.equal(releases.length, 2, 'the refused repair never started');
  releases[0]!();
  assert.equal(await first, 'done');
  const third = slots.run(3, hold);
  assert.equal(slots.inFlight, 2);
  await assert.rejects(slots.run(4, async () => 'never'), overloaded(4, 2, 2));
  releases[1]!();
  releases[2]!();
  assert.deepEqual(await Promise.all([second, third]), ['done', 'done']);
  await assert.rejects(slots.run(5, async () => { throw new Error('disk gone'); }), /disk gone/);
  assert.equal(slots.inFlight, 0, 'a failed repair gives its slot back');
  assert.throws(() => new RepairSlots(0), /positive integer/);
});

test('executeRepairs takes a slot of the node before touching the partition', async () => {
  const slots = new RepairSlots(1);
  let release!: () => void;
  const busy = slots.run(1, () => new Promise<void>((resolve) => (release = resolve)));
  // Only partitionId may be read before the slot is granted.
  const partition = new Proxy({ partitionId: 9 }, {
    get(target, property) {
      assert.equal(property, 'partitionId', `partition.${String(property)} read without a slot`);
      return target.partitionId;
    },
  }) as unknown as DataPartition;
  const deps = { slots, throttle: new RepairThrottle(1), limits: buildDataNodeLimits() } as unknown as RepairDeps;
  await assert.rejects(executeRepairs(partition, [], deps), overloaded(9, 1, 1));
  release();
  await busy;
});
