// The state digest replicas compare: equal records give equal digests on either engine,
// any difference in the records changes it, and writes during the hash do not show in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KvEngine, KvMutation } from './kv-engine.js';
import { LmdbEngine } from './lmdb-engine.js';
import { MemoryEngine } from './memory-engine.js';
import { hashKvState } from './state-hash.js';

const set = (key: string, value: string): KvMutation => ({ op: 'set', key: Buffer.from(key), value: Buffer.from(value) });
const del = (key: string): KvMutation => ({ op: 'delete', key: Buffer.from(key) });

async function withEngines(body: (memory: KvEngine, lmdb: KvEngine) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'atoll-state-hash-'));
  const lmdb = await LmdbEngine.open(directory, { mapSizeBytes: 64 * 1024 * 1024 });
  const memory = new MemoryEngine();
  try {
    await body(memory, lmdb);
  } finally {
    await lmdb.close();
    await memory.close();
    await rm(directory, { recursive: true, force: true });
  }
}

const hashOf = async (engine: KvEngine, recordsPerSlice?: number) => hashKvState(engine.snapshotView(), recordsPerSlice);

test('the same records give the same digest on the memory and the LMDB engine, whatever the history and the applied index', async () => {
  await withEngines(async (memory, lmdb) => {
    // Different batches and indexes, same final records.
    memory.write(1, [set('b', '2'), set('a', '1'), set('c', 'x')]);
    memory.write(2, [del('c')]);
    lmdb.write(7, [set('a', '1')]);
    lmdb.write(9, [set('b', '2')]);
    const [fromMemory, fromLmdb] = [await hashOf(memory), await hashOf(lmdb)];
    assert.equal(fromMemory.hash, fromLmdb.hash);
    assert.equal(fromMemory.records, 2);
    assert.equal(fromMemory.appliedIndex, 2);
    assert.equal(fromLmdb.appliedIndex, 9);
    assert.match(fromMemory.hash, /^[0-9a-f]{64}$/);
    // Hashed in slices of one record: the same digest.
    assert.equal((await hashOf(lmdb, 1)).hash, fromLmdb.hash);
  });
});

test('any difference in the records changes the digest: a value, a key, a missing record, the key/value boundary', async () => {
  const digest = async (mutations: KvMutation[]) => {
    const engine = new MemoryEngine();
    engine.write(1, mutations);
    return (await hashOf(engine)).hash;
  };
  const base = await digest([set('a', '1'), set('b', '2')]);
  const variants = [
    await digest([set('a', '1'), set('b', '3')]),
    await digest([set('a', '1'), set('c', '2')]),
    await digest([set('a', '1')]),
    await digest([set('ab', ''), set('b', '2')]),
    await digest([set('a', '12'), set('b', '')]),
    await digest([]),
  ];
  for (const variant of variants) assert.notEqual(variant, base);
  assert.equal(new Set(variants).size, variants.length);
  assert.equal(await digest([set('b', '2'), set('a', '1')]), base, 'the order of writes does not matter');
});

test('writes made while the hash runs (between its slices) do not show in it', async () => {
  await withEngines(async (memory, lmdb) => {
    for (const engine of [memory, lmdb]) {
      const mutations: KvMutation[] = [];
      for (let index = 0; index < 50; index++) mutations.push(set(`k${String(index).padStart(3, '0')}`, `v${index}`));
      engine.write(10, mutations);
      const before = await hashOf(engine);
      const running = hashKvState(engine.snapshotView(), 5);
      // The hash yields after each slice; these writes land between slices.
      await new Promise((resolve) => setImmediate(resolve));
      engine.write(11, [set('k000', 'changed'), del('k049'), set('k100', 'new')]);
      const during = await running;
      assert.equal(during.hash, before.hash, `${engine.kind}: the view is the state when the hash began`);
      assert.equal(during.appliedIndex, 10);
      assert.notEqual((await hashOf(engine)).hash, before.hash, `${engine.kind}: a later hash sees the writes`);
    }
  });
});
