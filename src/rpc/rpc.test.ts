import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode, EchoRequest, EchoResponse } from '../proto/generated/common.js';
import { RpcClient } from './client.js';
import { RpcServer } from './server.js';
import { echoMethod, registerDiagnostics } from './diagnostics.js';
import type { MethodDescriptor } from './method.js';
import type { RpcLimits } from './limits.js';
import type { RpcLogger } from './logger.js';

const secret = 'test-cluster-secret-0123456789';

// Methods that exist only in these tests, to reach server behaviour Echo cannot.
const failMethod: MethodDescriptor<EchoRequest, EchoResponse> = { id: 9001, name: 'Test.Fail', request: EchoRequest, response: EchoResponse };
const slowMethod: MethodDescriptor<EchoRequest, EchoResponse> = { id: 9002, name: 'Test.Slow', request: EchoRequest, response: EchoResponse };
const unknownMethod: MethodDescriptor<EchoRequest, EchoResponse> = { id: 9999, name: 'Test.Unknown', request: EchoRequest, response: EchoResponse };

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function recordingLogger(): RpcLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (fields: object, message: string) => lines.push({ level, fields: fields as Record<string, unknown>, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function startServer(options: { limits?: Partial<RpcLimits>; secret?: string } = {}) {
  const logger = recordingLogger();
  const server = new RpcServer({ secret: options.secret ?? secret, instance: 'test-server', logger, limits: options.limits });
  registerDiagnostics(server);
  const port = await server.listen('127.0.0.1', 0);
  return { server, logger, address: `127.0.0.1:${port}` };
}

function echo(sequence: number, text = 'hello'): EchoRequest {
  return { sequence, data: Buffer.from(text) };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('echo round trip carries header and payload', async () => {
  const { server, address } = await startServer();
  const client = new RpcClient({ secret, instance: 'test-client' });
  try {
    const response = await client.call(address, echoMethod, echo(7, 'small'));
    assert.equal(response.sequence, 7);
    assert.equal(Buffer.from(response.data).toString(), 'small');
    const payload = Buffer.alloc(3 * 1024 * 1024 + 17, 0xab);
    payload[12345] = 0x01;
    const reply = await client.callWithPayload(address, echoMethod, echo(8), { payload });
    assert.equal(reply.response.sequence, 8);
    assert.ok(reply.payload.equals(payload), 'payload echoed byte for byte');
  } finally {
    await client.close();
    await server.stop();
  }
});

test('many calls in flight on one connection are matched to their responses', async () => {
  const { server, address } = await startServer();
  const client = new RpcClient({ secret, instance: 'test-client' });
  try {
    const calls = [];
    for (let sequence = 0; sequence < 2000; sequence++) {
      const size = sequence % 7 === 0 ? 40_000 : sequence % 3;
      calls.push(client.callWithPayload(address, echoMethod, echo(sequence, `n${sequence}`), { payload: Buffer.alloc(size, sequence & 0xff) }));
    }
    const replies = await Promise.all(calls);
    replies.forEach((reply, sequence) => {
      assert.equal(reply.response.sequence, sequence);
      assert.equal(Buffer.from(reply.response.data).toString(), `n${sequence}`);
      assert.equal(reply.payload.length, sequence % 7 === 0 ? 40_000 : sequence % 3);
      if (reply.payload.length > 0) assert.equal(reply.payload[reply.payload.length - 1], sequence & 0xff);
    });
    assert.equal(server.connectionCount, 1);
  } finally {
    await client.close();
    await server.stop();
  }
});

test('a handler error reaches the caller with its status and leader hint; a bug becomes INTERNAL', async () => {
  const { server, address, logger } = await startServer();
  server.handle(failMethod, (request) => {
    if (request.sequence === 1) throw new AtollError(StatusCode.NOT_LEADER, 'not the leader', { leaderHint: '127.0.0.1:17010' });
    if (request.sequence === 2) return Promise.reject(new AtollError(StatusCode.PARTITION_NOT_READY, 'partition 5 loading'));
    if (request.sequence === 9) return { sequence: -9, data: new Uint8Array(0) };
    throw new TypeError('a bug in the handler');
  });
  const client = new RpcClient({ secret, instance: 'test-client' });
  try {
    await assert.rejects(client.call(address, failMethod, echo(1)), (error: AtollError) => {
      assert.equal(error.status, StatusCode.NOT_LEADER);
      assert.equal(error.leaderHint, '127.0.0.1:17010');
      assert.equal(error.retryable, true);
      assert.equal(error.code, 'EAGAIN');
      return true;
    });
    await assert.rejects(client.call(address, failMethod, echo(2)), (error: AtollError) => error.status === StatusCode.PARTITION_NOT_READY && error.retryable);
    await assert.rejects(client.call(address, failMethod, echo(3)), (error: AtollError) => {
      assert.equal(error.status, StatusCode.INTERNAL);
      assert.doesNotMatch(error.message, /TypeError/, 'internals are logged, not sent');
      return true;
    });
    assert.ok(logger.lines.some((line) => line.level === 'error' && line.message === 'rpc handler failed'));
    await assert.rejects(client.call(address, unknownMethod, echo(4)), (error: AtollError) => error.status === StatusCode.UNKNOWN_METHOD);
    // A response that cannot be encoded is the handler's bug: INTERNAL, connection kept.
    await assert.rejects(client.call(address, failMethod, echo(9)), (error: AtollError) => error.status === StatusCode.INTERNAL);
    // A request that cannot be encoded never leaves the client.
    await assert.rejects(client.call(address, echoMethod, { sequence: -1, data: new Uint8Array(0) }), (error: AtollError) => error.status === StatusCode.INVALID_ARGUMENT);
    // The connection survived all of that.
    assert.equal((await client.call(address, echoMethod, echo(5))).sequence, 5);
    assert.equal(server.connectionCount, 1);
  } finally {
    await client.close();
    await server.stop();
  }
});

test('a deadline fails the call with TIMEOUT and aborts the handler', async () => {
  const { server, address } = await startServer();
  let handlerAborted: unknown = null;
  server.handle(slowMethod, (request, context) =>
    new Promise<EchoResponse>((resolve) => {
      const timer = setTimeout(() => resolve(request), 5_000);
      context.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        handlerAborted = context.signal.reason;
        resolve(request);
      });
    }),
  );
  const client = new RpcClient({ secret, instance: 'test-client' });
  try {
    const started = Date.now();
    await assert.rejects(client.call(address, slowMethod, echo(1), { deadlineMs: 100 }), (error: AtollError) => error.status === StatusCode.TIMEOUT);
    assert.ok(Date.now() - started < 3_000);
    await waitFor(() => handlerAborted !== null, 'handler abort');
    assert.ok(handlerAborted instanceof AtollError);
  } finally {
    await client.close();
    await server.stop();
  }
});

test('an aborted call fails with CANCELLED and the server handler sees the cancel', async () => {
  const { server, address } = await startServer();
  let handlerAborted = false;
  server.handle(slowMethod, (request, context) =>
    new Promise<EchoResponse>((resolve) => {
      context.signal.addEventListener('abort', () => {
        handlerAborted = true;
        resolve(request);
      });
    }),
  );
  const client = new RpcClient({ secret, instance: 'test-client' });
  try {
    await client.call(address, echoMethod, echo(0)); // connect first so the cancel has a request to find
    const controller = new AbortController();
    const call = client.call(address, slowMethod, echo(1), { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(call, (error: AtollError) => error.status === StatusCode.CANCELLED);
    await waitFor(() => handlerAborted, 'server-side abort');
  } finally {
    await client.close();
    await server.stop();
  }
});

test('a client with the wrong secret is refused with UNAUTHENTICATED and logged; others are unaffected', async () => {
  const { server, address, logger } = await startServer();
  const good = new RpcClient({ secret, instance: 'good-client' });
  const bad = new RpcClient({ secret: 'another-secret-entirely-xyz', instance: 'bad-client' });
  try {
    await good.call(address, echoMethod, echo(1));
    await assert.rejects(bad.call(address, echoMethod, echo(2)), (error: AtollError) => {
      assert.equal(error.status, StatusCode.UNAUTHENTICATED);
      assert.match(error.message, /wrong cluster secret/);
      return true;
    });
    const refusal = logger.lines.find((line) => line.message === 'rpc connection refused');
    assert.ok(refusal, 'refusal logged');
    assert.match(String(refusal.fields.reason), /bad-client/);
    assert.equal((await good.call(address, echoMethod, echo(3))).sequence, 3);
  } finally {
    await good.close();
    await bad.close();
    await server.stop();
  }
});

test('a server without the secret cannot pose as a cluster member', async () => {
  // The impostor accepts any client proof: it only lacks the secret for its own proof.
  const { server, address } = await startServer({ secret: 'impostor-secret-abcdefgh' });
  const client = new RpcClient({ secret, instance: 'test-client' });
  try {
    await assert.rejects(client.call(address, echoMethod, echo(1)), (error: AtollError) => error.status === StatusCode.UNAUTHENTICATED);
  } finally {
    await client.close();
    await server.stop();
  }
});

test('the server stops reading past inflightRequestsMax and catches up when calls finish', async () => {
  const { server, address } = await startServer({ limits: { inflightRequestsMax: 4 } });
  let running = 0;
  let peak = 0;
  const releases: Array<() => void> = [];
  server.handle(slowMethod, (request) => {
    running += 1;
    peak = Math.max(peak, running);
    return new Promise<EchoResponse>((resolve) =>
      releases.push(() => {
        running -= 1;
        resolve(request);
      }),
    );
  });
  // The client window is larger than the server's: the server must protect itself. The
  // connect timeout is generous: on a loaded machine the handshake alone can take seconds,
  // and a failed connect would fail all 100 calls at once.
  const client = new RpcClient({ secret, instance: 'test-client', limits: { inflightRequestsMax: 1024, connectTimeoutMs: 60_000 } });
  try {
    const calls = Array.from({ length: 100 }, (_, sequence) => client.call(address, slowMethod, echo(sequence)));
    let released = 0;
    while (released < 100) {
      await waitFor(() => releases.length > 0, 'a running handler');
      releases.shift()!();
      released += 1;
    }
    const responses = await Promise.all(calls);
    assert.deepEqual(responses.map((response) => response.sequence), Array.from({ length: 100 }, (_, sequence) => sequence));
    assert.ok(peak <= 4, `at most 4 handlers ran at once, saw ${peak}`);
  } finally {
    await client.close();
    await server.stop();
  }
});

test('calls beyond the client window wait, and beyond waitingCallsMax fail with OVERLOADED', async () => {
  const { server, address } = await startServer();
  const releases: Array<() => void> = [];
  server.handle(slowMethod, (request) => new Promise<EchoResponse>((resolve) => releases.push(() => resolve(request))));
  const client = new RpcClient({ secret, instance: 'test-client', limits: { inflightRequestsMax: 2, waitingCallsMax: 3 } });
  try {
    await client.call(address, echoMethod, echo(0));
    const accepted = Array.from({ length: 5 }, (_, sequence) => client.call(address, slowMethod, echo(sequence)));
    await assert.rejects(client.call(address, slowMethod, echo(99)), (error: AtollError) => error.status === StatusCode.OVERLOADED);
    for (let released = 0; released < 5; released++) {
      await waitFor(() => releases.length > 0, 'a running handler');
      releases.shift()!();
    }
    assert.equal((await Promise.all(accepted)).length, 5);
  } finally {
    await client.close();
    await server.stop();
  }
});

test('graceful stop finishes in-flight calls, refuses new ones, and frees the port', async () => {
  const { server, address } = await startServer();
  let release: (() => void) | null = null;
  server.handle(slowMethod, (request) => new Promise<EchoResponse>((resolve) => (release = () => resolve(request))));
  const client = new RpcClient({ secret, instance: 'test-client' });
  try {
    const inflight = client.call(address, slowMethod, echo(42));
    await waitFor(() => release !== null, 'handler start');
    const stopped = server.stop();
    await assert.rejects(client.call(address, echoMethod, echo(1)), (error: AtollError) => error.status === StatusCode.UNAVAILABLE && error.retryable);
    release!();
    assert.equal((await inflight).sequence, 42);
    await stopped;
    // The port is free again: a new server can take it.
    const again = new RpcServer({ secret, instance: 'again' });
    registerDiagnostics(again);
    await again.listen('127.0.0.1', Number(address.split(':')[1]));
    assert.equal((await client.call(address, echoMethod, echo(2))).sequence, 2, 'the client reconnects');
    await again.stop();
  } finally {
    await client.close();
  }
});

test('a peer that is down fails fast with UNAVAILABLE and is retried after a backoff', async () => {
  const { server, address } = await startServer();
  await server.stop();
  const client = new RpcClient({ secret, instance: 'test-client', limits: { reconnectBackoffMinMs: 50, reconnectBackoffMaxMs: 50 } });
  try {
    await assert.rejects(client.call(address, echoMethod, echo(1)), (error: AtollError) => error.status === StatusCode.UNAVAILABLE && /refused/.test(error.message));
    // Within the backoff the pool does not even try.
    await assert.rejects(client.call(address, echoMethod, echo(2)), (error: AtollError) => /next attempt/.test(error.message));
    const port = Number(address.split(':')[1]);
    const revived = new RpcServer({ secret, instance: 'revived' });
    registerDiagnostics(revived);
    await revived.listen('127.0.0.1', port);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal((await client.call(address, echoMethod, echo(3))).sequence, 3);
    await revived.stop();
  } finally {
    await client.close();
  }
});

test('an oversized request is refused before it is sent, and an oversized frame closes only its connection', async () => {
  const { server, address, logger } = await startServer({ limits: { payloadBytesMax: 1024 } });
  const careful = new RpcClient({ secret, instance: 'careful', limits: { payloadBytesMax: 1024 } });
  const careless = new RpcClient({ secret, instance: 'careless', limits: { payloadBytesMax: 1 << 20 } });
  try {
    await assert.rejects(careful.callWithPayload(address, echoMethod, echo(1), { payload: Buffer.alloc(2048) }), (error: AtollError) => error.status === StatusCode.TOO_LARGE);
    await careless.call(address, echoMethod, echo(2));
    await assert.rejects(careless.callWithPayload(address, echoMethod, echo(3), { payload: Buffer.alloc(4096) }), (error: AtollError) => error.status === StatusCode.BAD_FRAME);
    assert.ok(logger.lines.some((line) => line.message === 'rpc connection refused' && /payload of 4096 bytes/.test(String(line.fields.reason))));
    assert.equal((await careful.call(address, echoMethod, echo(4))).sequence, 4);
  } finally {
    await careful.close();
    await careless.close();
    await server.stop();
  }
});

test('an invalid address is an INVALID_ARGUMENT error, not a crash', async () => {
  const client = new RpcClient({ secret, instance: 'test-client' });
  await assert.rejects(client.call('no-port-here', echoMethod, echo(1)), (error: AtollError) => error.status === StatusCode.INVALID_ARGUMENT);
  await assert.rejects(client.call('127.0.0.1:99999', echoMethod, echo(1)), (error: AtollError) => error.status === StatusCode.INVALID_ARGUMENT);
  await client.close();
});

test('a short cluster secret is refused at construction', () => {
  assert.throws(() => new RpcClient({ secret: 'short', instance: 'x' }), /at least 16 bytes/);
});

test('a one-way request runs the handler and answers nothing; its failures are logged, a down peer is reported', async () => {
  const { server, address, logger } = await startServer();
  const seen: number[] = [];
  const finished: StatusCode[] = [];
  const observed = new RpcServer({ secret, instance: 'observed', logger, onCallFinished: (_method, status) => finished.push(status) });
  observed.handle(failMethod, (request) => {
    if (request.sequence === 1013) throw new AtollError(StatusCode.NOT_LEADER, 'not the leader');
    if (request.sequence === 1014) return Promise.reject(new TypeError('a bug in the handler'));
    seen.push(request.sequence);
    return { sequence: request.sequence, data: new Uint8Array(0) };
  });
  const observedAddress = `127.0.0.1:${await observed.listen('127.0.0.1', 0)}`;
  const client = new RpcClient({ secret, instance: 'test-client' });
  try {
    // The first one opens the connection; the others go straight to the socket.
    for (let sequence = 0; sequence < 100; sequence++) await client.notify(observedAddress, failMethod, echo(sequence));
    await client.notify(observedAddress, failMethod, echo(1013));
    await client.notify(observedAddress, failMethod, echo(1014));
    await waitFor(() => finished.length === 102, 'every one-way handler finished');
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, sequence) => sequence), 'in order, once each');
    assert.equal(finished.filter((status) => status === StatusCode.NOT_LEADER).length, 1);
    assert.ok(logger.lines.some((line) => line.level === 'warn' && line.message === 'rpc one-way request failed'));
    assert.ok(logger.lines.some((line) => line.level === 'error' && line.message === 'rpc one-way handler failed'));
    // An unknown method is dropped with a warning, and the connection keeps serving calls.
    await client.notify(observedAddress, unknownMethod, echo(15));
    await waitFor(() => logger.lines.some((line) => /does not serve/.test(line.message)), 'the unknown method logged');
    assert.equal((await client.call(observedAddress, failMethod, echo(16))).sequence, 16);
    assert.equal(observed.connectionCount, 1);
    // A request that cannot be encoded, or a peer that cannot be reached, rejects at once.
    await assert.rejects(client.notify(observedAddress, failMethod, { sequence: -1, data: new Uint8Array(0) }), (error: AtollError) => error.status === StatusCode.INVALID_ARGUMENT);
    await server.stop();
    await assert.rejects(client.notify(address, echoMethod, echo(17)), (error: AtollError) => error.status === StatusCode.UNAVAILABLE);
  } finally {
    await client.close();
    await observed.stop();
    await server.stop();
  }
});

