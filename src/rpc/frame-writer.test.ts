import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { EchoResponse } from '../proto/generated/common.js';
import { FrameDecoder } from './frame-decoder.js';
import { FrameKind } from './frame.js';
import { FrameWriter } from './frame-writer.js';

async function socketPair(): Promise<{ client: Socket; server: Socket; close: () => void }> {
  const accepted = new Promise<Socket>((resolve) => {
    const listener = createServer((socket) => {
      listener.close();
      resolve(socket);
    });
    listener.listen(0, '127.0.0.1', () => {
      const port = (listener.address() as { port: number }).port;
      client = connect({ host: '127.0.0.1', port });
    });
  });
  let client: Socket | undefined;
  const server = await accepted;
  return { client: client!, server, close: () => (client!.destroy(), server.destroy()) };
}

test('a payload sender is told when its bytes have left: a small one at once (copied), a large one after its socket write; the frames arrive whole', async () => {
  const { client, server, close } = await socketPair();
  try {
    const writer = new FrameWriter(server, 16 * 1024);
    const events: string[] = [];
    const small = Buffer.alloc(100, 1);
    const large = Buffer.alloc(1 << 20, 2);
    const response = EchoResponse.create({});
    writer.enqueueMessage(FrameKind.Response, 1, 1, 0, EchoResponse, response, EchoResponse.encodedSize(response), small, () => events.push('small'));
    writer.enqueueMessage(FrameKind.Response, 1, 2, 0, EchoResponse, response, EchoResponse.encodedSize(response), large, () => events.push('large'));
    assert.deepEqual(events, ['small'], 'the small payload was copied into the batch; the large one waits for its write');
    const decoder = new FrameDecoder(1024, 2 << 20);
    const frames = await new Promise<Array<{ requestId: number; payload: Buffer }>>((resolve) => {
      const got: Array<{ requestId: number; payload: Buffer }> = [];
      client.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
        for (let frame = decoder.next(); frame !== null; frame = decoder.next()) got.push({ requestId: frame.requestId, payload: Buffer.from(frame.payload) });
        if (got.length === 2) resolve(got);
      });
    });
    assert.deepEqual(frames.map((frame) => frame.requestId), [1, 2]);
    assert.ok(frames[0]!.payload.equals(small) && frames[1]!.payload.equals(large));
    assert.deepEqual(events, ['small', 'large']);
  } finally {
    close();
  }
});

test('a payload never written (the writer closed first) is never reported as sent', async () => {
  const { close, server } = await socketPair();
  try {
    const writer = new FrameWriter(server, 16 * 1024);
    let sent = false;
    const response = EchoResponse.create({});
    writer.enqueueMessage(FrameKind.Response, 1, 1, 0, EchoResponse, response, EchoResponse.encodedSize(response), Buffer.alloc(1 << 20), () => (sent = true));
    writer.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(sent, false);
  } finally {
    close();
  }
});
