import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { HttpError } from './http-error.js';
import { HttpListenError } from './http-listen-error.js';
import { InstanceHttpServer, type InstanceHttpServerOptions, type Readiness } from './http-server.js';
import type { HttpServerLimits } from './limits.js';
import { createLogger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { sampleValue } from './prometheus-samples.test-support.js';

const host = '127.0.0.1';
const jsonContentType = 'application/json; charset=utf-8';
// Bounds every test that waits on the network, so a regression fails instead of hanging.
const networkTestTimeoutMilliseconds = 15_000;

let instanceCounter = 0;

interface Harness {
  readonly server: InstanceHttpServer;
  readonly port: number;
  readonly url: (path: string) => string;
  readonly metrics: Metrics;
  /** Parsed log lines written so far. */
  readonly logRecords: () => Record<string, any>[];
}

async function startHarness(
  t: TestContext,
  options: Partial<Omit<InstanceHttpServerOptions, 'limits'>> & { limits?: Partial<HttpServerLimits> } = {},
): Promise<Harness> {
  instanceCounter += 1;
  const instance = `mn-${instanceCounter}`;
  const lines: string[] = [];
  const logger = createLogger({ role: 'metanode', instance, level: 'debug', destination: { stream: { write: (line: string) => void lines.push(line) } } });
  const metrics = createMetrics({ role: 'metanode', instance });
  const server = new InstanceHttpServer({
    role: 'metanode',
    instance,
    version: '0.1.0-test',
    logger,
    metrics,
    readiness: () => ({ ready: true }),
    ...options,
  });
  const port = await server.start(host, 0);
  t.after(() => server.stop());
  return {
    server,
    port,
    url: (path) => `http://${host}:${port}${path}`,
    metrics,
    logRecords: () => lines.map((line) => JSON.parse(line) as Record<string, any>),
  };
}

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: any }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text.length === 0 ? undefined : JSON.parse(text) };
}

/** Sends raw bytes on a fresh connection and returns everything the server sends until it closes. */
function rawExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.write(data);
  });
}

function jsonBodyOfRaw(reply: string): any {
  return JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
}

test('GET /healthz answers ok as soon as the server listens', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  // A readiness check that would fail shows that health does not depend on it.
  const harness = await startHarness(t, { readiness: () => ({ ready: false, reason: 'loading partitions' }) });
  const reply = await getJson(harness.url('/healthz'));
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.body, { status: 'ok' });
  assert.equal(reply.headers.get('content-type'), jsonContentType);
  assert.equal(reply.headers.get('cache-control'), 'no-store');
  assert.match(reply.headers.get('x-request-id') ?? '', /^\d+$/);
});

test('GET /readyz answers 503 with progress until the role is ready, then 200', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  let readiness: Readiness = { ready: false, reason: 'loading partitions', details: { partitionsLoaded: 3, partitionsTotal: 10 } };
  const harness = await startHarness(t, { readiness: () => readiness });
  const loading = await getJson(harness.url('/readyz'));
  assert.equal(loading.status, 503);
  assert.deepEqual(loading.body, { ready: false, reason: 'loading partitions', partitionsLoaded: 3, partitionsTotal: 10 });

  readiness = { ready: true, details: { partitionsLoaded: 10, partitionsTotal: 10 } };
  const ready = await getJson(harness.url('/readyz'));
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.body, { ready: true, partitionsLoaded: 10, partitionsTotal: 10 });
});

test('/readyz: details cannot overwrite the verdict, a missing reason is filled in, async checks work', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t, { readiness: async () => ({ ready: false, details: { ready: true, reason: 'lie', term: 7n } }) });
  const reply = await getJson(harness.url('/readyz'));
  assert.equal(reply.status, 503);
  assert.deepEqual(reply.body, { ready: false, reason: 'not ready', term: '7' });
});

