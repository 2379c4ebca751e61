import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../random/index.js';
import { RaftAssertionError } from './assert.js';
import { RaftErrorCode } from './errors.js';
import { MemoryStorage } from './memory-storage.js';
import { MessageType, makeMessage } from './messages.js';
import { RawNode } from './raw-node.js';
import type { Ready } from './raw-node.js';
import type { LogIndex, NodeId, Term } from './types.js';
import { EntryType, Role } from './types.js';
import { Network, textBytes } from './testing/network.js';

function newNode(id = 1, storage = new MemoryStorage()): RawNode {
  return new RawNode({ id: id as NodeId, storage, random: createRandom(id) });
}

test('the first Ready after bootstrap persists and applies the membership entries', () => {
  const node = newNode();
  node.bootstrap([1, 2, 3] as NodeId[]);
  assert.equal(node.hasReady(), true);
  const ready = node.ready();
  assert.deepEqual(ready.hardState, { term: 1, vote: 0, commit: 3 });
  assert.deepEqual(ready.entries.map((entry) => [entry.index, entry.term, entry.type]), [
    [1, 1, EntryType.ConfChange],
    [2, 1, EntryType.ConfChange],
    [3, 1, EntryType.ConfChange],
  ]);
  assert.deepEqual(ready.committedEntries.map((entry) => entry.index), [1, 2, 3]);
  assert.equal(ready.mustSync, true);
  node.advance(ready);
  assert.equal(node.hasReady(), false);
  assert.equal(node.status().applied, 3);
});

test('bootstrap refuses non-empty storage and bad voter lists', () => {
  const storage = new MemoryStorage();
  storage.append([{ index: 1 as LogIndex, term: 1 as Term, type: EntryType.Normal, data: new Uint8Array() }]);
  assert.throws(() => newNode(1, storage).bootstrap([1 as NodeId]), /not empty/);
  assert.throws(() => newNode().bootstrap([1, 1] as NodeId[]), /distinct/);
  assert.throws(() => newNode().bootstrap([]), /distinct/);
});

test('a vote is handed out in the same Ready as the hard state that records it', () => {
  const node = newNode(2);
  node.bootstrap([1, 2, 3] as NodeId[]);
  node.advance(node.ready());
  node.step(makeMessage({ type: MessageType.Vote, from: 1 as NodeId, to: 2 as NodeId, term: 2 as Term, index: 3 as LogIndex, logTerm: 1 as Term }));
  const ready = node.ready();
  assert.deepEqual(ready.hardState, { term: 2, vote: 1, commit: 3 });
  assert.equal(ready.mustSync, true, 'the vote must be on disk before the answer leaves');
  assert.deepEqual(ready.messages.map((message) => [MessageType[message.type], message.reject]), [['VoteResponse', false]]);
  node.advance(ready);
});

test('a batch of proposals becomes consecutive entries, sent to each follower in one Append', () => {
  const network = Network.withNodes(createRandom(73), 3);
  const leader = network.electLeader();
  network.stabilize();
  const lastIndex = leader.rawNode.status().commit;
  assert.equal(leader.rawNode.proposeBatch([textBytes('a'), textBytes('b'), textBytes('c')]), undefined);
  const ready = leader.rawNode.ready();
  assert.deepEqual(
    ready.entries.map((entry) => [entry.index, new TextDecoder().decode(entry.data)]),
    [
      [lastIndex + 1, 'a'],
      [lastIndex + 2, 'b'],
      [lastIndex + 3, 'c'],
    ],
  );
  const appends = ready.messages.filter((message) => message.type === MessageType.Append);
  assert.equal(appends.length, 2, 'one Append per follower');
  for (const append of appends) assert.equal(append.entries.length, 3);
  leader.rawNode.advance(ready);
});

