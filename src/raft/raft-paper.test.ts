// Tests of the rules of the Raft paper (Ongaro and Ousterhout, "In Search of an
// Understandable Consensus Algorithm", extended version), section by section, stepping
// one replica by hand. Pre-vote and check-quorum are off unless a test says otherwise,
// to match the paper's basic algorithm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftAssertionError } from './assert.js';
import { MessageType, makeMessage } from './messages.js';
import type { Message } from './messages.js';
import type { Raft } from './raft.js';
import type { NodeId } from './types.js';
import { EntryType, Role } from './types.js';
import { entry, makeLeader, newTestRaft, peerMessage, takeMessages, tickUntilRoleChanges } from './testing/raft-fixture.js';


function propose(raft: Raft, data: string): void {
  raft.step(makeMessage({ type: MessageType.Propose, from: raft.id, entries: [entry(0, 0, data)] }));
}

function messageSummary(messages: readonly Message[]): string[] {
  return messages.map((message) => `${MessageType[message.type]} ${message.from}->${message.to} term ${message.term}`);
}

// ---- §5.1 ----

for (const role of [Role.Follower, Role.Candidate, Role.Leader]) {
  test(`§5.1 a ${role} that sees a higher term adopts it and becomes follower`, () => {
    const raft = newTestRaft(1);
    if (role === Role.Candidate) raft.step(makeMessage({ type: MessageType.Hup, from: raft.id }));
    if (role === Role.Leader) makeLeader(raft);
    assert.equal(raft.role, role);
    raft.step(peerMessage(MessageType.Append, 2, 1, { term: 9 }));
    assert.equal(raft.term, 9);
    assert.equal(raft.role, Role.Follower);
    assert.equal(raft.lead, 2, 'an Append names the leader of that term');
  });
}

test('§5.1 a replica ignores a request of a stale term', () => {
  const raft = newTestRaft(1, { term: 5 });
  takeMessages(raft);
  raft.step(peerMessage(MessageType.Vote, 2, 1, { term: 4, index: 100, logTerm: 4 }));
  assert.equal(raft.term, 5);
  assert.equal(raft.vote, 0);
  assert.deepEqual(takeMessages(raft), [], 'no vote for a stale candidate');
});

test('§5.1 with check-quorum a stale leader is answered with the newer term so it steps down', () => {
  const raft = newTestRaft(1, { term: 5, checkQuorum: true });
  raft.step(peerMessage(MessageType.Append, 2, 1, { term: 4 }));
  const [answer] = takeMessages(raft);
  assert.equal(answer.type, MessageType.AppendResponse);
  assert.equal(answer.term, 5);
});

// ---- §5.2 ----

test('§5.2 a follower that hears nothing for an election timeout becomes candidate', () => {
  const raft = newTestRaft(1);
  const ticks = tickUntilRoleChanges(raft, 100);
  assert.ok(ticks >= 10 && ticks < 20, `campaigned after ${ticks} ticks`);
  assert.equal(raft.role, Role.Candidate);
  assert.equal(raft.term, 1, 'a candidate increments its term');
  assert.equal(raft.vote, 1, 'and votes for itself');
  assert.deepEqual(messageSummary(takeMessages(raft)), ['Vote 1->2 term 1', 'Vote 1->3 term 1']);
});

test('§5.2 a follower that hears from its leader does not time out', () => {
  const raft = newTestRaft(1);
  for (let tick = 0; tick < 100; tick++) {
    raft.tick();
    raft.step(peerMessage(MessageType.Heartbeat, 2, 1, { term: 1 }));
  }
  assert.equal(raft.role, Role.Follower);
  assert.equal(raft.lead, 2);
});

test('§5.2 a candidate that hears nothing starts a new election with a new term', () => {
  const raft = newTestRaft(1);
  tickUntilRoleChanges(raft, 100);
  assert.equal(raft.term, 1);
  for (let tick = 0; tick < 20; tick++) raft.tick();
  assert.equal(raft.role, Role.Candidate);
  assert.equal(raft.term, 2);
});

test('§5.2 election timeouts are randomized in [electionTicks, 2 * electionTicks)', () => {
  const observed = new Set<number>();
  for (let seed = 0; seed < 200; seed++) {
    const raft = newTestRaft(1, { seed });
    observed.add(tickUntilRoleChanges(raft, 100));
  }
  assert.ok(Math.min(...observed) >= 10 && Math.max(...observed) <= 19, `timeouts ${[...observed].sort()}`);
  assert.ok(observed.size >= 8, `too little spread: ${[...observed].sort()}`);
});