test('/readyz answers 503 and logs when the readiness check throws', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t, {
    readiness: () => {
      throw new Error('partition table unreadable');
    },
  });
  const reply = await getJson(harness.url('/readyz'));
  assert.equal(reply.status, 503);
  assert.deepEqual(reply.body, { ready: false, reason: 'readiness check failed: partition table unreadable' });
  const logged = harness.logRecords().find((record) => record.msg === 'readiness check failed');
  assert.equal(logged?.err?.message, 'partition table unreadable');
  assert.equal((await fetch(harness.url('/healthz'))).status, 200);
});

test('GET /status shows identity, uptime, every registered port and the role extras', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const startedAt = new Date(Date.now() - 5_000);
  const harness = await startHarness(t, {
    startedAt,
    statusExtra: () => ({ leader: 'node-2', partitions: 4, role: 'cannot override' }),
  });
  harness.server.setPorts({ service: 17010, raftHeartbeat: 17011 });
  harness.server.setPorts({ raftReplica: 17012 });
  const reply = await getJson(harness.url('/status'));
  assert.equal(reply.status, 200);
  const { uptimeSeconds, ...rest } = reply.body;
  assert.ok(uptimeSeconds >= 5 && uptimeSeconds < 60, `uptimeSeconds ${uptimeSeconds}`);
  assert.deepEqual(rest, {
    role: 'metanode',
    instance: harness.metrics.instance,
    version: '0.1.0-test',
    pid: process.pid,
    startedAt: startedAt.toISOString(),
    ports: { http: harness.port, service: 17010, raftHeartbeat: 17011, raftReplica: 17012 },
    leader: 'node-2',
    partitions: 4,
  });
  assert.deepEqual(Object.keys(reply.body).slice(0, 3), ['role', 'instance', 'version']);
});

test('GET /metrics is Prometheus text with this instance labels and counts requests by route', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  await fetch(harness.url('/healthz')).then((response) => response.arrayBuffer());
  await fetch(harness.url('/healthz')).then((response) => response.arrayBuffer());
  await fetch(harness.url('/no/such/thing')).then((response) => response.arrayBuffer());
  const response = await fetch(harness.url('/metrics'));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await response.text();
  const instanceLabels = { role: 'metanode', instance: harness.metrics.instance };
  assert.equal(sampleValue(text, 'atoll_http_requests_total', { ...instanceLabels, route: '/healthz', method: 'GET', status: '200' }), 2);
  assert.equal(sampleValue(text, 'atoll_http_requests_total', { ...instanceLabels, route: 'unmatched', method: 'GET', status: '404' }), 1);
  assert.equal(sampleValue(text, 'atoll_http_request_duration_seconds_count', { ...instanceLabels, route: '/healthz', method: 'GET' }), 2);
  assert.ok(sampleValue(text, 'process_resident_memory_bytes', instanceLabels) > 0);
});

test('HEAD answers like GET without a body', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  const get = await fetch(harness.url('/status'));
  const getLength = (await get.arrayBuffer()).byteLength;
  const head = await fetch(harness.url('/healthz'), { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-type'), jsonContentType);
  assert.equal(head.headers.get('content-length'), String('{"status":"ok"}\n'.length));
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  assert.ok(getLength > 0);
});

test('an unknown path is 404 and a wrong method is 405 with Allow, both as JSON errors', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  const missing = await getJson(harness.url('/nowhere?x=1'));
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { error: { code: 'NOT_FOUND', message: 'no route for GET /nowhere' } });

  const wrongMethod = await getJson(harness.url('/healthz'), { method: 'POST', body: '{}' });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'GET, HEAD');
  assert.equal(wrongMethod.body.error.code, 'METHOD_NOT_ALLOWED');
  assert.match(wrongMethod.body.error.message, /POST is not allowed on \/healthz; allowed: GET, HEAD/);
});

