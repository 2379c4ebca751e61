import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VoteResult, majorityCommittedIndex, majorityVoteResult } from './quorum.js';
import type { LogIndex, NodeId } from './types.js';

const ids = (...values: number[]): NodeId[] => values as NodeId[];

function committed(matches: Record<number, number>): number {
  const voters = Object.keys(matches).map(Number) as NodeId[];
  return majorityCommittedIndex(voters, (id) => matches[id] as LogIndex | undefined);
}

test('the committed index is the highest index a majority holds', () => {
  assert.equal(committed({ 1: 5 }), 5);
  assert.equal(committed({ 1: 5, 2: 3 }), 3);
  assert.equal(committed({ 1: 5, 2: 3, 3: 4 }), 4);
  assert.equal(committed({ 1: 9, 2: 1, 3: 1, 4: 9 }), 1, 'two of four is not a majority');
  assert.equal(committed({ 1: 9, 2: 8, 3: 1, 4: 7 }), 7);
  assert.equal(committed({ 1: 1, 2: 2, 3: 3, 4: 4, 5: 5 }), 3);
});

test('voters without progress count as holding nothing', () => {
  assert.equal(majorityCommittedIndex(ids(1, 2, 3), (id) => (id === 1 ? (5 as LogIndex) : undefined)), 0);
});

test('an election is won by a majority of grants and lost once a majority is out of reach', () => {
  const voters = ids(1, 2, 3, 4, 5);
  const votes = new Map<NodeId, boolean>();
  votes.set(1 as NodeId, true);
  assert.equal(majorityVoteResult(voters, votes), VoteResult.Pending);
  votes.set(2 as NodeId, true);
  votes.set(3 as NodeId, false);
  assert.equal(majorityVoteResult(voters, votes), VoteResult.Pending);
  votes.set(4 as NodeId, true);
  assert.equal(majorityVoteResult(voters, votes), VoteResult.Won);
  const losing = new Map<NodeId, boolean>([[1 as NodeId, true], [2 as NodeId, false], [3 as NodeId, false], [4 as NodeId, false]]);
  assert.equal(majorityVoteResult(voters, losing), VoteResult.Lost);
});

test('votes from non-voters do not count', () => {
  const votes = new Map<NodeId, boolean>([[1 as NodeId, true], [7 as NodeId, true], [8 as NodeId, true]]);
  assert.equal(majorityVoteResult(ids(1, 2, 3), votes), VoteResult.Pending);
});
