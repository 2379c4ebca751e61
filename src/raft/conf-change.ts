import { assert } from './assert.js';
import type { NodeId } from './types.js';
import { nodeId } from './types.js';

export enum ConfChangeType {
  /** Add a voter, or promote a learner to voter. */
  AddVoter = 0,
  /** Add a learner, or demote a voter to learner. */
  AddLearner = 1,
  /** Remove a voter or a learner. */
  RemoveNode = 2,
}

/**
 * One single-server membership change. A replacement is done as add-learner, promote
 * (AddVoter), remove: each step changes the voter set by at most one, which keeps every
 * majority of the old set overlapping every majority of the new one.
 */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  /** Opaque to Raft, for example the new member's address. */
  readonly context: Uint8Array;
}

const formatVersion = 1;
const headerBytes = 1 + 1 + 8 + 4;

/**
 * Entry payload of a ConfChange entry: [version u8][type u8][nodeId u64 BE][contextLength u32 BE][context].
 * Kept tiny and explicit because every replica must decode it identically forever.
 */
export function encodeConfChange(change: ConfChange): Uint8Array {
  const bytes = new Uint8Array(headerBytes + change.context.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, formatVersion);
  view.setUint8(1, change.type);
  view.setBigUint64(2, BigInt(change.nodeId));
  view.setUint32(10, change.context.byteLength);
  bytes.set(change.context, headerBytes);
  return bytes;
}

export function decodeConfChange(bytes: Uint8Array): ConfChange {
  assert(bytes.byteLength >= headerBytes, () => `decode conf change: too short: ${bytes.byteLength} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  assert(version === formatVersion, () => `decode conf change: unknown version: ${version}`);
  const type = view.getUint8(1);
  assert(type in ConfChangeType, () => `decode conf change: unknown type: ${type}`);
  const id = view.getBigUint64(2);
  assert(id <= BigInt(Number.MAX_SAFE_INTEGER), () => `decode conf change: node id too large: ${id}`);
  const contextLength = view.getUint32(10);
  assert(headerBytes + contextLength === bytes.byteLength, () => `decode conf change: context length ${contextLength} does not match ${bytes.byteLength} bytes`);
  return {
    type: type as ConfChangeType,
    nodeId: nodeId(Number(id)),
    context: bytes.slice(headerBytes),
  };
}