test('§5.2 a candidate with votes from a majority becomes leader and announces itself', () => {
  const raft = newTestRaft(1, { voters: [1, 2, 3, 4, 5] });
  raft.step(makeMessage({ type: MessageType.Hup, from: raft.id }));
  takeMessages(raft);
  raft.step(peerMessage(MessageType.VoteResponse, 2, 1, { term: 1 }));
  assert.equal(raft.role, Role.Candidate, 'two of five is not a majority');
  raft.step(peerMessage(MessageType.VoteResponse, 2, 1, { term: 1 }));
  assert.equal(raft.role, Role.Candidate, 'a duplicate vote is counted once');
  raft.step(peerMessage(MessageType.VoteResponse, 3, 1, { term: 1 }));
  assert.equal(raft.role, Role.Leader);
  const appends = takeMessages(raft).filter((message) => message.type === MessageType.Append);
  assert.equal(appends.length, 4, 'the new leader sends Append to every follower at once');
});

test('§5.2 a candidate rejected by a majority returns to follower', () => {
  const raft = newTestRaft(1);
  raft.step(makeMessage({ type: MessageType.Hup, from: raft.id }));
  raft.step(peerMessage(MessageType.VoteResponse, 2, 1, { term: 1, reject: true }));
  assert.equal(raft.role, Role.Candidate);
  raft.step(peerMessage(MessageType.VoteResponse, 3, 1, { term: 1, reject: true }));
  assert.equal(raft.role, Role.Follower);
  assert.equal(raft.term, 1);
});

test('§5.2 a voter grants at most one vote per term, first come first served', () => {
  const raft = newTestRaft(1);
  raft.step(peerMessage(MessageType.Vote, 2, 1, { term: 1 }));
  raft.step(peerMessage(MessageType.Vote, 3, 1, { term: 1 }));
  raft.step(peerMessage(MessageType.Vote, 2, 1, { term: 1 }));
  const answers = takeMessages(raft).map((message) => `${message.to}:${message.reject ? 'reject' : 'grant'}`);
  assert.deepEqual(answers, ['2:grant', '3:reject', '2:grant']);
  assert.equal(raft.vote, 2);
});

test('§5.2 a candidate that hears from a leader of its term becomes follower', () => {
  const raft = newTestRaft(1);
  raft.step(makeMessage({ type: MessageType.Hup, from: raft.id }));
  raft.step(peerMessage(MessageType.Append, 2, 1, { term: 1 }));
  assert.equal(raft.role, Role.Follower);
  assert.equal(raft.lead, 2);
  assert.equal(raft.term, 1);
});

test('§5.2 a leader sends heartbeats every heartbeat interval', () => {
  const raft = newTestRaft(1, { limits: { heartbeatTicks: 2 } });
  makeLeader(raft);
  takeMessages(raft);
  raft.tick();
  assert.deepEqual(takeMessages(raft), []);
  raft.tick();
  assert.deepEqual(
    takeMessages(raft).map((message) => `${MessageType[message.type]}->${message.to}`),
    ['Heartbeat->2', 'Heartbeat->3'],
  );
});

// ---- §5.3 ----

test('§5.3 a leader appends a proposal to its log and sends it to its followers', () => {
  const raft = newTestRaft(1);
  makeLeader(raft);
  // Acknowledge the leader's empty entry so both followers stream (Replicate state).
  raft.step(peerMessage(MessageType.AppendResponse, 2, 1, { term: 1, index: 1 }));
  raft.step(peerMessage(MessageType.AppendResponse, 3, 1, { term: 1, index: 1 }));
  takeMessages(raft);
  propose(raft, 'x');
  assert.equal(raft.log.lastIndex(), 2);
  assert.equal(raft.log.term(2 as never), 1);
  const appends = takeMessages(raft).filter((message) => message.type === MessageType.Append);
  assert.deepEqual(appends.map((message) => [message.to, message.index, message.logTerm, message.entries.length]), [
    [2, 1, 1, 1],
    [3, 1, 1, 1],
  ]);
});

