import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftAssertionError } from './assert.js';
import { RaftLog } from './log.js';
import { MemoryStorage } from './memory-storage.js';
import { StorageError } from './storage.js';
import type { Entry, LogIndex, NodeId, Term } from './types.js';
import { EntryType } from './types.js';

function entry(index: number, term: number, bytes = 0): Entry {
  return { index: index as LogIndex, term: term as Term, type: EntryType.Normal, data: new Uint8Array(bytes) };
}

function logWith(stored: Entry[], unstable: Entry[] = []): RaftLog {
  const storage = new MemoryStorage({ confState: { voters: [1 as NodeId], learners: [] } });
  storage.append(stored);
  const log = new RaftLog(storage, 1 << 20);
  log.append(unstable);
  return log;
}

const terms = (entries: readonly Entry[]): number[] => entries.map((each) => each.term);

test('terms come from storage and from the unstable tail alike', () => {
  const log = logWith([entry(1, 1), entry(2, 1)], [entry(3, 2)]);
  assert.equal(log.term(2 as LogIndex), 1);
  assert.equal(log.term(3 as LogIndex), 2);
  assert.equal(log.term(4 as LogIndex), undefined);
  assert.equal(log.lastIndex(), 3);
  assert.equal(log.lastTerm(), 2);
});

test('maybeAppend refuses when the previous entry does not match (§5.3)', () => {
  const log = logWith([entry(1, 1), entry(2, 2)]);
  assert.equal(log.maybeAppend(2 as LogIndex, 1 as Term, 0 as LogIndex, [entry(3, 3)]), undefined);
  assert.equal(log.maybeAppend(3 as LogIndex, 2 as Term, 0 as LogIndex, [entry(4, 3)]), undefined);
  assert.equal(log.lastIndex(), 2);
});

test('maybeAppend replaces a conflicting suffix and commits up to the last new entry', () => {
  const log = logWith([entry(1, 1), entry(2, 1), entry(3, 1)]);
  const lastNew = log.maybeAppend(1 as LogIndex, 1 as Term, 10 as LogIndex, [entry(2, 2)]);
  assert.equal(lastNew, 2);
  assert.equal(log.lastIndex(), 2);
  assert.deepEqual(terms(log.allEntries()), [1, 2]);
  // min(leader commit, last new index): never past what this message vouches for.
  assert.equal(log.committed, 2);
});

test('maybeAppend of entries already held changes nothing (duplicate delivery)', () => {
  const log = logWith([entry(1, 1), entry(2, 1), entry(3, 1)]);
  assert.equal(log.maybeAppend(0 as LogIndex, 0 as Term, 1 as LogIndex, [entry(1, 1), entry(2, 1)]), 2);
  assert.equal(log.lastIndex(), 3, 'a stale message must not truncate newer entries');
  assert.equal(log.committed, 1);
});

test('a conflict with a committed entry is a broken invariant', () => {
  const log = logWith([entry(1, 1), entry(2, 1)]);
  log.commitTo(2 as LogIndex);
  assert.throws(() => log.maybeAppend(1 as LogIndex, 1 as Term, 2 as LogIndex, [entry(2, 2)]), RaftAssertionError);
});

test('commit never decreases and never passes the last index', () => {
  const log = logWith([entry(1, 1), entry(2, 1)]);
  log.commitTo(2 as LogIndex);
  log.commitTo(1 as LogIndex);
  assert.equal(log.committed, 2);
  assert.throws(() => log.commitTo(3 as LogIndex), RaftAssertionError);
});

test('§5.4.2 maybeCommit commits only an entry of the given term', () => {
  const log = logWith([entry(1, 1), entry(2, 2)]);
  assert.equal(log.maybeCommit(2 as LogIndex, 3 as Term), false);
  assert.equal(log.committed, 0);
  assert.equal(log.maybeCommit(2 as LogIndex, 2 as Term), true);
  assert.equal(log.committed, 2);
});

