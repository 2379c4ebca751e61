// A data partition on a real temporary disk: what repair must leave alone. An overwrite
// applied here (or one proposed by the leader) and a release of tiny ranges mark their
// extent busy for the idle period, so a repair round cannot take the other replicas'
// older copy of a block for the truth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartitionKind } from '../proto/generated/master.js';
import { DataPartition } from './data-partition.js';
import { DiskSpace } from './disk-space.js';
import { encodeOverwrite } from './overwrite-command.js';
import { buildDataNodeLimits } from './limits.js';
import { executeRepairs, type RepairDeps } from './repair-runner.js';
import { RepairSlots } from './repair-slots.js';
import { RepairThrottle } from './repair-throttle.js';

const idleMs = 200;

/** A data partition alone on a temporary disk, with repair rounds that do nothing. */
async function openPartition(partitionId: number): Promise<{ root: string; partition: DataPartition }> {
  const root = await mkdtemp(join(tmpdir(), 'atoll-data-partition-'));
  const diskSpace = new DiskSpace({ disks: [join(root, 'disk0')], reservedBytes: 0, capacityBytes: 0, refreshMs: 1_000 });
  const partition = await DataPartition.open(
    { kind: PartitionKind.PARTITION_DATA, partitionId, volume: 'v', inodeStart: 0, inodeEnd: 0, capacityBytes: 1 << 30, peers: [], bootstrap: true },
    join(root, 'partition'),
    diskSpace,
    { repairRound: async () => undefined, repairIntervalMs: 60_000, repairIdleMs: idleMs, packetBytesMax: 128 * 1024, extentBytesMax: 1 << 27 },
  );
  return { root, partition };
}

test('an applied overwrite, and a release, keep the extent busy for the idle period; then it is idle again', async () => {
  const { root, partition } = await openPartition(7);
  try {
    const extentId = await partition.store.createExtent();
    await partition.store.append(extentId, 0, new Uint8Array(8192).fill(1));
    const now = Date.now();
    assert.equal(partition.busyExtents(now).has(extentId), false, 'a store append alone marks nothing');
    const result = await partition.stateMachine.apply(1, encodeOverwrite({ extentId, offset: 100, bytes: new Uint8Array(50).fill(2) }));
    assert.equal(result, null);
    assert.equal(partition.busyExtents(Date.now()).has(extentId), true, 'busy after an applied overwrite');
    assert.deepEqual([...(await partition.store.read(extentId, 100, 50))], new Array(50).fill(2));
    assert.equal(partition.busyExtents(Date.now() + idleMs).has(extentId), false, 'idle again after repairIdleMs');
    partition.markBusy([extentId], Date.now());
    assert.equal(partition.busyExtents(Date.now()).has(extentId), true, 'busy after a release');
  } finally {
    await partition.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('writtenIndex: the applied index when no overwrite is in flight, else the last one written, with the block CRCs to match', async () => {
  const { root, partition } = await openPartition(8);
  let applied = 0;
  partition.attach({ partitionId: 8, nodeId: 1, appliedIndex: () => applied } as never);
  try {
    const extentId = await partition.store.createExtent();
    await partition.store.append(extentId, 0, new Uint8Array(8192).fill(1));
    applied = 4;
    assert.equal(partition.writtenIndex(), 4, 'nothing in flight: the applied index');
    const crcsBefore = [...partition.store.blockCrcs(extentId)];
    // Apply 5 and 6 back to back: while they are written, the index stays at the last one done.
    applied = 6;
    const fifth = partition.stateMachine.apply(5, encodeOverwrite({ extentId, offset: 0, bytes: new Uint8Array(100).fill(5) })) as Promise<unknown>;
    const sixth = partition.stateMachine.apply(6, encodeOverwrite({ extentId, offset: 4096, bytes: new Uint8Array(100).fill(6) })) as Promise<unknown>;
    assert.equal(partition.writtenIndex(), 0, 'no overwrite written yet since the start');
    assert.deepEqual([...partition.store.blockCrcs(extentId)], crcsBefore, 'and the CRCs are those before both');
    await fifth;
    // The sixth's write is file I/O queued behind the fifth: it cannot have finished yet.
    assert.equal(partition.writtenIndex(), 5);
    assert.notDeepEqual([...partition.store.blockCrcs(extentId)], crcsBefore, 'the CRCs include the fifth');
    await sixth;
    assert.equal(partition.writtenIndex(), 6);
    applied = 9;
    assert.equal(partition.writtenIndex(), 9, 'entries after them that wrote nothing: the applied index again');
  } finally {
    await partition.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('a repair that deletes an extent a client is deleting at the same moment succeeds', async () => {
  const { root, partition } = await openPartition(9);
  try {
    const extentId = await partition.store.createExtent();
    await partition.store.append(extentId, 0, new Uint8Array(4096).fill(3));
    // The client's delete is queued on the store first; the repair finds the extent still listed.
    const clientDelete = partition.store.deleteExtent(extentId);
    const deps = { slots: new RepairSlots(1), throttle: new RepairThrottle(1 << 30), limits: buildDataNodeLimits() } as unknown as RepairDeps;
    const repaired = executeRepairs(partition, [{ extentId, source: '', targetSize: 0, blocks: [], delete: true }], deps);
    await clientDelete;
    assert.equal(await repaired, 0);
    assert.equal(partition.store.hasExtent(extentId), false);
  } finally {
    await partition.close();
    await rm(root, { recursive: true, force: true });
  }
});