test('a route with parameters gets them decoded, with the query and the headers', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  harness.server.route('GET', '/volumes/:volume/partitions/:partitionId', ({ params, query, headers }) => ({
    status: 200,
    body: { params, limit: query.get('limit'), agent: headers['x-atoll-test'] },
  }));
  harness.server.route('GET', '/volumes/stats', () => ({ status: 200, body: { stats: true } }));
  const reply = await getJson(harness.url('/volumes/photo%20archive%2F2024/partitions/17?limit=5'), { headers: { 'x-atoll-test': 'yes' } });
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.body, { params: { volume: 'photo archive/2024', partitionId: '17' }, limit: '5', agent: 'yes' });
  assert.deepEqual((await getJson(harness.url('/volumes/stats'))).body, { stats: true });

  const malformed = await getJson(harness.url('/volumes/%E0%A4%A/partitions/1'));
  assert.equal(malformed.status, 400);
  assert.match(malformed.body.error.message, /malformed percent-encoding in path parameter :volume/);
});

test('a JSON body is parsed; an empty body is undefined; bigint replies become strings', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  harness.server.route('POST', '/volumes', ({ body }) => ({ status: 201, body: { received: body ?? null, inodeId: 2n ** 64n - 1n } }));
  const created = await getJson(harness.url('/volumes'), {
    method: 'POST',
    // curl -d sends this content type; the body is read as JSON anyway.
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: JSON.stringify({ name: 'photos', capacityBytes: 1024 }),
  });
  assert.equal(created.status, 201);
  assert.deepEqual(created.body, { received: { name: 'photos', capacityBytes: 1024 }, inodeId: '18446744073709551615' });
  const empty = await getJson(harness.url('/volumes'), { method: 'POST' });
  assert.deepEqual(empty.body.received, null);
});

test('invalid JSON is 400 and the server keeps serving', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  harness.server.route('POST', '/volumes', () => ({ status: 201 }));
  const reply = await getJson(harness.url('/volumes'), { method: 'POST', body: '{"name": ' });
  assert.equal(reply.status, 400);
  assert.equal(reply.body.error.code, 'INVALID_JSON');
  assert.match(reply.body.error.message, /^request body is not valid JSON: /);
  const notUtf8 = await getJson(harness.url('/volumes'), { method: 'POST', body: new Uint8Array([0x22, 0xff, 0x22]) });
  assert.equal(notUtf8.body.error.message, 'request body is not valid UTF-8');
  assert.equal((await fetch(harness.url('/volumes'), { method: 'POST', body: '{}' })).status, 201);
});

test('a body over requestBodyBytesMax is 413 whether its length is declared or streamed', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t, { limits: { requestBodyBytesMax: 1024 } });
  let handlerCalls = 0;
  harness.server.route('PUT', '/blobs/:name', () => {
    handlerCalls += 1;
    return { status: 204 };
  });
  harness.server.route('PUT', '/large/:name', () => ({ status: 204 }), { requestBodyBytesMax: 4096 });
  const oversized = JSON.stringify({ data: 'x'.repeat(2000) });

  const declared = await getJson(harness.url('/blobs/a'), { method: 'PUT', body: oversized });
  assert.equal(declared.status, 413);
  assert.equal(declared.headers.get('connection'), 'close');
  assert.deepEqual(declared.body, {
    error: {
      code: 'REQUEST_BODY_TOO_LARGE',
      message: `request body exceeds requestBodyBytesMax of 1024 bytes: ${oversized.length} bytes or more`,
      details: { requestBodyBytesMax: 1024 },
    },
  });

  const streamedBody = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let chunk = 0; chunk < 8; chunk += 1) controller.enqueue(new Uint8Array(512).fill(0x20));
      controller.close();
    },
  });
  const streamed = await getJson(harness.url('/blobs/b'), { method: 'PUT', body: streamedBody, duplex: 'half' } as RequestInit);
  assert.equal(streamed.status, 413);
  assert.equal(streamed.body.error.code, 'REQUEST_BODY_TOO_LARGE');
  assert.equal(handlerCalls, 0);

  // A route may allow more than the server default.
  assert.equal((await fetch(harness.url('/large/a'), { method: 'PUT', body: oversized })).status, 204);
});

test('Expect: 100-continue with an oversized length is refused before the body is sent', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t, { limits: { requestBodyBytesMax: 1024 } });
  harness.server.route('PUT', '/blobs/:name', () => ({ status: 204 }));
  const reply = await rawExchange(
    harness.port,
    `PUT /blobs/a HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n`,
  );
  assert.match(reply, /^HTTP\/1\.1 413 /);
  assert.doesNotMatch(reply, /100 Continue/);
});

