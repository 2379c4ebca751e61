// Builds bare Raft instances for tests that step messages by hand (paper tests).
import { createRandom } from '../../random/index.js';
import type { RaftConfig } from '../config.js';
import { MemoryStorage } from '../memory-storage.js';
import type { Message } from '../messages.js';
import { MessageType, makeMessage } from '../messages.js';
import { Raft } from '../raft.js';
import type { Entry, LogIndex, NodeId, Term } from '../types.js';
import { EntryType, Role } from '../types.js';

export interface TestRaftOptions extends Partial<Omit<RaftConfig, 'id' | 'storage' | 'random'>> {
  readonly voters?: readonly number[];
  readonly learners?: readonly number[];
  /** Entries already persisted, as [index, term] pairs or full entries. */
  readonly log?: readonly (Entry | readonly [number, number])[];
  readonly term?: number;
  readonly vote?: number;
  readonly commit?: number;
  readonly seed?: number;
}

export function entry(index: number, term: number, data = ''): Entry {
  return { index: index as LogIndex, term: term as Term, type: EntryType.Normal, data: new TextEncoder().encode(data) };
}

export function newTestRaft(id: number, options: TestRaftOptions = {}): Raft {
  const storage = new MemoryStorage({
    confState: { voters: (options.voters ?? [1, 2, 3]) as NodeId[], learners: (options.learners ?? []) as NodeId[] },
  });
  const log = (options.log ?? []).map((each) => ('index' in each ? each : entry(each[0], each[1])));
  storage.append(log);
  if (options.term !== undefined || options.vote !== undefined || options.commit !== undefined) {
    storage.setHardState({
      term: (options.term ?? 0) as Term,
      vote: (options.vote ?? 0) as NodeId,
      commit: (options.commit ?? 0) as LogIndex,
    });
  }
  return new Raft({
    preVote: false,
    checkQuorum: false,
    ...options,
    id: id as NodeId,
    storage,
    random: createRandom(options.seed ?? id),
    limits: { electionTicks: 10, heartbeatTicks: 1, ...options.limits },
  });
}

/** Takes the messages the replica produced so far. */
export function takeMessages(raft: Raft): Message[] {
  const messages = raft.messages;
  raft.messages = [];
  return messages;
}

/** Builds a message from a peer. Field values are plain numbers for brevity. */
export function peerMessage(
  type: MessageType,
  from: number,
  to: number,
  fields: { term?: number; logTerm?: number; index?: number; commit?: number; reject?: boolean; rejectHint?: number; entries?: Entry[]; context?: Uint8Array } = {},
): Message {
  return makeMessage({
    type,
    from: from as NodeId,
    to: to as NodeId,
    term: (fields.term ?? 0) as Term,
    logTerm: (fields.logTerm ?? 0) as Term,
    index: (fields.index ?? 0) as LogIndex,
    commit: (fields.commit ?? 0) as LogIndex,
    reject: fields.reject ?? false,
    rejectHint: (fields.rejectHint ?? 0) as LogIndex,
    entries: fields.entries ?? [],
    ...(fields.context !== undefined ? { context: fields.context } : {}),
  });
}

/** Ticks until the replica's role changes or ticksMax is reached; returns ticks used. */
export function tickUntilRoleChanges(raft: Raft, ticksMax: number): number {
  const role = raft.role;
  for (let tick = 1; tick <= ticksMax; tick++) {
    raft.tick();
    if (raft.role !== role) return tick;
  }
  return ticksMax;
}

/** Makes raft the leader of the next term by answering its (pre)vote requests by hand. */
export function makeLeader(raft: Raft): void {
  raft.step(makeMessage({ type: MessageType.Hup, from: raft.id }));
  if (raft.role === Role.PreCandidate) {
    for (const id of raft.tracker.voters()) {
      if (id !== raft.id) raft.step(peerMessage(MessageType.PreVoteResponse, id, raft.id, { term: raft.term + 1 }));
    }
  }
  if (raft.role === Role.Candidate) {
    for (const id of raft.tracker.voters()) {
      if (id !== raft.id) raft.step(peerMessage(MessageType.VoteResponse, id, raft.id, { term: raft.term }));
    }
  }
}
