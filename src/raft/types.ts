import { assert } from './assert.js';

declare const brand: unique symbol;
type Branded<Base, Name extends string> = Base & { readonly [brand]: Name };

/** A replica's id inside one Raft group. 0 means "nobody". */
export type NodeId = Branded<number, 'NodeId'>;
/** An election term. Starts at 0 and never decreases on a replica. */
export type Term = Branded<number, 'Term'>;
/** A position in the replicated log. The first real entry has index 1. */
export type LogIndex = Branded<number, 'LogIndex'>;

function checkNonNegativeSafeInteger(value: number, what: string): void {
  assert(Number.isSafeInteger(value) && value >= 0, () => `make ${what}: not a non-negative safe integer: ${value}`);
}

export function nodeId(value: number): NodeId {
  checkNonNegativeSafeInteger(value, 'node id');
  return value as NodeId;
}

export function term(value: number): Term {
  checkNonNegativeSafeInteger(value, 'term');
  return value as Term;
}

export function logIndex(value: number): LogIndex {
  checkNonNegativeSafeInteger(value, 'log index');
  return value as LogIndex;
}

export const noNode = 0 as NodeId;

export enum EntryType {
  Normal = 0,
  /** data holds an encoded ConfChange (see conf-change.ts). */
  ConfChange = 1,
}

export interface Entry {
  readonly term: Term;
  readonly index: LogIndex;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be on stable storage before a replica sends anything that depends on it. */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: LogIndex;
}

export const emptyHardState: HardState = { term: 0 as Term, vote: noNode, commit: 0 as LogIndex };

export function isEmptyHardState(hardState: HardState): boolean {
  return hardState.term === 0 && hardState.vote === noNode && hardState.commit === 0;
}

export function hardStatesEqual(left: HardState, right: HardState): boolean {
  return left.term === right.term && left.vote === right.vote && left.commit === right.commit;
}

/** The membership of a group: voters elect and commit; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export const emptyConfState: ConfState = { voters: [], learners: [] };

export interface SnapshotMetadata {
  /** The last log index the snapshot covers. */
  readonly index: LogIndex;
  /** The term of the entry at index. */
  readonly term: Term;
  /** The membership as of index. */
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export const emptySnapshot: Snapshot = {
  metadata: { index: 0 as LogIndex, term: 0 as Term, confState: emptyConfState },
  data: new Uint8Array(0),
};

export function isEmptySnapshot(snapshot: Snapshot | undefined): boolean {
  return snapshot === undefined || snapshot.metadata.index === 0;
}

export enum Role {
  Follower = 'follower',
  PreCandidate = 'pre-candidate',
  Candidate = 'candidate',
  Leader = 'leader',
}

/** Volatile state worth telling the application about; never persisted. */
export interface SoftState {
  readonly lead: NodeId;
  readonly role: Role;
}

/** The answer to a read-index request: reads are linearizable once applied >= index. */
export interface ReadState {
  readonly index: LogIndex;
  readonly requestCtx: Uint8Array;
}