test('Expect: 100-continue within the limit gets 100 Continue and a normal reply', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  harness.server.route('PUT', '/blobs/:name', ({ body }) => ({ status: 200, body }));
  const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.request(harness.url('/blobs/a'), { method: 'PUT', agent: false, headers: { expect: '100-continue', 'content-length': 7 } });
    request.on('continue', () => request.end('{"a":1}'));
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.flushHeaders();
  });
  assert.deepEqual(reply, { status: 200, body: '{"a":1}\n' });
});

test('errors with httpStatus are answered as they say, with code and details', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  harness.server.route('POST', '/volumes/:name', ({ params }) => {
    throw new HttpError(409, 'VOLUME_EXISTS', `cannot create volume: it exists: ${params.name}`, { details: { volume: params.name } });
  });
  // Not an HttpError: any error with an httpStatus (a future AtollError, say) is expected.
  harness.server.route('DELETE', '/volumes/:name', async () => {
    throw Object.assign(new Error('no such volume'), { httpStatus: 404 });
  });
  const exists = await getJson(harness.url('/volumes/photos'), { method: 'POST' });
  assert.equal(exists.status, 409);
  assert.deepEqual(exists.body, { error: { code: 'VOLUME_EXISTS', message: 'cannot create volume: it exists: photos', details: { volume: 'photos' } } });
  const missing = await getJson(harness.url('/volumes/photos'), { method: 'DELETE' });
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { error: { code: 'NOT_FOUND', message: 'no such volume' } });
});

test('a handler bug is a 500 with the stack in the log, and never takes the server down', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  harness.server.route('GET', '/bug/sync', () => {
    throw new TypeError('cannot read properties of undefined (reading "leader")');
  });
  harness.server.route('GET', '/bug/async', async () => Promise.reject(new RangeError('term went backwards')));
  harness.server.route('GET', '/bug/no-status', () => ({}) as never);
  harness.server.route('GET', '/bug/cycle', () => {
    const body: Record<string, unknown> = {};
    body.self = body;
    return { status: 200, body };
  });
  harness.server.route('GET', '/bug/header', () => ({ status: 200, body: {}, headers: { 'x-bad': 'line\nbreak' } }));
  for (const path of ['/bug/sync', '/bug/async', '/bug/no-status', '/bug/cycle', '/bug/header']) {
    const reply = await getJson(harness.url(path));
    assert.equal(reply.status, 500, path);
    assert.deepEqual(reply.body, { error: { code: 'INTERNAL', message: 'internal error; the server log has the details' } }, path);
    assert.ok(!JSON.stringify(reply.body).includes('leader'), 'no internals in the reply');
  }
  const failures = harness.logRecords().filter((record) => record.msg === 'HTTP request failed');
  assert.deepEqual(failures.map((record) => record.route), ['/bug/sync', '/bug/async', '/bug/no-status', '/bug/cycle', '/bug/header']);
  assert.equal(failures[4]?.err.code, 'ERR_INVALID_CHAR');
  const first = failures[0]!;
  assert.equal(first.level, 'error');
  assert.equal(first.component, 'http');
  assert.equal(first.status, 500);
  assert.equal(first.err.type, 'TypeError');
  assert.match(first.err.stack, /TypeError: cannot read properties/);
  assert.equal(typeof first.requestId, 'number');
  assert.equal((await fetch(harness.url('/healthz'))).status, 200);
});

test('slow requests are logged at warn', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t, { limits: { slowRequestMilliseconds: 20 } });
  // The delay is the behaviour under test, not a way to wait for something.
  harness.server.route('GET', '/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 40));
    return { status: 200, body: {} };
  });
  await fetch(harness.url('/slow')).then((response) => response.arrayBuffer());
  const slow = harness.logRecords().find((record) => record.msg === 'slow HTTP request');
  assert.equal(slow?.level, 'warn');
  assert.equal(slow?.route, '/slow');
  // Not >= 40: Node schedules timers from the loop's cached clock, so under load one may
  // fire a little early as measured by performance.now().
  assert.ok(slow?.durationMilliseconds >= 20);
});