test('§5.3 a leader commits an entry stored on a majority and tells the followers', () => {
  const raft = newTestRaft(1, { voters: [1, 2, 3, 4, 5] });
  makeLeader(raft);
  propose(raft, 'x');
  takeMessages(raft);
  raft.step(peerMessage(MessageType.AppendResponse, 2, 1, { term: 1, index: 2 }));
  assert.equal(raft.log.committed, 0, 'leader plus one of five is not a majority');
  takeMessages(raft);
  raft.step(peerMessage(MessageType.AppendResponse, 3, 1, { term: 1, index: 2 }));
  assert.equal(raft.log.committed, 2);
  const commits = takeMessages(raft).filter((message) => message.type === MessageType.Append).map((message) => message.commit);
  assert.ok(commits.length > 0 && commits.every((commit) => commit === 2), `commit broadcast ${commits}`);
});

test('§5.3 a follower commits what the leader committed, up to what it holds', () => {
  const raft = newTestRaft(1);
  raft.step(peerMessage(MessageType.Append, 2, 1, { term: 1, index: 0, logTerm: 0, entries: [entry(1, 1), entry(2, 1)], commit: 5 }));
  assert.equal(raft.log.committed, 2);
});

test('§5.3 a follower rejects Append whose prevLogTerm does not match', () => {
  const raft = newTestRaft(1, { log: [[1, 1], [2, 2]], term: 3 });
  raft.step(peerMessage(MessageType.Append, 2, 1, { term: 3, index: 2, logTerm: 3, entries: [entry(3, 3)] }));
  const [answer] = takeMessages(raft);
  assert.equal(answer.type, MessageType.AppendResponse);
  assert.equal(answer.reject, true);
  assert.equal(answer.index, 2);
  assert.equal(raft.log.lastIndex(), 2);
  raft.step(peerMessage(MessageType.Append, 2, 1, { term: 3, index: 5, logTerm: 3, entries: [entry(6, 3)] }));
  assert.equal(takeMessages(raft)[0].reject, true, 'a gap is a mismatch too');
});

test('§5.3 a follower deletes a conflicting suffix and appends the leader’s entries', () => {
  const raft = newTestRaft(1, { log: [[1, 1], [2, 1], [3, 2], [4, 2]], term: 3 });
  raft.step(peerMessage(MessageType.Append, 2, 1, { term: 3, index: 2, logTerm: 1, entries: [entry(3, 3)] }));
  assert.deepEqual(raft.log.allEntries().map((each) => [each.index, each.term]), [
    [1, 1],
    [2, 1],
    [3, 3],
  ]);
  const [answer] = takeMessages(raft);
  assert.equal(answer.reject, false);
  assert.equal(answer.index, 3);
});

test('§5.3 a rejecting follower hints the last index of a term the leader may share (fast back-off)', () => {
  // Follower log: terms 1 1 2 2 2; the leader probes at index 5 with term 3.
  const raft = newTestRaft(1, { log: [[1, 1], [2, 1], [3, 2], [4, 2], [5, 2]], term: 3 });
  raft.step(peerMessage(MessageType.Append, 2, 1, { term: 3, index: 7, logTerm: 3 }));
  const [answer] = takeMessages(raft);
  assert.equal(answer.reject, true);
  assert.equal(answer.rejectHint, 5, 'our last index, since we have nothing at 7');
  assert.equal(answer.logTerm, 2);
});

test('§5.3 a leader backs off on reject and repairs the follower’s log', () => {
  const leader = newTestRaft(1, { log: [[1, 1], [2, 1], [3, 3], [4, 3]], term: 3 });
  makeLeader(leader); // term 4, appends (5, 4)
  takeMessages(leader);
  const follower = newTestRaft(2, { log: [[1, 1], [2, 1], [3, 2], [4, 2], [5, 2], [6, 2]], term: 3 });
  // Exchange messages between the two until quiet.
  let pending: Message[] = [];
  leader.step(makeMessage({ type: MessageType.Beat, from: leader.id }));
  pending = takeMessages(leader).filter((message) => message.to === 2);
  for (let round = 0; round < 20 && pending.length > 0; round++) {
    for (const message of pending) follower.step(message);
    for (const message of takeMessages(follower)) leader.step(message);
    pending = takeMessages(leader).filter((message) => message.to === 2);
  }
  assert.deepEqual(
    follower.log.allEntries().map((each) => each.term),
    leader.log.allEntries().map((each) => each.term),
  );
});

// ---- §5.4 ----