test('a call in flight when the connection drops fails as outcome unknown; one made after fails as not delivered', async () => {
  const { server, address } = await startServer();
  let arrived = 0;
  server.handle(slowMethod, () => {
    arrived += 1;
    return new Promise<EchoResponse>(() => undefined); // carried out, never answered
  });
  // A proxy between client and server, to cut the connection under a call in flight.
  const { createServer, connect } = await import('node:net');
  const sockets: Array<import('node:net').Socket> = [];
  const proxy = createServer((downstream) => {
    const upstream = connect(Number(address.split(':')[1]), '127.0.0.1');
    sockets.push(downstream, upstream);
    downstream.pipe(upstream).pipe(downstream);
    downstream.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyAddress = `127.0.0.1:${(proxy.address() as import('node:net').AddressInfo).port}`;
  const client = new RpcClient({ secret, instance: 'test-client' });
  try {
    const inFlight = client.call(proxyAddress, slowMethod, echo(1)).then(
      () => assert.fail('answered'),
      (error: AtollError) => error,
    );
    await waitFor(() => arrived === 1, 'the call to reach the server');
    for (const socket of sockets) socket.end();
    const lost = await inFlight;
    assert.equal(lost.status, StatusCode.UNAVAILABLE);
    assert.match(lost.message, /in flight \(its outcome is unknown\)$/);
    assert.equal(lost.outcomeUnknown, true);
    proxy.close();
    const after = await client.call(proxyAddress, echoMethod, echo(2)).then(
      () => assert.fail('answered'),
      (error: AtollError) => error,
    );
    assert.doesNotMatch(after.message, /outcome is unknown/, after.message);
    assert.equal(after.outcomeUnknown, false);
  } finally {
    await client.close();
    proxy.close();
    await server.stop();
  }
});