test('isUpToDate compares last terms first, then lengths (§5.4.1)', () => {
  const log = logWith([entry(1, 1), entry(2, 2), entry(3, 2)]);
  assert.equal(log.isUpToDate(1 as LogIndex, 3 as Term), true, 'higher last term wins even if shorter');
  assert.equal(log.isUpToDate(3 as LogIndex, 2 as Term), true, 'same term and length');
  assert.equal(log.isUpToDate(2 as LogIndex, 2 as Term), false, 'same term, shorter');
  assert.equal(log.isUpToDate(9 as LogIndex, 1 as Term), false, 'lower last term loses even if longer');
});

test('findConflictByTerm skips back over entries of higher terms', () => {
  const log = logWith([entry(1, 1), entry(2, 1), entry(3, 4), entry(4, 4), entry(5, 5)]);
  assert.deepEqual(log.findConflictByTerm(5 as LogIndex, 3 as Term), { index: 2, term: 1 });
  assert.deepEqual(log.findConflictByTerm(5 as LogIndex, 4 as Term), { index: 4, term: 4 });
  assert.deepEqual(log.findConflictByTerm(5 as LogIndex, 0 as Term), { index: 0, term: 0 });
});

test('slice joins storage and unstable parts and respects the byte limit', () => {
  const log = logWith([entry(1, 1, 100), entry(2, 1, 100)], [entry(3, 1, 100), entry(4, 1, 100)]);
  assert.deepEqual(log.slice(1 as LogIndex, 5 as LogIndex, 10_000).map((each) => each.index), [1, 2, 3, 4]);
  assert.deepEqual(log.slice(2 as LogIndex, 5 as LogIndex, 300).map((each) => each.index), [2, 3]);
  assert.deepEqual(log.slice(3 as LogIndex, 5 as LogIndex, 1).map((each) => each.index), [3]);
});

test('slice below the first index reports compaction so the leader sends a snapshot', () => {
  const storage = new MemoryStorage();
  storage.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
  storage.createSnapshot(2 as LogIndex, { voters: [1 as NodeId], learners: [] }, new Uint8Array());
  storage.compact(2 as LogIndex);
  const log = new RaftLog(storage, 1 << 20);
  assert.throws(() => log.slice(2 as LogIndex, 4 as LogIndex, 100), StorageError);
  assert.equal(log.term(2 as LogIndex), 1, 'the term at the compaction point stays known');
  assert.equal(log.term(1 as LogIndex), undefined);
});

test('stableTo forgets persisted entries, but not ones replaced since the Ready was taken', () => {
  const log = logWith([], [entry(1, 1), entry(2, 1)]);
  log.unstable.stableTo(1 as LogIndex, 1 as Term);
  assert.deepEqual(log.unstableEntries().map((each) => each.index), [2]);
  log.append([entry(2, 2)]);
  log.unstable.stableTo(2 as LogIndex, 1 as Term);
  assert.deepEqual(terms(log.unstableEntries()), [2], 'the replacement must still be persisted');
});

test('committed entries to apply stop at the byte limit and resume after applied', () => {
  const storage = new MemoryStorage();
  storage.append([entry(1, 1, 100), entry(2, 1, 100), entry(3, 1, 100)]);
  const log = new RaftLog(storage, 250);
  log.commitTo(3 as LogIndex);
  assert.deepEqual(log.nextCommittedEntries().map((each) => each.index), [1, 2]);
  log.appliedTo(2 as LogIndex);
  assert.deepEqual(log.nextCommittedEntries().map((each) => each.index), [3]);
  assert.throws(() => log.appliedTo(4 as LogIndex), RaftAssertionError);
});

test('restore makes the snapshot committed and hides committed entries until it is applied', () => {
  const log = logWith([entry(1, 1)]);
  log.restore({ metadata: { index: 5 as LogIndex, term: 2 as Term, confState: { voters: [1 as NodeId], learners: [] } }, data: new Uint8Array() });
  assert.equal(log.committed, 5);
  assert.equal(log.firstIndex(), 6);
  assert.equal(log.lastIndex(), 5);
  assert.equal(log.term(5 as LogIndex), 2);
  assert.equal(log.hasNextCommittedEntries(), false);
});