test('§5.4.1 a voter refuses a candidate whose log is less up to date', () => {
  const cases: Array<{ index: number; logTerm: number; grant: boolean; why: string }> = [
    { index: 2, logTerm: 2, grant: false, why: 'same last term, shorter log' },
    { index: 9, logTerm: 1, grant: false, why: 'lower last term, longer log' },
    { index: 3, logTerm: 2, grant: true, why: 'same last term and length' },
    { index: 1, logTerm: 3, grant: true, why: 'higher last term, shorter log' },
  ];
  for (const { index, logTerm, grant, why } of cases) {
    const raft = newTestRaft(1, { log: [[1, 1], [2, 2], [3, 2]], term: 2 });
    raft.step(peerMessage(MessageType.Vote, 2, 1, { term: 3, index, logTerm }));
    const [answer] = takeMessages(raft);
    assert.equal(answer.type, MessageType.VoteResponse);
    assert.equal(answer.reject, !grant, why);
    assert.equal(raft.vote, grant ? 2 : 0, why);
  }
});

test('§5.4.2 a leader does not commit an entry of an earlier term by counting replicas', () => {
  // Figure 8: the leader of term 3 holds (2, term 2) from an earlier leader.
  const raft = newTestRaft(1, { log: [[1, 1], [2, 2]], term: 2 });
  makeLeader(raft);
  assert.equal(raft.term, 3);
  assert.equal(raft.log.lastIndex(), 3, 'new leader appended its empty entry at 3');
  takeMessages(raft);
  raft.step(peerMessage(MessageType.AppendResponse, 2, 1, { term: 3, index: 2 }));
  raft.step(peerMessage(MessageType.AppendResponse, 3, 1, { term: 3, index: 2 }));
  assert.equal(raft.log.committed, 0, 'index 2 is on every replica but is of term 2');
  raft.step(peerMessage(MessageType.AppendResponse, 2, 1, { term: 3, index: 3 }));
  assert.equal(raft.log.committed, 3, 'committing the term-3 entry commits index 2 with it');
});

test('§8 a new leader appends an empty entry of its term so that it can commit', () => {
  const raft = newTestRaft(1, { log: [[1, 1]], term: 1 });
  makeLeader(raft);
  const last = raft.log.allEntries().at(-1)!;
  assert.deepEqual([last.index, last.term, last.type, last.data.byteLength], [2, 2, EntryType.Normal, 0]);
});

test('§5.4 committed entries are never overwritten: an Append below the commit index changes nothing', () => {
  const raft = newTestRaft(1, { log: [[1, 1], [2, 1]], term: 1, commit: 2 });
  raft.step(peerMessage(MessageType.Append, 2, 1, { term: 2, index: 1, logTerm: 1, entries: [entry(2, 2)], commit: 2 }));
  assert.deepEqual(raft.log.allEntries().map((each) => each.term), [1, 1]);
  const [answer] = takeMessages(raft);
  assert.deepEqual([answer.reject, answer.index], [false, 2], 'answers with its commit index so the leader skips ahead');
  assert.throws(() => raft.log.maybeAppend(1 as never, 1 as never, 2 as never, [entry(2, 2)]), RaftAssertionError);
});

test('§9.6 with pre-vote a partitioned replica asks before raising its term', () => {
  const raft = newTestRaft(1, { preVote: true });
  tickUntilRoleChanges(raft, 100);
  assert.equal(raft.role, Role.PreCandidate);
  assert.equal(raft.term, 0, 'the pre-candidate keeps its term');
  const requests = takeMessages(raft);
  assert.deepEqual(messageSummary(requests), ['PreVote 1->2 term 1', 'PreVote 1->3 term 1']);
  raft.step(peerMessage(MessageType.PreVoteResponse, 2, 1, { term: 1 }));
  assert.equal(raft.role, Role.Candidate);
  assert.equal(raft.term, 1);
});

test('§9.6 a voter with a live leader (check-quorum) ignores vote requests', () => {
  const raft = newTestRaft(1, { checkQuorum: true, term: 1 });
  raft.step(peerMessage(MessageType.Heartbeat, 2, 1, { term: 1 }));
  takeMessages(raft);
  raft.step(peerMessage(MessageType.Vote, 3, 1, { term: 2, index: 10, logTerm: 1 }));
  assert.equal(raft.term, 1, 'the disruptive candidate does not move our term');
  assert.deepEqual(takeMessages(raft), []);
  for (let tick = 0; tick < 10; tick++) raft.tick();
  raft.step(peerMessage(MessageType.Vote, 3, 1, { term: 2, index: 10, logTerm: 1 }));
  assert.equal(raft.vote, 3 as NodeId, 'after an election timeout without the leader it votes');
});