test('a commit-only change needs no sync', () => {
  const network = Network.withNodes(createRandom(71), 3);
  const leader = network.electLeader();
  const follower = network.node(leader.id === 1 ? 2 : 1);
  leader.rawNode.propose(textBytes('x'));
  network.processReadies();
  // Deliver up to the follower's append, then look at the heartbeat that carries the commit.
  network.stabilize();
  follower.rawNode.step(
    makeMessage({ type: MessageType.Heartbeat, from: leader.id, to: follower.id, term: leader.rawNode.status().term, commit: follower.rawNode.status().commit }),
  );
  const ready = follower.rawNode.ready();
  assert.equal(ready.hardState, undefined);
  assert.equal(ready.mustSync, false);
  follower.rawNode.advance(ready);
});

test('ready twice without advance is a bug; advance with another Ready too', () => {
  const node = newNode();
  node.bootstrap([1] as NodeId[]);
  const ready = node.ready();
  assert.throws(() => node.ready(), RaftAssertionError);
  assert.throws(() => node.advance({ ...ready }), RaftAssertionError);
  node.advance(ready);
});

test('entries replaced while a Ready is being persisted go out again in the next Ready', () => {
  const storage = new MemoryStorage();
  const node = newNode(2, storage);
  const persist = (ready: Ready): void => {
    storage.append(ready.entries);
    if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
  };
  node.bootstrap([1, 2, 3] as NodeId[]);
  const bootstrapReady = node.ready();
  persist(bootstrapReady);
  node.advance(bootstrapReady);
  const append = (term: number, entryTerm: number) =>
    makeMessage({
      type: MessageType.Append,
      from: 1 as NodeId,
      to: 2 as NodeId,
      term: term as Term,
      index: 3 as LogIndex,
      logTerm: 1 as Term,
      entries: [{ index: 4 as LogIndex, term: entryTerm as Term, type: EntryType.Normal, data: textBytes(`t${entryTerm}`) }],
    });
  node.step(append(2, 2));
  const first = node.ready();
  assert.deepEqual(first.entries.map((entry) => [entry.index, entry.term]), [[4, 2]]);
  // While the host persists the first Ready, a newer leader replaces index 4.
  node.step(append(3, 3));
  persist(first);
  node.advance(first);
  const second = node.ready();
  assert.deepEqual(second.entries.map((entry) => [entry.index, entry.term]), [[4, 3]]);
  persist(second);
  node.advance(second);
  assert.equal(storage.term(4 as LogIndex), 3);
  assert.equal(node.hasReady(), false);
});

test('step refuses local-only message types and answers from strangers', () => {
  const node = newNode();
  node.bootstrap([1, 2, 3] as NodeId[]);
  assert.equal(node.step(makeMessage({ type: MessageType.Hup, from: 2 as NodeId }))?.code, RaftErrorCode.LocalMessageFromNetwork);
  assert.equal(
    node.step(makeMessage({ type: MessageType.AppendResponse, from: 9 as NodeId, to: 1 as NodeId, term: 1 as Term }))?.code,
    RaftErrorCode.PeerNotFound,
  );
});

test('status reports progress of every member only on the leader', () => {
  const network = Network.withNodes(createRandom(72), 3);
  const leader = network.electLeader();
  const status = leader.rawNode.status();
  assert.equal(status.role, Role.Leader);
  assert.deepEqual([...status.progress.keys()], [1, 2, 3]);
  assert.ok([...status.progress.values()].every((progress) => progress.match === status.commit));
  const follower = network.node(leader.id === 1 ? 2 : 1).rawNode.status();
  assert.equal(follower.progress.size, 0);
  assert.equal(follower.lead, leader.id);
});

test('a restarted node keeps its term, vote and log and catches up', () => {
  const network = Network.withNodes(createRandom(73), 3);
  const leader = network.electLeader();
  network.propose(leader.id, 'before crash');
  const follower = network.node(leader.id === 1 ? 2 : 1);
  const before = follower.rawNode.status();
  follower.restart();
  const after = follower.rawNode.status();
  assert.deepEqual([after.term, after.vote, after.commit], [before.term, before.vote, before.commit]);
  network.processReadies();
  assert.deepEqual(follower.appliedData, ['before crash'], 're-applied from its own log');
  network.propose(leader.id, 'after crash');
  network.tickAll(2);
  assert.deepEqual(follower.appliedData, ['before crash', 'after crash']);
});
