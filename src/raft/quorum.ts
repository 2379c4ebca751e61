import type { LogIndex, NodeId } from './types.js';

export enum VoteResult {
  Pending = 'pending',
  Lost = 'lost',
  Won = 'won',
}

/**
 * The highest index stored on a majority of voters: sort the voters' match indexes
 * from high to low and take the one at position floor(n / 2). Voters we have no
 * progress for count as 0. No voters commits nothing.
 */
export function majorityCommittedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => LogIndex | undefined): LogIndex {
  if (voters.length === 0) return 0 as LogIndex;
  const matches = voters.map((id) => matchOf(id) ?? 0).sort((left, right) => right - left);
  return matches[Math.floor(voters.length / 2)] as LogIndex;
}

/** Won with a majority of grants, Lost once a majority can no longer be reached, else Pending. */
export function majorityVoteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const quorum = Math.floor(voters.length / 2) + 1;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  if (granted >= quorum) return VoteResult.Won;
  if (granted + missing >= quorum) return VoteResult.Pending;
  return VoteResult.Lost;
}

/** Whether the members in acknowledged form a majority of voters. */
export function isMajority(voters: readonly NodeId[], acknowledged: ReadonlySet<NodeId>): boolean {
  let count = 0;
  for (const id of voters) if (acknowledged.has(id)) count++;
  return count >= Math.floor(voters.length / 2) + 1;
}
