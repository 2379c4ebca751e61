import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalTinyExtents, planRepair, type ReplicaExtent, type ReplicaReport } from './repair-plan.js';

const blockBytes = 100;

function replica(nodeId: number, extents: Record<number, Partial<ReplicaExtent> & { size: number }>, deleted: number[] = [], writtenIndex = 10): ReplicaReport {
  const map = new Map<number, ReplicaExtent>();
  for (const [id, extent] of Object.entries(extents)) {
    const blocks = Math.ceil(extent.size / blockBytes);
    map.set(Number(id), { tiny: false, badBlocks: [], blockCrcs: extent.blockCrcs ?? Array.from({ length: blocks }, (_, block) => 1000 + block), ...extent });
  }
  return { nodeId, address: `n${nodeId}`, extents: map, deleted: new Set(deleted), writtenIndex };
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
  // 2 differs in size, 4 in a block (planned; with two reports, undecided), 3 is in flight, 1024 is not tiny.
  assert.deepEqual(equalTinyExtents(replicas, result, new Set([3]), 100), [1, 5]);
  assert.deepEqual(equalTinyExtents(replicas.slice(0, 2), plan(replicas.slice(0, 2)), new Set(), 100), [1, 3, 5]);
  assert.deepEqual(plan(replicas.slice(0, 2)).repairs.get(2), [{ extentId: 4, source: 'n1', targetSize: 0, blocks: [0, 1, 2], delete: false }], 'two copies that differ: the leader\'s wins');
  // A full list of repairs may have left some out: nothing is known equal.
  assert.deepEqual(equalTinyExtents(replicas, plan(replicas, [], 1), new Set(), 1), []);
});

test('an overwrite written on the leader alone is not undone by the older majority; the followers are compared once they wrote it', () => {
  // The leader applied overwrite 11 (block 1 changed); the followers are still at 10.
  const ahead = plan([
    replica(1, { 1024: { size: 250, blockCrcs: [1000, 77, 1002] } }, [], 11),
    replica(2, { 1024: { size: 250 } }, [], 10),
    replica(3, { 1024: { size: 250 } }, [], 10),
  ]);
  assert.deepEqual([...ahead.repairs.values()].flat(), [], 'the newer block is not replaced by the majority of older copies');
  assert.deepEqual([...ahead.complete].sort(), [1], 'the followers behind it are not complete until they wrote it');
  // One follower wrote it, the other not yet: nothing is copied to the lagging one either.
  const lagging = plan([
    replica(1, { 1024: { size: 250, blockCrcs: [1000, 77, 1002] } }, [], 11),
    replica(2, { 1024: { size: 250, blockCrcs: [1000, 77, 1002] } }, [], 11),
    replica(3, { 1024: { size: 250 } }, [], 10),
  ]);
  assert.deepEqual([...lagging.repairs.values()].flat(), []);
  assert.deepEqual([...lagging.complete].sort(), [1, 2], 'the lagging replica is not complete yet');
  // All at 11, and the third's write failed: it is copied from the majority.
  const failed = plan([
    replica(1, { 1024: { size: 250, blockCrcs: [1000, 77, 1002] } }, [], 11),
    replica(2, { 1024: { size: 250, blockCrcs: [1000, 77, 1002] } }, [], 11),
    replica(3, { 1024: { size: 250 } }, [], 11),
  ]);
  assert.deepEqual(failed.repairs.get(3), [{ extentId: 1024, source: 'n1', targetSize: 0, blocks: [1], delete: false }]);
});

test('copies at the newest index that all disagree: the leader\'s wins; the copy behind is left for later', () => {
  const result = plan([
    replica(1, { 1024: { size: 250, blockCrcs: [1000, 5, 1002] } }, [], 12),
    replica(2, { 1024: { size: 250, blockCrcs: [1000, 6, 1002] } }, [], 12),
    replica(3, { 1024: { size: 250 } }, [], 11),
  ]);
  assert.deepEqual(result.repairs.get(1), []);
  assert.deepEqual(result.repairs.get(2), [{ extentId: 1024, source: 'n1', targetSize: 0, blocks: [1], delete: false }]);
  assert.deepEqual(result.repairs.get(3), []);
  assert.deepEqual([...result.complete].sort(), [1, 2]);
  assert.deepEqual([...result.undecided], [1024], 'the copy behind is not compared yet');
  // Three copies at one index, three CRCs (a tiny extent after restarts): all take the leader's.
  const three = plan([
    replica(1, { 1024: { size: 250, blockCrcs: [1000, 5, 1002] } }, [], 12),
    replica(2, { 1024: { size: 250, blockCrcs: [1000, 6, 1002] } }, [], 12),
    replica(3, { 1024: { size: 250, blockCrcs: [1000, 7, 1002] } }, [], 12),
  ]);
  assert.deepEqual(three.repairs.get(3), [{ extentId: 1024, source: 'n1', targetSize: 0, blocks: [1], delete: false }]);
  assert.deepEqual([...three.complete].sort(), [1, 2, 3]);
});

test('a bad block is copied from a clean copy at its index or newer, never from one behind it; blocks from different sources go in separate repairs', () => {
  const result = plan([
    replica(1, { 1024: { size: 350, badBlocks: [1] } }, [], 12),
    replica(2, { 1024: { size: 350, badBlocks: [3] } }, [], 12),
    replica(3, { 1024: { size: 350 } }, [], 11),
  ]);
  // Block 1 on n1: the only clean copy at >= 12 is n2. Block 3 on n2: n1 (n3 is behind).
  assert.deepEqual(result.repairs.get(1), [{ extentId: 1024, source: 'n2', targetSize: 0, blocks: [1], delete: false }]);
  assert.deepEqual(result.repairs.get(2), [{ extentId: 1024, source: 'n1', targetSize: 0, blocks: [3], delete: false }]);
  const stranded = plan([
    replica(1, { 1024: { size: 250, badBlocks: [1] } }, [], 12),
    replica(2, { 1024: { size: 250 } }, [], 11),
    replica(3, { 1024: { size: 250 } }, [], 11),
  ]);
  assert.deepEqual(stranded.repairs.get(1), [], 'the clean copies may lack overwrite 12: not a source');
  assert.ok(!stranded.complete.has(1));
  const mixed = plan([
    replica(1, { 1024: { size: 350, badBlocks: [0, 3] } }, [], 12),
    replica(2, { 1024: { size: 350, badBlocks: [3] } }, [], 12),
    replica(3, { 1024: { size: 350, badBlocks: [0] } }, [], 13),
  ]);
  assert.deepEqual(mixed.repairs.get(1), [
    { extentId: 1024, source: 'n2', targetSize: 0, blocks: [0], delete: false },
    { extentId: 1024, source: 'n3', targetSize: 0, blocks: [3], delete: false },
  ]);
});
