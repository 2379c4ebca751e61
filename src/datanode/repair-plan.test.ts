import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalTinyExtents, planRepair, type ReplicaExtent, type ReplicaReport } from './repair-plan.js';

const blockBytes = 100;

function replica(nodeId: number, extents: Record<number, Partial<ReplicaExtent> & { size: number }>, deleted: number[] = []): ReplicaReport {
  const map = new Map<number, ReplicaExtent>();
  for (const [id, extent] of Object.entries(extents)) {
    const blocks = Math.ceil(extent.size / blockBytes);
    map.set(Number(id), { tiny: false, badBlocks: [], blockCrcs: extent.blockCrcs ?? Array.from({ length: blocks }, (_, block) => 1000 + block), ...extent });
  }
  return { nodeId, address: `n${nodeId}`, extents: map, deleted: new Set(deleted) };
}

const plan = (replicas: ReplicaReport[], busy: number[] = [], extentsPerReplicaMax = 100) => planRepair({ leaderNodeId: 1, replicas, blockBytes, busyExtents: new Set(busy), extentsPerReplicaMax });

test('replicas that agree need nothing and are complete', () => {
  const result = plan([replica(1, { 1024: { size: 250 } }), replica(2, { 1024: { size: 250 } }), replica(3, { 1024: { size: 250 } })]);
  assert.deepEqual([...result.repairs.values()].flat(), []);
  assert.deepEqual([...result.complete].sort(), [1, 2, 3]);
});

test('a short or missing copy appends the tail from the longest copy, the leader itself included', () => {
  const result = plan([replica(1, { 1024: { size: 150 } }), replica(2, { 1024: { size: 250 } }), replica(3, {})]);
  assert.deepEqual(result.repairs.get(1), [{ extentId: 1024, source: 'n2', targetSize: 250, blocks: [], delete: false }]);
  assert.deepEqual(result.repairs.get(2), []);
  assert.deepEqual(result.repairs.get(3), [{ extentId: 1024, source: 'n2', targetSize: 250, blocks: [], delete: false }]);
});

test('a block that differs from the majority, or failed its CRC, is copied from a clean majority copy', () => {
  const result = plan([
    replica(1, { 1024: { size: 250, badBlocks: [2] } }),
    replica(2, { 1024: { size: 250, blockCrcs: [1000, 9, 1002] } }),
    replica(3, { 1024: { size: 250 } }),
  ]);
  assert.deepEqual(result.repairs.get(1), [{ extentId: 1024, source: 'n2', targetSize: 0, blocks: [2], delete: false }]);
  assert.deepEqual(result.repairs.get(2), [{ extentId: 1024, source: 'n1', targetSize: 0, blocks: [1], delete: false }]);
  assert.deepEqual(result.repairs.get(3), []);
});

test('a partial last block of a short copy is not compared; it is continued by the tail', () => {
  const result = plan([replica(1, { 1024: { size: 250 } }), replica(2, { 1024: { size: 230, blockCrcs: [1000, 1001, 77] } })]);
  assert.deepEqual(result.repairs.get(2), [{ extentId: 1024, source: 'n1', targetSize: 250, blocks: [], delete: false }]);
});

test('an extent deleted anywhere is deleted everywhere', () => {
  const result = plan([replica(1, {}, [1024]), replica(2, { 1024: { size: 10 } }), replica(3, {})]);
  assert.deepEqual(result.repairs.get(2), [{ extentId: 1024, source: '', targetSize: 0, blocks: [], delete: true }]);
  assert.deepEqual(result.repairs.get(3), []);
});

test('a live stream is left alone, and a replica that differs on it is not complete', () => {
  const result = plan([replica(1, { 1024: { size: 250 } }), replica(2, { 1024: { size: 100 } }), replica(3, { 1024: { size: 250 } })], [1024]);
  assert.deepEqual([...result.repairs.values()].flat(), []);
  assert.deepEqual([...result.complete].sort(), [1, 3]);
});

test('repairs per replica are capped per round; the rest wait and the replica is not complete', () => {
  const result = plan([replica(1, { 1024: { size: 10 }, 1025: { size: 10 } }), replica(2, {})], [], 1);
  assert.equal(result.repairs.get(2)!.length, 1);
  assert.deepEqual([...result.complete], [1]);
});

test('tiny extents open only where every replica has the same size and nothing is planned or in flight', () => {
  const tiny = (size: number, extra: Partial<ReplicaExtent> = {}) => ({ size, tiny: true, ...extra });
  const replicas = [
    replica(1, { 1: tiny(8192), 2: tiny(4096), 3: tiny(100), 4: tiny(300), 5: tiny(0), 1024: { size: 10 } }),
    replica(2, { 1: tiny(8192), 2: tiny(5000), 3: tiny(100), 4: tiny(300, { blockCrcs: [7, 8, 9] }), 5: tiny(0), 1024: { size: 10 } }),
    replica(3, { 1: tiny(8192), 2: tiny(4096), 3: tiny(100), 4: tiny(300), 5: tiny(0), 1024: { size: 10 } }),
  ];
  const result = plan(replicas);
  // 2 differs in size, 4 in a block (planned), 3 is in flight, 1024 is not tiny.
  assert.deepEqual(equalTinyExtents(replicas, result, new Set([3]), 100), [1, 5]);
  assert.deepEqual(equalTinyExtents(replicas.slice(0, 2), plan(replicas.slice(0, 2)), new Set(), 100), [1, 3, 5]);
  // A full list of repairs may have left some out: nothing is known equal.
  assert.deepEqual(equalTinyExtents(replicas, plan(replicas, [], 1), new Set(), 1), []);
});
