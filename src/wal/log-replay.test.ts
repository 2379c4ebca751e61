import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordType } from './format.js';
import { LogReplay } from './log-replay.js';
import type { WalRecord } from './record.js';
import { entriesFrom } from './testing/wal-suite.js';

const where = (): string => 'test';

function replay(records: WalRecord[]): LogReplay {
  const log = new LogReplay();
  for (const record of records) log.apply(record, where);
  return log;
}

const entries = (groupId: number, first: number, count: number, term: number): WalRecord[] =>
  entriesFrom(first, count, term).map((entry) => ({ type: RecordType.Entry, groupId, entry }));
const mark = (groupId: number, index: number, term: number, keepsEntriesAbove: boolean): WalRecord => ({ type: RecordType.SnapshotMark, groupId, index, term, keepsEntriesAbove });

test('entries starting above the log are accepted when a later snapshot mark covers the hole', () => {
  // The segment with entries 1..10 was deleted once the mark at 12 was durable.
  const recovered = replay([...entries(1, 11, 5, 1), mark(1, 12, 1, true)]).finish();
  assert.deepEqual(recovered.get(1)!.entries.map((entry) => entry.index), [13, 14, 15]);
});

test('a hole that no snapshot mark covers is refused as a lost segment', () => {
  assert.throws(() => replay([...entries(1, 11, 5, 1), mark(1, 8, 1, true)]).finish(), /entries below index 11 are missing .* a segment was lost/);
  assert.throws(() => replay([...entries(1, 1, 3, 1), ...entries(1, 6, 2, 1)]).finish(), /entries below index 6 are missing/);
});

test('a mark that replaced the whole log makes an earlier hole irrelevant', () => {
  const recovered = replay([...entries(1, 11, 3, 1), mark(1, 5, 2, false), ...entries(1, 6, 2, 2)]).finish();
  assert.deepEqual(recovered.get(1)!.entries.map((entry) => [entry.index, entry.term]), [[6, 2], [7, 2]]);
  assert.deepEqual(recovered.get(1)!.snapshot, { index: 5, term: 2 });
});

test('a snapshot mark that goes back, or keeps a log it does not match, is refused', () => {
  assert.throws(() => replay([mark(1, 10, 1, false), mark(1, 9, 1, true)]), /goes back from 10/);
  assert.throws(() => replay([...entries(1, 1, 5, 1), mark(1, 3, 2, true)]), /whose entry 3 has term 1/);
});
