// Limits of the RPC layer, units last. Checked against each other at load time.
import { assert } from '../errors/assert.js';

export const frameHeaderBytes = 32;
export const protocolVersion = 1;

export interface RpcLimits {
  // Largest protobuf header (the request or response message) in one frame.
  readonly headerBytesMax: number;
  // Largest bulk payload carried beside the header.
  readonly payloadBytesMax: number;
  // Requests one connection may have in flight; the server stops reading past it.
  readonly inflightRequestsMax: number;
  // Calls a client lets wait for a free slot before failing them with OVERLOADED.
  readonly waitingCallsMax: number;
  // Bytes queued for the socket past which the server stops reading new requests.
  readonly writeQueueBytesMax: number;
  // Small frames are copied into one buffer per flush; larger ones are written as they are.
  readonly coalesceFrameBytesMax: number;
  // A client reads its socket into one scratch buffer of this size, used again for every
  // read (frames in it are copied out)...
  readonly readScratchBytes: number;
  // ...except a frame of at least this many bytes: once its prefix is in, the rest is
  // read straight into a buffer of the frame's size (frame-reader.ts).
  readonly readInPlaceBytesMin: number;
  readonly handshakeTimeoutMs: number;
  // A connection holding part of a frame that gets no byte for this long is closed; an
  // idle connection between frames is left alone.
  readonly frameStallTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly defaultDeadlineMs: number;
  // How long stop() waits for in-flight calls before closing connections anyway.
  readonly drainTimeoutMs: number;
  readonly reconnectBackoffMinMs: number;
  readonly reconnectBackoffMaxMs: number;
}

export const defaultRpcLimits: RpcLimits = Object.freeze({
  headerBytesMax: 1024 * 1024,
  payloadBytesMax: 64 * 1024 * 1024,
  inflightRequestsMax: 1024,
  waitingCallsMax: 65536,
  writeQueueBytesMax: 16 * 1024 * 1024,
  coalesceFrameBytesMax: 16 * 1024,
  readScratchBytes: 64 * 1024,
  readInPlaceBytesMin: 64 * 1024,
  handshakeTimeoutMs: 5_000,
  frameStallTimeoutMs: 30_000,
  connectTimeoutMs: 3_000,
  defaultDeadlineMs: 30_000,
  drainTimeoutMs: 10_000,
  reconnectBackoffMinMs: 20,
  reconnectBackoffMaxMs: 2_000,
});

export function rpcLimits(overrides: Partial<RpcLimits> = {}): RpcLimits {
  const limits = { ...defaultRpcLimits, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    assert(Number.isSafeInteger(value) && value > 0, `rpc limit ${key} must be a positive integer, got ${value}`);
  }
  assert(limits.headerBytesMax <= 0xffff_ffff && limits.payloadBytesMax <= 0xffff_ffff, 'rpc limits: lengths must fit in u32');
  assert(limits.coalesceFrameBytesMax < limits.writeQueueBytesMax, 'rpc limits: coalesceFrameBytesMax must be below writeQueueBytesMax');
  assert(limits.reconnectBackoffMinMs <= limits.reconnectBackoffMaxMs, 'rpc limits: reconnect backoff min above max');
  return Object.freeze(limits);
}
