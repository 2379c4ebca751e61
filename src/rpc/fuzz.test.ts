// Bad input to the frame decoder and to a live server: random, truncated, oversized and
// corrupted frames, wrong methods, headers that do not decode, broken handshakes. The
// decoder must only ever return frames or throw FrameError, holding bounded memory; the
// server must close the offending connection with a logged reason and keep serving.
//
// Seeded: the seed is printed; ATOLL_FUZZ_SEED replays it, ATOLL_FUZZ_SCALE multiplies
// the number of cases (default 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { createRandom, type Random } from '../random/index.js';
import { EchoRequest, HandshakeAccept, HandshakeChallenge, HandshakeResponse, StatusCode } from '../proto/generated/common.js';
import { AtollError } from '../errors/atoll-error.js';
import { FrameDecoder, FrameError } from './frame-decoder.js';
import { encodeFrame, FrameKind, frameHeaderBytes } from './frame.js';
import { clientProof, newNonce } from './handshake.js';
import { RpcClient } from './client.js';
import { RpcServer } from './server.js';
import { echoMethod, registerDiagnostics } from './diagnostics.js';
import { protocolVersion } from './limits.js';
import { createServer } from 'node:net';

const seed = process.env.ATOLL_FUZZ_SEED !== undefined ? Number(process.env.ATOLL_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const scale = Math.max(1, Number(process.env.ATOLL_FUZZ_SCALE ?? '1'));
console.log(`rpc fuzz: seed ${seed} (replay with ATOLL_FUZZ_SEED=${seed}), scale ${scale}`);

const secret = 'fuzz-cluster-secret-0123456789';

function randomBytes(random: Random, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index++) bytes[index] = random.nextInt(256);
  return bytes;
}

function randomFrame(random: Random): Buffer {
  const header = randomBytes(random, random.nextInt(4) === 0 ? 0 : random.nextInt(200));
  const payload = randomBytes(random, random.nextInt(3) === 0 ? random.nextInt(5000) : 0);
  return encodeFrame(1 + random.nextInt(8), random.nextUint32(), random.nextUint32(), random.nextInt(10_000), header, payload);
}

// Damage a stream the way a broken or hostile peer would.
function mutate(random: Random, stream: Buffer): Buffer {
  const copy = Buffer.from(stream);
  switch (random.nextInt(6)) {
    case 0: // flip bytes anywhere
      for (let flips = 1 + random.nextInt(4); flips > 0; flips--) copy[random.nextInt(copy.length)] ^= 1 + random.nextInt(255);
      return copy;
    case 1: // truncate
      return copy.subarray(0, random.nextInt(copy.length));
    case 2: // garbage in between
      return Buffer.concat([copy.subarray(0, random.nextInt(copy.length)), randomBytes(random, 1 + random.nextInt(64)), copy]);
    case 3: // a huge length in the first prefix
      copy.writeUInt32BE((random.nextUint32() | 0x0100_0000) >>> 0, random.nextInt(2) === 0 ? 16 : 20);
      return copy;
    case 4: // pure noise
      return randomBytes(random, 1 + random.nextInt(300));
    default: // an unknown kind or flags
      copy[3] = 10 + random.nextInt(240);
      return copy;
  }
}