test('refused requests are logged at info with path and route', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  // Default slow threshold (1 s), so that a loaded test machine cannot turn this into a slow-request line.
  const harness = await startHarness(t);
  await fetch(harness.url('/missing?token=secret')).then((response) => response.arrayBuffer());
  const refused = harness.logRecords().find((record) => record.msg === 'HTTP request refused');
  assert.deepEqual([refused?.level, refused?.status, refused?.path, refused?.route], ['info', 404, '/missing', 'unmatched']);
  assert.ok(!harness.logRecords().some((record) => JSON.stringify(record).includes('secret')), 'query strings are not logged');
});

test('a 503 from /readyz while loading is logged at debug, not as a failure', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t, { readiness: () => ({ ready: false, reason: 'loading partitions' }) });
  harness.server.route('GET', '/unavailable', () => ({ status: 503, body: { error: { code: 'UNAVAILABLE', message: 'no leader' } } }));
  await fetch(harness.url('/readyz')).then((response) => response.arrayBuffer());
  await fetch(harness.url('/unavailable')).then((response) => response.arrayBuffer());
  const [readyz, unavailable] = ['/readyz', '/unavailable'].map((route) => harness.logRecords().find((record) => record.route === route));
  assert.deepEqual([readyz?.level, readyz?.status, readyz?.msg], ['debug', 503, 'HTTP request']);
  assert.deepEqual([unavailable?.level, unavailable?.status, unavailable?.msg], ['info', 503, 'HTTP request refused']);
});

test('a malformed request gets a JSON 400 from the parser stage', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  const reply = await rawExchange(harness.port, 'THIS IS NOT HTTP\r\n\r\n');
  assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.equal(jsonBodyOfRaw(reply).error.code, 'BAD_REQUEST');
  assert.equal(sampleValue(await harness.metrics.render(), 'atoll_http_client_errors_total', { status: '400' }), 1);
});

test('oversized headers get 431', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t, { limits: { requestHeaderBytesMax: 1024 } });
  const reply = await rawExchange(harness.port, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`);
  assert.match(reply, /^HTTP\/1\.1 431 /);
  assert.equal(jsonBodyOfRaw(reply).error.code, 'REQUEST_HEADERS_TOO_LARGE');
});

test('a client that never finishes its headers is cut off with 408', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t, {
    limits: { headersTimeoutMilliseconds: 200, requestTimeoutMilliseconds: 300, timeoutCheckIntervalMilliseconds: 50 },
  });
  const reply = await rawExchange(harness.port, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Slow: `);
  assert.match(reply, /^HTTP\/1\.1 408 /);
  assert.equal(harness.server.connectionsOpen, 0);
});

test('routes can be added after start', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  assert.equal((await fetch(harness.url('/late'))).status, 404);
  harness.server.route('GET', '/late', () => ({ status: 200, body: { late: true } }));
  assert.deepEqual((await getJson(harness.url('/late'))).body, { late: true });
});

test('built-in routes cannot be registered twice', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  assert.throws(() => harness.server.route('GET', '/metrics', () => ({ status: 200 })), /clashes with GET \/metrics/);
});

test('stop() closes idle keep-alive connections, frees the port and leaves no socket', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      http.get(harness.url(path), { agent }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      }).on('error', reject);
    });
  assert.deepEqual(await Promise.all([get('/healthz'), get('/status'), get('/readyz')]), [200, 200, 200]);
  assert.ok(harness.server.connectionsOpen > 0, 'keep-alive connections stay open between requests');

  await harness.server.stop();
  assert.equal(harness.server.connectionsOpen, 0);
  assert.equal(harness.server.port, undefined);
  await harness.server.stop(); // a second stop is harmless

  // The same port binds again at once.
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(harness.port, host, () => resolve()));
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

