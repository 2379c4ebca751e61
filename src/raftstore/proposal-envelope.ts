// Entry payloads of proposals carry a request id in front of the command, so the node that
// proposed can recognise its entry when it is applied and hand the result to the caller.
// Format: [version u8 = 1][request id: u32 high][u32 low][command].
// Request ids are unique per host run: a random prefix chosen at start plus a counter, so
// an entry proposed before a restart never matches a waiter after it.
import { assert } from '../errors/assert.js';

const version = 1;
export const envelopeBytes = 9;

export function wrapCommand(requestId: number, command: Uint8Array): Uint8Array {
  assert(Number.isSafeInteger(requestId) && requestId > 0, `request id ${requestId} is not a positive safe integer`);
  const bytes = new Uint8Array(envelopeBytes + command.length);
  bytes[0] = version;
  const high = Math.floor(requestId / 0x1_0000_0000);
  const low = requestId >>> 0;
  bytes[1] = high >>> 24;
  bytes[2] = high >>> 16;
  bytes[3] = high >>> 8;
  bytes[4] = high;
  bytes[5] = low >>> 24;
  bytes[6] = low >>> 16;
  bytes[7] = low >>> 8;
  bytes[8] = low;
  bytes.set(command, envelopeBytes);
  return bytes;
}

// The request id and command of an entry, or null for an empty entry (a new leader's
// no-op). A malformed payload is a bug: every replica wrote it through wrapCommand.
export function unwrapCommand(data: Uint8Array): { requestId: number; command: Uint8Array } | null {
  if (data.length === 0) return null;
  assert(data.length >= envelopeBytes && data[0] === version, `entry payload of ${data.length} bytes is not a proposal envelope (version ${data[0]})`);
  const high = ((data[1]! << 24) | (data[2]! << 16) | (data[3]! << 8) | data[4]!) >>> 0;
  const low = ((data[5]! << 24) | (data[6]! << 16) | (data[7]! << 8) | data[8]!) >>> 0;
  return { requestId: high * 0x1_0000_0000 + low, command: data.subarray(envelopeBytes) };
}
