import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FrameError } from './frame-decoder.js';
import { encodeFrame, FrameKind, frameHeaderBytes } from './frame.js';

const header = Buffer.from('a protobuf header of some length');
const payload = Buffer.from('bulk bytes beside the header');

function decodeAll(stream: Buffer, chunkSize: number): ReturnType<FrameDecoder['next']>[] {
  const decoder = new FrameDecoder(1024, 1024);
  const frames = [];
  for (let offset = 0; offset < stream.length; offset += chunkSize) {
    decoder.push(stream.subarray(offset, offset + chunkSize));
    for (let frame = decoder.next(); frame !== null; frame = decoder.next()) frames.push(frame);
  }
  return frames;
}

test('frames decode whole whatever the chunk boundaries', () => {
  const frames = [encodeFrame(FrameKind.Request, 7, 1, 500, header, payload), encodeFrame(FrameKind.Response, 7, 1, 0, new Uint8Array(0)), encodeFrame(FrameKind.Cancel, 9, 2, 0, header)];
  const stream = Buffer.concat(frames);
  for (let chunkSize = 1; chunkSize <= stream.length; chunkSize++) {
    const decoded = decodeAll(stream, chunkSize);
    assert.equal(decoded.length, 3, `chunk size ${chunkSize}`);
    assert.equal(decoded[0]!.method, 7);
    assert.equal(decoded[0]!.deadlineMs, 500);
    assert.ok(decoded[0]!.header.equals(header));
    assert.ok(decoded[0]!.payload.equals(payload));
    assert.equal(decoded[1]!.header.length, 0);
    assert.equal(decoded[2]!.kind, FrameKind.Cancel);
  }
});

test('a change to any byte of the prefix or the header is detected, at any chunking', () => {
  const clean = encodeFrame(FrameKind.Request, 7, 1, 500, header, payload);
  for (let position = 0; position < frameHeaderBytes + header.length; position++) {
    for (const chunkSize of [1, 13, clean.length]) {
      // Trailing bytes, so that a damaged length that grew has something to read and the
      // checksum, not a wait for more bytes, decides.
      const damaged = Buffer.concat([clean, Buffer.alloc(256)]);
      damaged[position] ^= 0x40;
      assert.throws(() => decodeAll(damaged, chunkSize), FrameError, `byte ${position} changed, chunk size ${chunkSize}`);
    }
  }
});

test('lengths beyond the limits are refused from the prefix alone', () => {
  const decoder = new FrameDecoder(16, 16);
  decoder.push(encodeFrame(FrameKind.Request, 1, 1, 0, Buffer.alloc(17)).subarray(0, frameHeaderBytes));
  assert.throws(() => decoder.next(), /header of 17 bytes exceeds 16/);
  const payloadDecoder = new FrameDecoder(16, 16);
  payloadDecoder.push(encodeFrame(FrameKind.Request, 1, 1, 0, Buffer.alloc(1), Buffer.alloc(17)).subarray(0, frameHeaderBytes));
  assert.throws(() => payloadDecoder.next(), /payload of 17 bytes exceeds 16/);
});