function splitRandomly(random: Random, stream: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset < stream.length) {
    const size = 1 + random.nextInt(random.nextInt(2) === 0 ? 16 : 4096);
    chunks.push(stream.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

test('the frame decoder returns frames or throws FrameError on any input, holding bounded memory', () => {
  const random = createRandom(seed);
  const headerBytesMax = 256;
  const payloadBytesMax = 8192;
  const cases = 4000 * scale;
  let decodedFrames = 0;
  let frameErrors = 0;
  for (let index = 0; index < cases; index++) {
    const frames = Array.from({ length: 1 + random.nextInt(5) }, () => randomFrame(random));
    const clean = Buffer.concat(frames);
    const damaged = index % 5 !== 0;
    const stream = damaged ? mutate(random, clean) : clean;
    const decoder = new FrameDecoder(headerBytesMax, payloadBytesMax);
    const seen: Buffer[] = [];
    try {
      for (const chunk of splitRandomly(random, stream)) {
        decoder.push(chunk);
        // Never more than one frame's worth plus the chunk being parsed.
        assert.ok(decoder.bufferedBytes <= frameHeaderBytes + headerBytesMax + payloadBytesMax + chunk.length, `case ${index}: ${decoder.bufferedBytes} bytes held`);
        for (let frame = decoder.next(); frame !== null; frame = decoder.next()) {
          seen.push(frame.header);
          decodedFrames += 1;
        }
      }
    } catch (error) {
      if (!(error instanceof FrameError)) throw new Error(`case ${index} (seed ${seed}): decoder threw ${String(error)}`);
      frameErrors += 1;
      assert.ok(damaged, `case ${index} (seed ${seed}): a clean stream was refused: ${error.message}`);
      continue;
    }
    if (!damaged) {
      assert.equal(seen.length, frames.length, `case ${index}: every clean frame decoded`);
      seen.forEach((header, frameIndex) => assert.ok(header.equals(frames[frameIndex]!.subarray(frameHeaderBytes, frameHeaderBytes + header.length))));
    }
  }
  assert.ok(decodedFrames > cases && frameErrors > cases / 4, `both paths exercised (${decodedFrames} frames, ${frameErrors} errors)`);
});

// A raw peer: the test speaks the protocol by hand so that it can break it anywhere.
class RawPeer {
  private readonly decoder = new FrameDecoder(1 << 20, 1 << 20);
  private readonly frames: Array<{ kind: number; header: Buffer; requestId: number }> = [];
  closed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      try {
        for (let frame = this.decoder.next(); frame !== null; frame = this.decoder.next()) this.frames.push(frame);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawPeer(socket);
  }

  async nextFrame(timeoutMs = 3000): Promise<{ kind: number; header: Buffer; requestId: number } | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed || Date.now() > deadline) return null;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return this.frames.shift()!;
  }

  async authenticate(): Promise<void> {
    const challengeFrame = await this.nextFrame();
    assert.ok(challengeFrame !== null && challengeFrame.kind === FrameKind.Challenge, 'server sends a challenge first');
    const challenge = HandshakeChallenge.decode(challengeFrame.header);
    const clientNonce = newNonce();
    const response = HandshakeResponse.encode({
      protocolVersion,
      clientNonce,
      clientProof: clientProof(Buffer.from(secret), challenge.serverNonce, clientNonce, 'raw-peer'),
      clientInstance: 'raw-peer',
    });
    this.socket.write(encodeFrame(FrameKind.Handshake, 0, 0, 0, response));
    const accept = await this.nextFrame();
    assert.ok(accept !== null && accept.kind === FrameKind.Accept, 'handshake accepted');
  }

  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

test('a live server survives random, corrupted and hostile frames and keeps serving others', async () => {
  const random = createRandom(seed + 1);
  const logged: string[] = [];
  const logger = { debug() {}, info() {}, warn: (fields: object, message: string) => logged.push(`${message}: ${(fields as { reason?: string }).reason}`), error() {} };
  const server = new RpcServer({ secret, instance: 'fuzz-server', logger, limits: { headerBytesMax: 4096, payloadBytesMax: 65536, handshakeTimeoutMs: 500 } });
  registerDiagnostics(server);
  const port = await server.listen('127.0.0.1', 0);
  const healthy = new RpcClient({ secret, instance: 'healthy' });
  const heapBefore = process.memoryUsage().heapUsed;
  const cases = 300 * scale;
  const outcomes = new Map<string, number>();
  const count = (name: string) => outcomes.set(name, (outcomes.get(name) ?? 0) + 1);
  try {
    for (let index = 0; index < cases; index++) {
      const peer = await RawPeer.connect(port);
      const scenario = random.nextInt(6);
      if (scenario === 0) {
        // Noise before any handshake.
        peer.socket.write(randomBytes(random, 1 + random.nextInt(2000)));
        assert.ok(await peer.waitClosed(), `case ${index}: noise before the handshake closes the connection`);
        count('noise-before-handshake');
      } else if (scenario === 1) {
        // A handshake with a forged proof, a wrong version or a header that does not decode.
        await peer.nextFrame();
        const variant = random.nextInt(3);
        const header =
          variant === 0
            ? HandshakeResponse.encode({ protocolVersion, clientNonce: newNonce(), clientProof: randomBytes(random, 32), clientInstance: 'forger' })
            : variant === 1
              ? HandshakeResponse.encode({ protocolVersion: 2 + random.nextInt(100), clientNonce: newNonce(), clientProof: randomBytes(random, 32), clientInstance: 'future' })
              : randomBytes(random, 1 + random.nextInt(100));
        peer.socket.write(encodeFrame(FrameKind.Handshake, 0, 0, 0, header));
        const refusal = await peer.nextFrame();
        if (refusal !== null) {
          assert.equal(refusal.kind, FrameKind.Error);
          assert.ok(refusal.requestId === 0);
        }
        assert.ok(await peer.waitClosed(), `case ${index}: a bad handshake closes the connection`);
        count('bad-handshake');
      } else if (scenario === 2) {
        // Authenticated, then garbage or a damaged frame: closed with a reason.
        await peer.authenticate();
        const valid = encodeFrame(FrameKind.Request, echoMethod.id, 1, 1000, EchoRequest.encode({ sequence: 1, data: randomBytes(random, 20) }));
        const bytes = mutate(random, valid);
        peer.socket.write(bytes);
        // A truncation that leaves a valid prefix waits for more bytes: that is correct, the
        // peer simply has not finished. End it and move on.
        const frame = await peer.nextFrame(300);
        if (frame !== null && frame.kind === FrameKind.Response) count('damage-that-still-parsed');
        else count('damaged-frame');
        peer.destroy();
      } else if (scenario === 3) {
        // Authenticated, a well-formed frame for an unknown method or with a header that
        // does not decode: an error answer, and the connection stays usable.
        await peer.authenticate();
        const unknown = random.nextInt(2) === 0;
        const method = unknown ? 60_000 + random.nextInt(1000) : echoMethod.id;
        const header = unknown ? EchoRequest.encode({ sequence: 2, data: Buffer.alloc(0) }) : Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        peer.socket.write(encodeFrame(FrameKind.Request, method, 7, 1000, header));
        const answer = await peer.nextFrame();
        assert.ok(answer !== null && answer.kind === FrameKind.Error && answer.requestId === 7, `case ${index}: an error answer`);
        peer.socket.write(encodeFrame(FrameKind.Request, echoMethod.id, 8, 1000, EchoRequest.encode({ sequence: 8, data: Buffer.alloc(0) })));
        const after = await peer.nextFrame();
        assert.ok(after !== null && after.kind === FrameKind.Response && after.requestId === 8, `case ${index}: connection still serves`);
        count(unknown ? 'unknown-method' : 'undecodable-header');
        peer.destroy();
      } else if (scenario === 4) {
        // Authenticated, then frames that announce more than the limits allow.
        await peer.authenticate();
        const oversized = encodeFrame(FrameKind.Request, echoMethod.id, 3, 1000, Buffer.alloc(0));
        oversized.writeUInt32BE(random.nextInt(2) === 0 ? 5000 + random.nextInt(1e6) : 0, 16);
        oversized.writeUInt32BE(70_000 + random.nextInt(1e9), 20);
        peer.socket.write(oversized);
        assert.ok(await peer.waitClosed(), `case ${index}: oversized frame closes the connection`);
        count('oversized');
      } else {
        // Never finishes the handshake: cut off by the handshake timeout (only a few of
        // these, since each waits for it).
        if (random.nextInt(10) === 0) {
          assert.ok(await peer.waitClosed(2000), `case ${index}: silent peer is cut off`);
          count('silent');
        } else {
          peer.socket.write(randomFrame(random));
          await peer.waitClosed(1000);
          count('random-frame-before-handshake');
          peer.destroy();
        }
      }
      // The server still serves a well-behaved client after every case.
      if (index % 10 === 0) assert.equal((await healthy.call(`127.0.0.1:${port}`, echoMethod, { sequence: index, data: Buffer.alloc(0) })).sequence, index);
    }
    assert.ok(logged.some((line) => /bad frame/.test(line)), 'bad frames are logged with a reason');
    assert.ok(logged.some((line) => /authentication failed/.test(line)), 'failed authentication is logged');
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(heapGrowth < 256 * 1024 * 1024, `heap grew ${heapGrowth} bytes`);
    console.log(`rpc fuzz: ${cases} connections: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    // Everything the fuzz opened is gone (connections close asynchronously).
    const deadline = Date.now() + 5000;
    while (server.connectionCount > 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(server.connectionCount, 1, 'only the healthy client remains connected');
  } finally {
    await healthy.close();
    await server.stop();
  }
});

test('a peer that stops in the middle of a frame is cut off; an idle one is not', async () => {
  const server = new RpcServer({ secret, instance: 'stall-server', limits: { frameStallTimeoutMs: 200 } });
  registerDiagnostics(server);
  const port = await server.listen('127.0.0.1', 0);
  try {
    const idle = await RawPeer.connect(port);
    await idle.authenticate();
    const stalled = await RawPeer.connect(port);
    await stalled.authenticate();
    const frame = encodeFrame(FrameKind.Request, echoMethod.id, 1, 1000, EchoRequest.encode({ sequence: 1, data: Buffer.alloc(10) }));
    stalled.socket.write(frame.subarray(0, frame.length - 3));
    assert.ok(await stalled.waitClosed(3000), 'the stalled peer is closed');
    assert.ok(!idle.closed, 'the idle peer stays connected');
    idle.socket.write(frame);
    const answer = await idle.nextFrame();
    assert.ok(answer !== null && answer.kind === FrameKind.Response);
    idle.destroy();
  } finally {
    await server.stop();
  }
});

test('a peer that ignores the advertised window cannot run more than inflightRequestsMax handlers', async () => {
  const server = new RpcServer({ secret, instance: 'window-server', limits: { inflightRequestsMax: 4 } });
  const slow = { ...echoMethod, id: 9100, name: 'Slow' };
  let running = 0;
  let peak = 0;
  const releases: Array<() => void> = [];
  server.handle(slow, (request) => {
    running += 1;
    peak = Math.max(peak, running);
    return new Promise((resolve) => releases.push(() => { running -= 1; resolve(request); }));
  });
  const port = await server.listen('127.0.0.1', 0);
  const peer = await RawPeer.connect(port);
  try {
    await peer.authenticate();
    const burst = Buffer.concat(Array.from({ length: 200 }, (_, index) => encodeFrame(FrameKind.Request, slow.id, index + 1, 10_000, EchoRequest.encode({ sequence: index, data: Buffer.alloc(0) }))));
    peer.socket.write(burst);
    let answered = 0;
    while (answered < 200) {
      const deadline = Date.now() + 5000;
      while (releases.length === 0) {
        assert.ok(Date.now() < deadline, `handler ${answered} never started`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      releases.shift()!();
      const response = await peer.nextFrame();
      assert.ok(response !== null && response.kind === FrameKind.Response, 'every request is answered in the end');
      answered += 1;
    }
    assert.ok(peak <= 4, `at most 4 handlers at once, saw ${peak}`);
  } finally {
    peer.destroy();
    await server.stop();
  }
});

test('a one-way request gets no frame back: the next frame answers the call sent after it', async () => {
  const server = new RpcServer({ secret, instance: 'one-way-server' });
  let handled = 0;
  server.handle(echoMethod, (request) => {
    handled += 1;
    return request;
  });
  const port = await server.listen('127.0.0.1', 0);
  const peer = await RawPeer.connect(port);
  try {
    await peer.authenticate();
    for (let sequence = 1; sequence <= 3; sequence++) peer.socket.write(encodeFrame(FrameKind.Notify, echoMethod.id, 0, 0, EchoRequest.encode({ sequence, data: Buffer.alloc(0) })));
    peer.socket.write(encodeFrame(FrameKind.Request, echoMethod.id, 9, 1000, EchoRequest.encode({ sequence: 9, data: Buffer.alloc(0) })));
    const answer = await peer.nextFrame();
    assert.ok(answer !== null && answer.kind === FrameKind.Response && answer.requestId === 9, `the call's answer comes first, got ${JSON.stringify(answer && { kind: answer.kind, requestId: answer.requestId })}`);
    assert.equal(handled, 4, 'the three one-way requests ran before the call');
    assert.equal(await peer.nextFrame(200), null, 'and nothing else follows');
  } finally {
    peer.destroy();
    await server.stop();
  }
});

test('a client refuses a server that cannot prove it holds the secret', async () => {
  // An impostor that accepts anything and answers with a made-up proof.
  const impostor = createServer((socket) => {
    const decoder = new FrameDecoder(4096, 0);
    socket.on('error', () => {});
    socket.write(encodeFrame(FrameKind.Challenge, 0, 0, 0, HandshakeChallenge.encode({ protocolVersion, serverNonce: newNonce(), serverInstance: 'impostor' })));
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let frame = decoder.next(); frame !== null; frame = decoder.next()) {
        if (frame.kind === FrameKind.Handshake) {
          socket.write(encodeFrame(FrameKind.Accept, 0, 0, 0, HandshakeAccept.encode({ serverProof: Buffer.alloc(32, 7), frameBytesMax: 0, inflightRequestsMax: 0 })));
        }
      }
    });
  });
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
  const port = (impostor.address() as { port: number }).port;
  const client = new RpcClient({ secret, instance: 'victim' });
  try {
    await assert.rejects(client.call(`127.0.0.1:${port}`, echoMethod, { sequence: 1, data: Buffer.alloc(0) }), (error: AtollError) => {
      assert.equal(error.status, StatusCode.UNAUTHENTICATED);
      assert.match(error.message, /failed to prove/);
      return true;
    });
  } finally {
    await client.close();
    await new Promise((resolve) => impostor.close(resolve));
  }
});
