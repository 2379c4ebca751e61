// LmdbEngine.writeBatch: the writes of one run of log entries commit together (one LMDB
// transaction), reads inside see the batch's own writes, and a throw leaves nothing of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LmdbEngine } from './lmdb-engine.js';

const key = (text: string): Uint8Array => new TextEncoder().encode(text);
const value = (text: string): Uint8Array => new TextEncoder().encode(text);

test('lmdb writeBatch: reads see the batch, a reopen finds it all, a throw keeps none of it', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'atoll-lmdb-batch-'));
  try {
    let engine = await LmdbEngine.open(directory, { mapSizeBytes: 64 * 1024 * 1024 });
    const result = engine.writeBatch(() => {
      engine.write(1, [{ op: 'set', key: key('a'), value: value('1') }]);
      assert.deepEqual(Buffer.from(engine.get(key('a'))!), Buffer.from('1'));
      engine.write(2, [{ op: 'set', key: key('b'), value: value('2') }, { op: 'delete', key: key('a') }]);
      assert.equal(engine.get(key('a')), undefined);
      return 'done';
    });
    assert.equal(result, 'done');
    assert.equal(engine.appliedIndex, 2);
    await engine.close();
    engine = await LmdbEngine.open(directory, { mapSizeBytes: 64 * 1024 * 1024 });
    assert.equal(engine.appliedIndex, 2);
    assert.deepEqual(Buffer.from(engine.get(key('b'))!), Buffer.from('2'));

    assert.throws(() => engine.writeBatch(() => {
      engine.write(3, [{ op: 'set', key: key('c'), value: value('3') }]);
      throw new Error('apply failed');
    }), /apply failed/);
    assert.equal(engine.appliedIndex, 2);
    assert.equal(engine.get(key('c')), undefined);
    await engine.close();
    engine = await LmdbEngine.open(directory, { mapSizeBytes: 64 * 1024 * 1024 });
    assert.equal(engine.appliedIndex, 2);
    assert.equal(engine.get(key('c')), undefined);
    await engine.close();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('lmdb writeBatch: a write that fails inside a batch fails the whole batch, even when its throw is caught', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'atoll-lmdb-batch-'));
  try {
    let engine = await LmdbEngine.open(directory, { mapSizeBytes: 64 * 1024 * 1024 });
    engine.write(1, [{ op: 'set', key: key('a'), value: value('1') }]);
    // Unit-test stub: the records database refuses one key, as a full or broken disk would.
    const records = (engine as unknown as { records: { putSync(key: Uint8Array, value: Uint8Array): boolean } }).records;
    const putSync = records.putSync.bind(records);
    records.putSync = (recordKey: Uint8Array, recordValue: Uint8Array): boolean => {
      if (Buffer.from(recordKey).toString() === 'bad') throw new Error('disk refused');
      return putSync(recordKey, recordValue);
    };
    let caught: unknown;
    assert.throws(() => engine.writeBatch(() => {
      engine.write(2, [{ op: 'set', key: key('b'), value: value('2') }]);
      try {
        engine.write(3, [{ op: 'set', key: key('c'), value: value('3') }, { op: 'set', key: key('bad'), value: value('x') }]);
      } catch (error) {
        caught = error;
      }
      return 'finished anyway';
    }), /disk refused/);
    assert.match(String(caught), /disk refused/);
    assert.equal(engine.appliedIndex, 1);
    assert.equal(engine.get(key('b')), undefined);
    assert.equal(engine.get(key('c')), undefined);
    // The engine goes on: the next batch commits.
    engine.writeBatch(() => engine.write(2, [{ op: 'set', key: key('d'), value: value('4') }]));
    await engine.close();
    engine = await LmdbEngine.open(directory, { mapSizeBytes: 64 * 1024 * 1024 });
    assert.equal(engine.appliedIndex, 2);
    assert.equal(engine.get(key('b')), undefined);
    assert.deepEqual(Buffer.from(engine.get(key('d'))!), Buffer.from('4'));
    await engine.close();
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
