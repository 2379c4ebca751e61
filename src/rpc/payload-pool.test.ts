import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EchoRequest, EchoResponse } from '../proto/generated/common.js';
import { RpcClient } from './client.js';
import { encodeFrame, FrameKind } from './frame.js';
import { FrameDecoder } from './frame-decoder.js';
import type { MethodDescriptor } from './method.js';
import { PayloadPool } from './payload-pool.js';
import { RpcServer } from './server.js';

const secret = 'test-cluster-secret-0123456789';
const bufferBytes = 128 * 1024;

test('the pool lends buffers for large payloads only, and takes back each one once', () => {
  const pool = new PayloadPool({ bufferBytes, buffersFreeMax: 2 });
  assert.equal(pool.take(bufferBytes + 1), null, 'over bufferBytes');
  assert.equal(pool.take(bufferBytes / 2 - 1), null, 'under half of it');
  const first = pool.take(bufferBytes)!;
  assert.equal(first.length, bufferBytes);
  pool.give(first);
  pool.give(first); // a second give is ignored
  const again = pool.take(100_000)!;
  assert.equal(again.buffer, first.buffer, 'the buffer given back is lent again');
  const other = pool.take(100_000)!;
  assert.notEqual(other.buffer, first.buffer, 'given back twice, it was lent once');
  pool.give(Buffer.alloc(bufferBytes)); // not from the pool: ignored
  assert.notEqual(pool.take(bufferBytes)!.buffer, other.buffer);
  // At most buffersFreeMax kept.
  const lent = [pool.take(bufferBytes)!, pool.take(bufferBytes)!, pool.take(bufferBytes)!];
  const made = pool.buffersMade;
  for (const buffer of lent) pool.give(buffer);
  for (let index = 0; index < 3; index++) pool.take(bufferBytes);
  assert.equal(pool.buffersMade, made + 1, 'two of the three were kept');
});

test('the decoder joins a payload that spans chunks into a pooled buffer, and leaves one inside a chunk in place', () => {
  const pool = new PayloadPool({ bufferBytes, buffersFreeMax: 4 });
  const decoder = new FrameDecoder(1024, bufferBytes, pool);
  const payload = Buffer.alloc(bufferBytes);
  for (let index = 0; index < payload.length; index++) payload[index] = (index * 7) & 0xff;
  const frame = encodeFrame(FrameKind.Request, 500, 1, 0, Buffer.from('header'), payload);
  // Split as a socket would: 64 KiB pieces.
  for (let at = 0; at < frame.length; at += 65536) decoder.push(frame.subarray(at, at + 65536));
  const decoded = decoder.next()!;
  assert.ok(decoded.payload.equals(payload));
  assert.equal(pool.buffersMade, 1, 'joined into a pooled buffer');
  decoder.push(Buffer.from(frame));
  const whole = decoder.next()!;
  assert.ok(whole.payload.equals(payload));
  assert.equal(pool.buffersMade, 1, 'a payload within one chunk is a view of it');
});

test('a handler that releases its payload has its buffer reused by the next request; one that does not, not', async () => {
  const pool = new PayloadPool({ bufferBytes, buffersFreeMax: 4 });
  const server = new RpcServer({ secret, instance: 'test-server', payloadPool: pool });
  const releasing: MethodDescriptor<EchoRequest, EchoResponse> = { id: 9101, name: 'Test.Releasing', request: EchoRequest, response: EchoResponse };
  const keeping: MethodDescriptor<EchoRequest, EchoResponse> = { id: 9102, name: 'Test.Keeping', request: EchoRequest, response: EchoResponse };
  const seen: Array<{ memory: ArrayBufferLike; copy: Buffer; payload: Buffer }> = [];
  const note = (payload: Buffer) => seen.push({ memory: payload.buffer, copy: Buffer.from(payload), payload });
  server.handle(releasing, (request, context) => {
    note(context.payload);
    context.releasePayload();
    context.releasePayload(); // harmless
    return { sequence: request.sequence, data: new Uint8Array(0) };
  });
  server.handle(keeping, (request, context) => {
    note(context.payload);
    return { sequence: request.sequence, data: new Uint8Array(0) };
  });
  const address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  const client = new RpcClient({ secret, instance: 'test-client' });
  try {
    const payload = (fill: number) => Buffer.alloc(bufferBytes, fill);
    await client.call(address, keeping, { sequence: 1, data: new Uint8Array(0) }, { payload: payload(1) });
    await client.call(address, releasing, { sequence: 2, data: new Uint8Array(0) }, { payload: payload(2) });
    await client.call(address, releasing, { sequence: 3, data: new Uint8Array(0) }, { payload: payload(3) });
    await client.call(address, keeping, { sequence: 4, data: new Uint8Array(0) }, { payload: payload(4) });
    await client.call(address, keeping, { sequence: 5, data: new Uint8Array(0) }, { payload: payload(5) });
    assert.equal(seen.length, 5);
    seen.forEach((entry, index) => assert.ok(entry.copy.equals(payload(index + 1)), `request ${index + 1} arrived whole`));
    // Request 1 was kept: its memory is never lent again, and still holds its bytes.
    assert.ok(seen.slice(1).every((entry) => entry.memory !== seen[0]!.memory));
    assert.ok(seen[0]!.payload.equals(payload(1)));
    // 2 was released, so 3 came in its memory; 3 was released, so 4 did too; 4 was kept.
    assert.equal(seen[2]!.memory, seen[1]!.memory);
    assert.equal(seen[3]!.memory, seen[2]!.memory);
    assert.notEqual(seen[4]!.memory, seen[3]!.memory);
    assert.ok(seen[3]!.payload.equals(payload(4)), 'a kept payload is not written over');
  } finally {
    await client.close();
    await server.stop();
  }
});
