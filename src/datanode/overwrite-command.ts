// The Raft command of an overwrite: [kind u8 = 1][extent id u64][offset u64][bytes],
// big-endian. Applied on every replica in log order.
import { AtollError, StatusCode } from '../errors/index.js';

const overwriteKind = 1;
const headerBytes = 17;

export interface OverwriteCommand {
  readonly extentId: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
}

export function encodeOverwrite(command: OverwriteCommand): Uint8Array {
  const encoded = new Uint8Array(headerBytes + command.bytes.byteLength);
  const view = new DataView(encoded.buffer);
  view.setUint8(0, overwriteKind);
  view.setBigUint64(1, BigInt(command.extentId));
  view.setBigUint64(9, BigInt(command.offset));
  encoded.set(command.bytes, headerBytes);
  return encoded;
}

export function decodeOverwrite(encoded: Uint8Array): OverwriteCommand {
  if (encoded.byteLength < headerBytes || encoded[0] !== overwriteKind) {
    // Only the leader of this partition writes these commands: anything else is a bug.
    throw new AtollError(StatusCode.INTERNAL, `data partition command: not an overwrite (${encoded.byteLength} bytes, kind ${encoded[0]})`);
  }
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  return { extentId: Number(view.getBigUint64(1)), offset: Number(view.getBigUint64(9)), bytes: encoded.subarray(headerBytes) };
}
