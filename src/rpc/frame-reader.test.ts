import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../random/index.js';
import { FrameDecoder, FrameError, type Frame } from './frame-decoder.js';
import { FrameReader } from './frame-reader.js';
import { encodeFrame, FrameKind, frameHeaderBytes } from './frame.js';

// Plays a socket with `onread`: each read puts up to `readBytes` of the stream into the
// buffer the reader hands out, then the frames are drained, as the connection does.
function readAll(reader: FrameReader, stream: Buffer, readBytes: () => number): Frame[] {
  const frames: Frame[] = [];
  let position = 0;
  // Bounded: every turn reads at least one byte.
  while (position < stream.length) {
    const into = reader.buffer();
    const count = Math.min(into.length, readBytes(), stream.length - position);
    assert.ok(count > 0, 'the reader handed out an empty buffer');
    into.set(stream.subarray(position, position + count));
    position += count;
    reader.read(count);
    for (let frame = reader.next(); frame !== null; frame = reader.next()) frames.push(frame);
  }
  return frames;
}

test('frames of every size come out whole and keep their bytes after the scratch buffer is read into again', () => {
  const seed = 31337;
  const random = createRandom(seed);
  const sent: Array<{ header: Buffer; payload: Buffer; requestId: number }> = [];
  for (let index = 0; index < 300; index++) {
    const headerBytes = random.nextInt(200);
    const payloadBytes = [0, random.nextInt(100), random.nextInt(5000), 4096 + random.nextInt(70_000), 200_000 + random.nextInt(900_000)][random.nextInt(5)]!;
    const header = Buffer.alloc(headerBytes, index & 0xff);
    const payload = Buffer.alloc(payloadBytes);
    for (let at = 0; at < payloadBytes; at += 997) payload[at] = random.nextInt(256);
    sent.push({ header, payload, requestId: index + 1 });
  }
  const stream = Buffer.concat(sent.map((frame) => encodeFrame(FrameKind.Response, 3, frame.requestId, 0, frame.header, frame.payload)));
  for (const directBytesMin of [64 * 1024, 1]) {
    const reader = new FrameReader(new FrameDecoder(1024, 2 * 1024 * 1024), 16 * 1024, directBytesMin);
    const frames = readAll(reader, stream, () => [1, 7, 100, 4096, 65536, 1 << 20][random.nextInt(6)]!);
    assert.equal(frames.length, sent.length, `seed ${seed}`);
    for (let index = 0; index < sent.length; index++) {
      assert.equal(frames[index]!.requestId, sent[index]!.requestId, `seed ${seed}: frame ${index}`);
      assert.ok(frames[index]!.header.equals(sent[index]!.header), `seed ${seed}: header of frame ${index}`);
      assert.ok(frames[index]!.payload.equals(sent[index]!.payload), `seed ${seed}: payload of frame ${index} (${sent[index]!.payload.length} bytes)`);
    }
  }
});

test('a large frame is read in place: its payload is a view of one buffer of the whole frame', () => {
  const payload = Buffer.alloc(300_000, 5);
  const header = Buffer.from('header');
  const stream = Buffer.concat([encodeFrame(FrameKind.Response, 1, 1, 0, header, payload), encodeFrame(FrameKind.Response, 1, 2, 0, header)]);
  const reader = new FrameReader(new FrameDecoder(1024, 1 << 20), 64 * 1024, 64 * 1024);
  const reads: number[] = [];
  const frames = readAll(reader, stream, () => {
    reads.push(0);
    return 65536;
  });
  assert.equal(frames.length, 2);
  assert.equal(frames[0]!.payload.buffer.byteLength, frameHeaderBytes + header.length + payload.length);
  assert.ok(frames[0]!.payload.equals(payload));
  // The first read brings the prefix; the rest of the frame goes into its own buffer in
  // reads as large as the socket gives (here 64 KiB), then the small frame after it.
  assert.ok(reads.length <= Math.ceil(stream.length / 65536) + 2, `${reads.length} reads`);
});

test('a damaged frame is refused whether it arrives in the scratch buffer or in place', () => {
  for (const payloadBytes of [10, 200_000]) {
    const clean = encodeFrame(FrameKind.Response, 1, 1, 0, Buffer.from('header'), Buffer.alloc(payloadBytes));
    const damaged = Buffer.concat([clean, Buffer.alloc(64)]);
    damaged[frameHeaderBytes + 2] ^= 0x10;
    const reader = new FrameReader(new FrameDecoder(1024, 1 << 20), 16 * 1024, 64 * 1024);
    assert.throws(() => readAll(reader, damaged, () => 4096), FrameError, `${payloadBytes}-byte payload`);
  }
});
