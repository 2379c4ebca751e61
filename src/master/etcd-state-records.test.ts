// The state as etcd records: round trip, the writes between two states, their order and
// chunks, and orphans of a command cut short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkWrites, loadState, stateRecords, stateWrites, type LoadedRecord } from './etcd-state-records.js';
import { StateBuilder } from './testing/state-builder.js';

/** Six nodes and volume alpha with one meta and one data partition. */
function stateWithVolume(): StateBuilder {
  const builder = new StateBuilder();
  const metas = builder.metanodes(['h1', 'h2', 'h3']);
  const datas = builder.datanodes(['h1', 'h2', 'h3']);
  builder.volume('alpha');
  builder.metaPartition('alpha', metas);
  builder.dataPartition('alpha', datas);
  return builder;
}

function asLoaded(records: ReadonlyMap<string, string>, modRevision: (key: string) => number): LoadedRecord[] {
  return [...records].map(([key, value]) => ({ key, value, modRevision: modRevision(key) }));
}

test('records round-trip: the view version comes from the volume record\'s mod revision', () => {
  const state = stateWithVolume().build();
  const records = stateRecords(state);
  assert.ok(records.has('settings') && records.has('counters') && records.has('volumes/alpha') && records.has('nodes/1'));
  assert.equal(JSON.parse(records.get('volumes/alpha')!).viewVersion, undefined, 'the view version is not stored');
  const loaded = loadState(state.clusterName, asLoaded(records, (key) => (key === 'volumes/alpha' ? 42 : 7)), 50);
  assert.equal(loaded.state.appliedIndex, 50);
  assert.equal(loaded.state.volumes.alpha!.viewVersion, 42);
  assert.equal(loaded.countersModRevision, 7);
  assert.deepEqual(loaded.orphans, []);
  assert.deepEqual({ ...loaded.state, appliedIndex: 0, volumes: {} }, { ...state, appliedIndex: 0, volumes: {} });
  assert.deepEqual(stateRecords(loaded.state), records);
});

test('writes: changed, new and removed records, changed views rewritten, counters first and volumes around their partitions', () => {
  const before = stateWithVolume().build();
  const after = {
    ...before,
    nextPartitionId: before.nextPartitionId + 1,
    volumes: { beta: { ...before.volumes.alpha!, name: 'beta' } },
    partitions: Object.fromEntries(Object.entries(before.partitions).map(([id, partition]) => [id, { ...partition, volume: 'beta' }])),
  };
  const writes = stateWrites(stateRecords(before), stateRecords(after), new Set(['beta']));
  const keys = writes.map((write) => `${write.value === undefined ? '-' : '+'}${write.key}`);
  assert.equal(keys[0], '+counters');
  assert.equal(keys[1], '-volumes/alpha', 'a volume is deleted before its partitions change');
  assert.equal(keys[keys.length - 1], '+volumes/beta', 'a volume is put after its partitions');
  assert.equal(keys.filter((key) => key.startsWith('+partitions/')).length, Object.keys(before.partitions).length);
  // Nothing changed, but the view moved: the volume record is rewritten (its version moves).
  const same = stateRecords(after);
  assert.deepEqual(stateWrites(same, same, new Set(['beta'])).map((write) => write.key), ['volumes/beta']);
  assert.deepEqual(stateWrites(same, same, new Set()), []);
});

test('chunks keep to the operation and byte limits and keep the order', () => {
  const writes = Array.from({ length: 300 }, (_, index) => ({ key: `partitions/${index}`, value: 'x'.repeat(100) }));
  const byOps = chunkWrites(writes, 127, 1 << 20);
  assert.deepEqual(byOps.map((chunk) => chunk.length), [127, 127, 46]);
  assert.deepEqual(byOps.flat(), writes);
  const byBytes = chunkWrites(writes, 127, 2_000);
  assert.ok(byBytes.every((chunk) => chunk.length >= 1 && chunk.length <= 10));
  assert.deepEqual(byBytes.flat(), writes);
});

test('a partition whose volume is missing (a split command cut short) is left out and reported', () => {
  const records = stateRecords(stateWithVolume().build());
  records.delete('volumes/alpha');
  const loaded = loadState('atoll', asLoaded(records, () => 3), 9);
  assert.deepEqual(loaded.state.partitions, {});
  assert.ok(loaded.orphans.length > 0 && loaded.orphans.every((key) => key.startsWith('partitions/')));
  assert.ok(![...loaded.records.keys()].some((key) => key.startsWith('partitions/')));
});
