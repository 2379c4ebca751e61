// The frame: a fixed 32-byte prefix, a protobuf header, and a raw bulk payload.
//
//   offset size field
//        0    2 magic 0xA7 0x01
//        2    1 protocol version
//        3    1 kind (FrameKind)
//        4    4 method id (u32, big-endian)
//        8    4 request id (u32), unique among a connection's in-flight calls
//       12    4 deadline: milliseconds the callee has left (0 = none); relative,
//                so the two clocks need not agree
//       16    4 header length
//       20    4 payload length
//       24    4 flags (reserved, 0)
//       28    4 CRC32 of the prefix (with this field zero) and the header bytes
//
// The payload has no checksum here: bulk data carries its own (the datanode keeps a CRC
// per block), and TCP checks transmission. The header checksum catches a stream that is
// out of step, which is why a bad one closes the connection. Prefix and header lie side
// by side in the sender's batch and usually in the receiver's chunk, so the checksum is
// one crc32 call over one range.
import { crc32 } from '../checksum/index.js';
import { frameHeaderBytes, protocolVersion } from './limits.js';

export const frameMagic = 0xa701;

export enum FrameKind {
  Request = 1,
  Response = 2,
  // Response slot carrying an RpcError header instead of the method's response.
  Error = 3,
  // Client gives up on a request; the server aborts its handler.
  Cancel = 4,
  // Handshake: server → client, client → server, server → client.
  Challenge = 5,
  Handshake = 6,
  Accept = 7,
  // Server is shutting down: finish what is in flight, send nothing new here.
  GoAway = 8,
  // A one-way request: the server runs the handler and answers nothing, not even an
  // error (it logs failures). Request id and deadline are 0. For messages whose loss the
  // protocol above tolerates anyway (Raft messages), where an answer only costs a frame.
  Notify = 9,
}

const maxKind = FrameKind.Notify;

export interface FramePrefix {
  kind: FrameKind;
  method: number;
  requestId: number;
  deadlineMs: number;
  headerLength: number;
  payloadLength: number;
  checksum: number;
}

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

// Writes a prefix at `offset` of `target`, with the checksum left zero: the caller
// places the header right after it and then calls sealFrame.
export function writeFramePrefix(
  target: Buffer,
  offset: number,
  kind: FrameKind,
  method: number,
  requestId: number,
  deadlineMs: number,
  headerLength: number,
  payloadLength: number,
): void {
  target[offset] = 0xa7;
  target[offset + 1] = 0x01;
  target[offset + 2] = protocolVersion;
  target[offset + 3] = kind;
  putUint32(target, offset + 4, method);
  putUint32(target, offset + 8, requestId);
  putUint32(target, offset + 12, deadlineMs);
  putUint32(target, offset + 16, headerLength);
  putUint32(target, offset + 20, payloadLength);
  putUint32(target, offset + 24, 0);
  putUint32(target, offset + 28, 0);
}

// Plain byte arithmetic: Buffer's readUInt32BE/writeUInt32BE check their arguments on
// every call, which showed in profiles of small calls. Callers stay inside the buffer.
function putUint32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24;
  target[offset + 1] = value >>> 16;
  target[offset + 2] = value >>> 8;
  target[offset + 3] = value;
}

function getUint32(source: Uint8Array, offset: number): number {
  return ((source[offset]! << 24) | (source[offset + 1]! << 16) | (source[offset + 2]! << 8) | source[offset + 3]!) >>> 0;
}

// Fills in the checksum of a prefix whose header follows it in the same buffer.
export function sealFrame(target: Buffer, offset: number, headerLength: number): void {
  putUint32(target, offset + 28, crc32(target, offset, offset + frameHeaderBytes + headerLength));
}

// Parses and checks a prefix; throws FrameError naming what is wrong.
export function readFramePrefix(source: Buffer, offset: number, headerBytesMax: number, payloadBytesMax: number): FramePrefix {
  if (source[offset] !== 0xa7 || source[offset + 1] !== 0x01) {
    throw new FrameError(`bad magic 0x${source.readUInt16BE(offset).toString(16)}`);
  }
  const version = source[offset + 2];
  if (version !== protocolVersion) throw new FrameError(`unsupported protocol version ${version}`);
  const kind = source[offset + 3]!;
  if (kind < FrameKind.Request || kind > maxKind) throw new FrameError(`unknown frame kind ${kind}`);
  const headerLength = getUint32(source, offset + 16);
  const payloadLength = getUint32(source, offset + 20);
  if (headerLength > headerBytesMax) throw new FrameError(`header of ${headerLength} bytes exceeds ${headerBytesMax}`);
  if (payloadLength > payloadBytesMax) throw new FrameError(`payload of ${payloadLength} bytes exceeds ${payloadBytesMax}`);
  const flags = getUint32(source, offset + 24);
  if (flags !== 0) throw new FrameError(`unknown flags 0x${flags.toString(16)}`);
  return {
    kind,
    method: getUint32(source, offset + 4),
    requestId: getUint32(source, offset + 8),
    deadlineMs: getUint32(source, offset + 12),
    headerLength,
    payloadLength,
    checksum: getUint32(source, offset + 28),
  };
}

const zeroChecksumField = new Uint8Array(4);

// The checksum of a received prefix and header, computed as the sender did (checksum
// field zero) without writing into the received bytes.
function receivedChecksum(prefix: Uint8Array, prefixOffset: number, header: Uint8Array, headerStart: number, headerEnd: number): number {
  let crc = crc32(prefix, prefixOffset, prefixOffset + 28);
  crc = crc32(zeroChecksumField, 0, 4, crc);
  return crc32(header, headerStart, headerEnd, crc);
}

// For a prefix and header that lie side by side at `offset` of `source`.
export function verifyFrameChecksumInPlace(source: Buffer, offset: number, headerLength: number, expected: number): void {
  const headerStart = offset + frameHeaderBytes;
  checkSum(receivedChecksum(source, offset, source, headerStart, headerStart + headerLength), expected);
}

// For a prefix and a header that arrived in different chunks.
export function verifyFrameChecksum(prefixBytes: Buffer, header: Buffer, expected: number): void {
  checkSum(receivedChecksum(prefixBytes, 0, header, 0, header.length), expected);
}

function checkSum(actual: number, expected: number): void {
  if (actual !== expected) throw new FrameError(`header checksum mismatch (expected 0x${expected.toString(16)}, got 0x${actual.toString(16)})`);
}

export { frameHeaderBytes };

// One whole frame in a fresh buffer. The hot path (FrameWriter) batches instead; this is
// for handshakes of raw peers, tools and tests.
export function encodeFrame(kind: FrameKind, method: number, requestId: number, deadlineMs: number, header: Uint8Array, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderBytes + header.length + payload.length);
  writeFramePrefix(frame, 0, kind, method, requestId, deadlineMs, header.length, payload.length);
  frame.set(header, frameHeaderBytes);
  sealFrame(frame, 0, header.length);
  frame.set(payload, frameHeaderBytes + header.length);
  return frame;
}
