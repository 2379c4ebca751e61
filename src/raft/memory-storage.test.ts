import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftAssertionError } from './assert.js';
import { MemoryStorage } from './memory-storage.js';
import { StorageError, StorageErrorCode } from './storage.js';
import type { Entry, LogIndex, NodeId, Term } from './types.js';
import { EntryType } from './types.js';

function entry(index: number, term: number, bytes = 0): Entry {
  return { index: index as LogIndex, term: term as Term, type: EntryType.Normal, data: new Uint8Array(bytes) };
}

function storageWith(...entries: Entry[]): MemoryStorage {
  const storage = new MemoryStorage({ confState: { voters: [1 as NodeId], learners: [] } });
  storage.append(entries);
  return storage;
}

function storageCode(action: () => unknown): StorageErrorCode {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof StorageError);
    return error.code;
  }
  assert.fail('expected a StorageError');
}

test('an empty storage starts at index 1 with the snapshot term 0 at index 0', () => {
  const storage = new MemoryStorage();
  assert.equal(storage.firstIndex(), 1);
  assert.equal(storage.lastIndex(), 0);
  assert.equal(storage.term(0 as LogIndex), 0);
  assert.equal(storageCode(() => storage.term(1 as LogIndex)), StorageErrorCode.Unavailable);
});

test('append overwrites a conflicting suffix and keeps the prefix', () => {
  const storage = storageWith(entry(1, 1), entry(2, 1), entry(3, 1));
  storage.append([entry(2, 2)]);
  assert.equal(storage.lastIndex(), 2);
  assert.equal(storage.term(2 as LogIndex), 2);
  assert.equal(storage.term(1 as LogIndex), 1);
});

test('append refuses a gap after the last index', () => {
  const storage = storageWith(entry(1, 1));
  assert.throws(() => storage.append([entry(3, 1)]), RaftAssertionError);
});

test('entries honours bytesMax but always returns at least one entry', () => {
  const storage = storageWith(entry(1, 1, 100), entry(2, 1, 100), entry(3, 1, 100));
  assert.equal(storage.entries(1 as LogIndex, 4 as LogIndex, Number.MAX_SAFE_INTEGER).length, 3);
  assert.equal(storage.entries(1 as LogIndex, 4 as LogIndex, 260).length, 2);
  assert.equal(storage.entries(1 as LogIndex, 4 as LogIndex, 1).length, 1);
});

test('compaction discards covered entries and keeps the term of the compaction point', () => {
  const storage = storageWith(entry(1, 1), entry(2, 2), entry(3, 3));
  storage.createSnapshot(2 as LogIndex, { voters: [1 as NodeId], learners: [] }, new Uint8Array([7]));
  storage.compact(2 as LogIndex);
  assert.equal(storage.firstIndex(), 3);
  assert.equal(storage.term(2 as LogIndex), 2);
  assert.equal(storageCode(() => storage.term(1 as LogIndex)), StorageErrorCode.Compacted);
  assert.equal(storageCode(() => storage.entries(2 as LogIndex, 4 as LogIndex, 1000)), StorageErrorCode.Compacted);
  assert.deepEqual(storage.entries(3 as LogIndex, 4 as LogIndex, 1000).map((each) => each.index), [3]);
  assert.equal(storage.snapshot().metadata.index, 2);
  assert.equal(storage.snapshot().metadata.term, 2);
});

test('compaction beyond the snapshot is refused: entries must stay covered', () => {
  const storage = storageWith(entry(1, 1), entry(2, 1));
  assert.throws(() => storage.compact(1 as LogIndex), RaftAssertionError);
});

test('applying a snapshot replaces the log and an older snapshot is refused', () => {
  const storage = storageWith(entry(1, 1), entry(2, 1));
  const snapshot = { metadata: { index: 10 as LogIndex, term: 4 as Term, confState: { voters: [1 as NodeId, 2 as NodeId], learners: [] } }, data: new Uint8Array() };
  storage.applySnapshot(snapshot);
  assert.equal(storage.firstIndex(), 11);
  assert.equal(storage.lastIndex(), 10);
  assert.equal(storage.term(10 as LogIndex), 4);
  assert.deepEqual(storage.initialState().confState.voters, [1, 2]);
  assert.equal(storageCode(() => storage.applySnapshot(snapshot)), StorageErrorCode.SnapshotOutOfDate);
  storage.append([entry(11, 4)]);
  assert.equal(storage.lastIndex(), 11);
});

test('append ignores entries at or below the compaction point', () => {
  const storage = storageWith(entry(1, 1), entry(2, 1), entry(3, 1));
  storage.createSnapshot(2 as LogIndex, { voters: [1 as NodeId], learners: [] }, new Uint8Array());
  storage.compact(2 as LogIndex);
  storage.append([entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)]);
  assert.equal(storage.firstIndex(), 3);
  assert.equal(storage.lastIndex(), 4);
});
