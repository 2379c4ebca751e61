// ExtentWriter against a stand-in datanode (the RPC client and the partition router of
// this module only): what each packet carries when it is sent and when it is answered,
// and which buffers the writer uses again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '../checksum/index.js';
import { AtollError, StatusCode } from '../errors/index.js';
import type { PartitionRouter } from '../masterclient/partition-router.js';
import type { RpcClient } from '../rpc/index.js';
import { ExtentWriter } from './extent-writer.js';
import { buildDataClientLimits } from './limits.js';

interface Sent {
  readonly extentId: number;
  readonly offset: number;
  readonly crc: number;
  readonly payload: Uint8Array;
}

/** A datanode that keeps what it was sent and answers each write on a later turn. */
function standIn(options: { failWrite?: (index: number) => boolean } = {}) {
  const sent: Sent[] = [];
  const stored = new Map<number, Uint8Array[]>();
  let nextExtent = 1;
  let writes = 0;
  const rpc = {
    call: async (_address: string, method: { name: string }, request: Record<string, number>, callOptions: { payload?: Uint8Array }) => {
      if (method.name === 'CreateExtent') return { extentId: nextExtent++ };
      assert.equal(method.name, 'Write');
      const payload = callOptions.payload!;
      const index = writes++;
      const entry = { extentId: request.extentId!, offset: request.offset!, crc: request.crc32!, payload };
      sent.push(entry);
      // The bytes must match their CRC when sent and still when answered.
      assert.equal(crc32(payload), entry.crc, `write ${index}: bytes changed before the send`);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(crc32(payload), entry.crc, `write ${index}: bytes changed while in flight`);
      if (options.failWrite?.(index) === true) throw new AtollError(StatusCode.UNAVAILABLE, `write ${index} refused by the test`);
      const pieces = stored.get(entry.extentId) ?? [];
      pieces.push(Uint8Array.prototype.slice.call(payload)); // a copy (Buffer's slice is a view)
      stored.set(entry.extentId, pieces);
      return {};
    },
  } as unknown as RpcClient;
  const router = {
    volume: 'test',
    writablePartitions: async () => [7],
    refresh: async () => undefined,
    call: async <T>(_partitionId: number, _options: unknown, call: (address: string) => Promise<T>) => ({ result: await call('127.0.0.1:1'), address: '127.0.0.1:1' }),
  } as unknown as PartitionRouter;
  return { rpc, router, sent, stored };
}

function fileBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * 131 + (index >>> 11)) & 0xff;
  return bytes;
}

test('acknowledged packet buffers are used again, and every byte arrives as written', async () => {
  const limits = buildDataClientLimits({ packetBytes: 4096, windowPackets: 4, extentBytesMax: 1024 * 1024 });
  const datanode = standIn();
  const writer = new ExtentWriter(datanode.rpc, datanode.router, limits);
  const data = fileBytes(200 * 4096 + 100);
  // Written in uneven pieces (bounded: 200 packets' worth).
  for (let at = 0; at < data.length; at += 3000) await writer.write(data.subarray(at, Math.min(data.length, at + 3000)));
  const { keys } = await writer.finish();
  assert.deepEqual(
    keys.map((key) => [key.fileOffset, key.size]),
    [[0, data.length]],
  );
  const received = Buffer.concat(datanode.stored.get(keys[0]!.extentId)!);
  assert.ok(received.equals(data), `the extent holds the file bytes in order: ${received.length} vs ${data.length}, first difference at ${received.findIndex((byte, at) => byte !== data[at])}`);
  // The window in flight, as many queued and the one being filled: 2 x 4 + 1, far fewer
  // than the 201 packets.
  assert.ok(writer.buffersMade <= 2 * limits.windowPackets + 2, `${writer.buffersMade} buffers for ${datanode.sent.length} packets`);
  assert.ok(new Set(datanode.sent.map((entry) => entry.payload.buffer)).size <= 2 * limits.windowPackets + 2);
});

test('a packet sent again after a failure keeps its buffer: the failed send may still be in a socket', async () => {
  const limits = buildDataClientLimits({ packetBytes: 4096, windowPackets: 4, extentBytesMax: 1024 * 1024, backoffInitialMs: 1, backoffMaxMs: 1 });
  const datanode = standIn({ failWrite: (index) => index === 5 });
  const writer = new ExtentWriter(datanode.rpc, datanode.router, limits);
  const data = fileBytes(60 * 4096);
  for (let at = 0; at < data.length; at += 4096) await writer.write(data.subarray(at, at + 4096));
  const { keys, abandoned } = await writer.finish();
  assert.equal(abandoned.length, 1);
  const received = Buffer.concat(keys.map((key) => Buffer.concat(datanode.stored.get(key.extentId)!).subarray(0, key.size)));
  assert.ok(received.equals(data), 'the file reads back across both extents');
  // The failed send and those after it on the abandoned extent (all sent again) still
  // hold the bytes they were sent with: no buffer sent twice was filled again. Buffers of
  // packets acknowledged at their one send were (the first test).
  const failedExtent = abandoned[0]!.extentId;
  const resent = datanode.sent.filter((entry, index) => index >= 5 && entry.extentId === failedExtent);
  assert.ok(resent.length >= 1);
  for (const entry of resent) assert.equal(crc32(entry.payload), entry.crc, `the send at offset ${entry.offset} of the abandoned extent was overwritten`);
  const reused = datanode.sent.filter((entry) => entry.extentId !== failedExtent && crc32(entry.payload) !== entry.crc);
  assert.ok(reused.length > 0, 'buffers of packets acknowledged once were used again');
});
