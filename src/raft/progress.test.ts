import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress, ProgressState } from './progress.js';
import type { LogIndex } from './types.js';

function progress(match: number, next: number): Progress {
  const created = new Progress(next as LogIndex, 2, 1000, false);
  created.match = match as LogIndex;
  return created;
}

test('a probe pauses sending until it is answered', () => {
  const member = progress(0, 5);
  assert.equal(member.isPaused(), false);
  member.sentEntries(3, 30);
  assert.equal(member.isPaused(), true);
  assert.equal(member.next, 5, 'probing does not advance next optimistically');
  assert.equal(member.maybeUpdate(7 as LogIndex), true);
  assert.equal(member.isPaused(), false);
  assert.equal(member.next, 8);
});

test('replicating advances next optimistically and pauses when the window is full', () => {
  const member = progress(4, 5);
  member.becomeReplicate();
  member.sentEntries(2, 20);
  assert.equal(member.next, 7);
  assert.equal(member.isPaused(), false);
  member.sentEntries(1, 10);
  assert.equal(member.isPaused(), true, 'two messages fill a window of two');
});

test('a stale reject is ignored and a fresh one backs off to the hint', () => {
  const member = progress(0, 10);
  assert.equal(member.maybeDecreaseTo(5 as LogIndex, 3 as LogIndex), false, 'probe sent from 9, not 5');
  assert.equal(member.maybeDecreaseTo(9 as LogIndex, 3 as LogIndex), true);
  assert.equal(member.next, 4);
  assert.equal(member.maybeDecreaseTo(3 as LogIndex, 100 as LogIndex), true);
  assert.equal(member.next, 3, 'never above the rejected index');
});

test('in Replicate a reject at or below match is stale; above it, next falls back to match + 1', () => {
  const member = progress(5, 6);
  member.becomeReplicate();
  member.sentEntries(4, 40);
  assert.equal(member.maybeDecreaseTo(5 as LogIndex, 0 as LogIndex), false);
  assert.equal(member.maybeDecreaseTo(8 as LogIndex, 0 as LogIndex), true);
  assert.equal(member.next, 6);
});

test('leaving Snapshot state probes right after the snapshot', () => {
  const member = progress(3, 4);
  member.becomeSnapshot(20 as LogIndex);
  assert.equal(member.isPaused(), true);
  member.becomeProbe();
  assert.equal(member.state, ProgressState.Probe);
  assert.equal(member.next, 21);
});