test('stop() cuts a request still in flight after the grace period', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t, { limits: { stopGraceMilliseconds: 50 } });
  let handlerEntered!: () => void;
  const entered = new Promise<void>((resolve) => (handlerEntered = resolve));
  harness.server.route('GET', '/hang', () => {
    handlerEntered();
    return new Promise(() => undefined);
  });
  const request = fetch(harness.url('/hang')).then(
    () => 'answered',
    () => 'cut',
  );
  await entered;
  await harness.server.stop();
  assert.equal(await request, 'cut');
  assert.equal(harness.server.connectionsOpen, 0);
  const records = harness.logRecords();
  assert.ok(records.some((record) => record.msg === 'HTTP server stop: grace period over, closing busy connections'));
  assert.ok(records.some((record) => record.msg === 'HTTP client left before the reply was sent' && record.route === '/hang'));
});

test('a request finishing during stop() is answered with Connection: close', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  let release!: () => void;
  let handlerEntered!: () => void;
  const entered = new Promise<void>((resolve) => (handlerEntered = resolve));
  harness.server.route('GET', '/finish', async () => {
    handlerEntered();
    await new Promise<void>((resolve) => (release = resolve));
    return { status: 200, body: { done: true } };
  });
  const reply = getJson(harness.url('/finish'));
  await entered;
  const stopped = harness.server.stop();
  release();
  const answered = await reply;
  await stopped;
  assert.equal(answered.status, 200);
  assert.equal(answered.headers.get('connection'), 'close');
  assert.equal(harness.server.connectionsOpen, 0);
});

test('a taken port is refused with an error naming the HTTP port', { timeout: networkTestTimeoutMilliseconds }, async (t) => {
  const harness = await startHarness(t);
  const second = new InstanceHttpServer({
    role: 'datanode',
    instance: 'dn-9',
    version: '0.1.0-test',
    logger: createLogger({ role: 'datanode', instance: 'dn-9', level: 'silent' }),
    metrics: createMetrics({ role: 'datanode', instance: 'dn-9' }),
    readiness: () => ({ ready: true }),
  });
  t.after(() => second.stop());
  await assert.rejects(second.start(host, harness.port), (error: unknown) => {
    assert.ok(error instanceof HttpListenError);
    assert.equal(error.code, 'EADDRINUSE');
    assert.equal(error.port, harness.port);
    assert.equal(error.message, `cannot start HTTP server of datanode dn-9: HTTP port ${harness.port} on ${host} is already in use (EADDRINUSE); another process or instance holds it, choose another HTTP port`);
    return true;
  });
  // Nothing was left half-open: the same object can still start elsewhere.
  const port = await second.start(host, 0);
  assert.notEqual(port, harness.port);
  assert.equal((await fetch(`http://${host}:${port}/healthz`)).status, 200);
});

test('stop() before start() resolves and start() after stop() is a bug', async () => {
  const server = new InstanceHttpServer({
    role: 'master',
    instance: 'm-1',
    version: '0.1.0-test',
    logger: createLogger({ role: 'master', instance: 'm-1', level: 'silent' }),
    metrics: createMetrics({ role: 'master', instance: 'm-1' }),
    readiness: () => ({ ready: true }),
  });
  await server.stop();
  assert.throws(() => server.start(host, 0), /server is stopped, can start only once/);
});

test('limits that cannot work together are refused at construction', () => {
  const options = {
    role: 'master',
    instance: 'm-2',
    version: '0.1.0-test',
    logger: createLogger({ role: 'master', instance: 'm-2', level: 'silent' }),
    readiness: () => ({ ready: true }),
  };
  assert.throws(
    () => new InstanceHttpServer({ ...options, metrics: createMetrics({ role: 'master', instance: 'm-2' }), limits: { headersTimeoutMilliseconds: 60_000 } }),
    /headersTimeoutMilliseconds \(60000\) exceeds requestTimeoutMilliseconds \(30000\)/,
  );
  assert.throws(
    () => new InstanceHttpServer({ ...options, metrics: createMetrics({ role: 'master', instance: 'm-3' }), limits: { requestBodyBytesMax: -1 } }),
    /requestBodyBytesMax: must be a positive integer: -1/,
  );
});
