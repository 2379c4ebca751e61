// The HTTP server every instance runs: /healthz, /readyz, /status, /metrics, plus the
// routes a role adds (the master's admin API). Plain node:http: the admin API is not a
// hot path, and the fewer layers between a request and its log line the better.
//
// What it guarantees:
// - /healthz answers as soon as the port is bound; /readyz reports the role's own
//   readiness (partitions loaded, ...) with 503 until it is ready.
// - Every reply is JSON (except /metrics), errors in one shape (http-error.ts).
// - A handler that throws never takes the server down: expected errors (`httpStatus`)
//   are answered as they say, anything else is a 500 with the stack in the log.
// - A client cannot hold memory or connections for long: bodies, headers, connection
//   count and all the timeouts are bounded (limits.ts).
// - stop() leaves nothing open: listener closed, idle keep-alive sockets closed, busy
//   ones cut after a grace period; it resolves only when every socket is gone.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Counter, Histogram } from 'prom-client';
import { errorReplyOf, HttpError } from './http-error.js';
import { HttpListenError } from './http-listen-error.js';
import { checkHttpServerLimits, httpServerLimitsDefault, requestBodyBytesCeiling, type HttpServerLimits } from './limits.js';
import { childLogger, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { declaredBodyBytes, parseJsonBody, readRequestBody } from './request-body.js';
import { isRouteMethod, Router, type RouteMethod } from './router.js';

export interface Readiness {
  readonly ready: boolean;
  /** Why not ready, for humans: "loading partitions". */
  readonly reason?: string;
  /** Progress and facts, spread into the /readyz reply: {partitionsLoaded: 3, partitionsTotal: 10}. */
  readonly details?: Readonly<Record<string, unknown>>;
}
export type ReadinessCheck = () => Readiness | Promise<Readiness>;
export type StatusExtra = () => Readonly<Record<string, unknown>> | Promise<Readonly<Record<string, unknown>>>;

export interface InstancePorts {
  readonly service?: number;
  readonly http?: number;
  readonly raftHeartbeat?: number;
  readonly raftReplica?: number;
}

export interface InstanceHttpServerOptions {
  readonly role: string;
  readonly instance: string;
  readonly version: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly readiness: ReadinessCheck;
  /** Role-specific fields added to /status (leader, partitions, ...). */
  readonly statusExtra?: StatusExtra;
  readonly limits?: Partial<HttpServerLimits>;
  /** When the instance started, for /status; the construction time when absent. */
  readonly startedAt?: Date;
}

export interface RouteRequest {
  /** `:name` segments of the route pattern, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The parsed JSON body, or undefined when the body is empty. */
  readonly body: unknown;
  readonly headers: IncomingHttpHeaders;
  readonly request: IncomingMessage;
  /** Also sent back as the X-Request-Id header and logged with the request. */
  readonly requestId: number;
  readonly logger: Logger;
}

export type HttpReply = JsonReply | TextReply;
export interface JsonReply {
  readonly status: number;
  /** Sent as JSON (bigint as a decimal string); no body when undefined. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}
export interface TextReply {
  readonly status: number;
  readonly text: string;
  readonly contentType: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export type RouteHandler = (request: RouteRequest) => HttpReply | Promise<HttpReply>;

export interface RouteOptions {
  /** This route's body limit, instead of the server's requestBodyBytesMax. */
  readonly requestBodyBytesMax?: number;
}

interface RouteEntry {
  readonly handler: RouteHandler;
  readonly requestBodyBytesMax: number;
}

// What one request did, for its metric and its log line.
interface Exchange {
  readonly requestId: number;
  readonly method: string;
  readonly startedAt: number;
  path: string;
  route: string;
  /** A bug or a 5xx cause, logged with the request. */
  error: unknown;
  closed: boolean;
}

type ServerState = 'idle' | 'starting' | 'listening' | 'stopping' | 'stopped';

const jsonContentType = 'application/json; charset=utf-8';
/** The route label of requests that matched no route, so that scanners cannot grow the label set. */
export const unmatchedRouteLabel = 'unmatched';
/** The status label of requests whose client left before the reply was written. */
export const clientClosedStatusLabel = 'client_closed';
// Polled by monitoring; their non-2xx answers are routine and logged at debug only.
const probeRoutes: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/status', '/metrics']);
// Paths are logged, not labelled; still, a 16 KiB path does not belong on one log line.
const loggedPathCharactersMax = 256;

export class InstanceHttpServer {
  readonly #options: InstanceHttpServerOptions;
  readonly #limits: HttpServerLimits;
  readonly #logger: Logger;
  readonly #router: Router<RouteEntry>;
  readonly #startedAt: Date;
  readonly #requestsTotal: Counter<'route' | 'method' | 'status'>;
  readonly #requestDurationSeconds: Histogram<'route' | 'method'>;
  readonly #clientErrorsTotal: Counter<'status'>;
  readonly #socketsClosed = new Map<Socket, Promise<void>>();
  #ports: InstancePorts = {};
  #server: http.Server | undefined;
  #state: ServerState = 'idle';
  #starting: Promise<unknown> | undefined;
  #stopping: Promise<void> | undefined;
  #nextRequestId = 1;

  constructor(options: InstanceHttpServerOptions) {
    this.#options = options;
    this.#limits = { ...httpServerLimitsDefault, ...options.limits };
    checkHttpServerLimits(this.#limits);
    this.#logger = childLogger(options.logger, { component: 'http' });
    this.#router = new Router(this.#limits.routesMax);
    this.#startedAt = options.startedAt ?? new Date();
    this.#requestsTotal = options.metrics.counter({
      name: 'atoll_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status (client_closed: the client left first).',
      labelNames: ['route', 'method', 'status'],
    });
    this.#requestDurationSeconds = options.metrics.histogram({
      name: 'atoll_http_request_duration_seconds',
      help: 'Time from request headers to the end of the reply, by route pattern and method.',
      labelNames: ['route', 'method'],
    });
    this.#clientErrorsTotal = options.metrics.counter({
      name: 'atoll_http_client_errors_total',
      help: 'Connections refused before routing: malformed requests, oversized headers, request timeouts.',
      labelNames: ['status'],
    });
    this.route('GET', '/healthz', () => ({ status: 200, body: { status: 'ok' } }));
    this.route('GET', '/readyz', () => this.#readyz());
    this.route('GET', '/status', () => this.#status());
    this.route('GET', '/metrics', async () => ({
      status: 200,
      text: await this.#options.metrics.render(),
      contentType: this.#options.metrics.contentType,
    }));
  }

  /** The bound HTTP port while listening. */
  get port(): number | undefined {
    const address = this.#server?.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  /** Open client connections; 0 after stop(). */
  get connectionsOpen(): number {
    return this.#socketsClosed.size;
  }

  get ports(): Readonly<InstancePorts> {
    return this.#ports;
  }

  /** Records the instance's ports for /status; merged with the ones already set. */
  setPorts(ports: InstancePorts): void {
    for (const [name, port] of Object.entries(ports)) {
      if (port !== undefined) assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `port ${name} must be in 1-65535: ${String(port)}`);
    }
    this.#ports = { ...this.#ports, ...withoutUndefined(ports) };
  }

  /**
   * Adds a route, before or after start(). `path` is `/`-separated literal or `:name`
   * segments; a literal segment wins over a parameter. A GET route also answers HEAD.
   */
  route(method: RouteMethod, path: string, handler: RouteHandler, options: RouteOptions = {}): void {
    assert.equal(typeof handler, 'function', `route ${method} ${path}: handler must be a function`);
    const requestBodyBytesMax = options.requestBodyBytesMax ?? this.#limits.requestBodyBytesMax;
    assert.ok(
      Number.isSafeInteger(requestBodyBytesMax) && requestBodyBytesMax >= 0 && requestBodyBytesMax <= requestBodyBytesCeiling,
      `route ${method} ${path}: requestBodyBytesMax must be an integer in 0-${requestBodyBytesCeiling}: ${requestBodyBytesMax}`,
    );
    this.#router.add(method, path, { handler, requestBodyBytesMax });
  }

  /**
   * Binds host:port (0 picks a free port) and resolves with the bound port, which is
   * also recorded as the `http` port. Rejects with HttpListenError naming the port.
   */
  start(host: string, port: number): Promise<number> {
    assert.equal(this.#state, 'idle', `InstanceHttpServer.start: server is ${this.#state}, can start only once`);
    assert.ok(Number.isInteger(port) && port >= 0 && port < 65536, `InstanceHttpServer.start: port must be in 0-65535: ${port}`);
    this.#state = 'starting';
    const starting = this.#start(host, port);
    this.#starting = starting;
    return starting;
  }

  async #start(host: string, port: number): Promise<number> {
    const server = this.#createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      // Nothing was bound, so nothing is left to close; a later start() may try another port.
      this.#state = 'idle';
      throw new HttpListenError({ role: this.#options.role, instance: this.#options.instance, host, port, cause: error });
    }
    server.on('error', (error) => this.#logger.error({ err: error }, 'HTTP server error'));
    this.#server = server;
    this.#state = 'listening';
    const boundPort = (server.address() as AddressInfo).port;
    this.setPorts({ http: boundPort });
    this.#logger.info({ host, port: boundPort }, 'HTTP server listening');
    return boundPort;
  }

  /**
   * Stops listening, closes idle connections at once and busy ones after
   * stopGraceMilliseconds, and resolves when no socket is left. Safe to call twice
   * and before start().
   */
  stop(): Promise<void> {
    if (this.#stopping !== undefined) return this.#stopping;
    this.#stopping = this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    // A role whose start-up failed elsewhere may stop while the port is still binding.
    if (this.#state === 'starting') await this.#starting?.catch(() => undefined);
    const server = this.#server;
    this.#state = 'stopping';
    if (server !== undefined) {
      const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Node 19+ close() also closes idle keep-alive connections; busy ones reply with
      // `Connection: close` (see #writeReply) and are cut if they take too long.
      server.closeIdleConnections();
      const graceTimer = setTimeout(() => {
        this.#logger.warn({ connectionsOpen: this.connectionsOpen }, 'HTTP server stop: grace period over, closing busy connections');
        server.closeAllConnections();
        for (const socket of this.#socketsClosed.keys()) socket.destroy();
      }, this.#limits.stopGraceMilliseconds);
      graceTimer.unref();
      await listenerClosed;
      await Promise.all(this.#socketsClosed.values());
      clearTimeout(graceTimer);
    }
    this.#state = 'stopped';
    this.#logger.info('HTTP server stopped');
  }

  #createServer(): http.Server {
    const limits = this.#limits;
    const server = http.createServer(
      {
        headersTimeout: limits.headersTimeoutMilliseconds,
        requestTimeout: limits.requestTimeoutMilliseconds,
        keepAliveTimeout: limits.keepAliveTimeoutMilliseconds,
        connectionsCheckingInterval: limits.timeoutCheckIntervalMilliseconds,
        maxHeaderSize: limits.requestHeaderBytesMax,
      },
      (request, response) => this.#handleSafely(request, response, false),
    );
    server.maxHeadersCount = limits.requestHeadersCountMax;
    server.maxConnections = limits.connectionsMax;
    server.timeout = limits.socketIdleTimeoutMilliseconds;
    // Without this listener Node answers `Expect: 100-continue` by itself, before we
    // could refuse an oversized body.
    server.on('checkContinue', (request, response) => this.#handleSafely(request, response, true));
    server.on('connection', (socket: Socket) => {
      this.#socketsClosed.set(
        socket,
        new Promise<void>((resolve) =>
          socket.once('close', () => {
            this.#socketsClosed.delete(socket);
            resolve();
          }),
        ),
      );
    });
    server.on('clientError', (error: Error & { code?: string }, socket) => this.#onClientError(error, socket as Socket));
    return server;
  }

  async #handle(request: IncomingMessage, response: ServerResponse, expectsContinue: boolean): Promise<void> {
    const exchange: Exchange = {
      requestId: this.#nextRequestId++,
      method: request.method ?? 'GET',
      startedAt: performance.now(),
      path: '',
      route: unmatchedRouteLabel,
      error: undefined,
      closed: false,
    };
    response.once('close', () => {
      exchange.closed = true;
      this.#recordExchange(exchange, response);
    });
    let reply: EncodedReply;
    try {
      reply = encodeReply(await this.#dispatch(request, response, exchange, expectsContinue));
    } catch (error) {
      reply = this.#errorReply(exchange, error);
    }
    try {
      this.#writeReply(request, response, exchange, reply);
    } catch (error) {
      // Only a handler's own headers can make writeHead throw (a bad name or value),
      // and Node checks them before sending anything, so a 500 can still go out.
      this.#writeReply(request, response, exchange, this.#errorReply(exchange, error));
    }
  }

  // Last guard: #handle runs un-awaited from Node's 'request' event, and a rejection
  // there would be unhandled, which ends the process.
  #handleSafely(request: IncomingMessage, response: ServerResponse, expectsContinue: boolean): void {
    this.#handle(request, response, expectsContinue).catch((error: unknown) => {
      this.#logger.error({ err: error, method: request.method, path: truncate(request.url ?? '') }, 'HTTP request handling failed; connection closed');
      response.destroy();
    });
  }

  #errorReply(exchange: Exchange, error: unknown): EncodedReply {
    const errorReply = errorReplyOf(error);
    if (!errorReply.expected || errorReply.status >= 500) exchange.error = error;
    // The client may be gone already; the bug must still reach the log.
    if (exchange.closed && !errorReply.expected) {
      this.#logger.error({ requestId: exchange.requestId, route: exchange.route, err: error }, 'HTTP handler failed after the client left');
    }
    return encodeReply({ status: errorReply.status, body: errorReply.body });
  }

  async #dispatch(request: IncomingMessage, response: ServerResponse, exchange: Exchange, expectsContinue: boolean): Promise<HttpReply> {
    const target = parseRequestTarget(request.url ?? '');
    if (target === undefined) throw new HttpError(400, 'BAD_REQUEST', `malformed request target: ${truncate(request.url ?? '')}`);
    exchange.path = truncate(target.path);
    const match = this.#router.match(exchange.method, target.path);
    if (match.kind === 'not-found') {
      throw new HttpError(404, 'NOT_FOUND', `no route for ${exchange.method} ${exchange.path}`);
    }
    exchange.route = match.pattern;
    if (match.kind === 'method-not-allowed') {
      const allow = match.allowed.join(', ');
      return {
        status: 405,
        body: { error: { code: 'METHOD_NOT_ALLOWED', message: `${exchange.method} is not allowed on ${match.pattern}; allowed: ${allow}` } },
        headers: { allow },
      };
    }
    const params = decodeParams(match.rawParams);
    const bytesMax = match.value.requestBodyBytesMax;
    if (expectsContinue && !((declaredBodyBytes(request) ?? 0) > bytesMax)) response.writeContinue();
    const body = parseJsonBody(await readRequestBody(request, bytesMax));
    const reply = await match.value.handler({
      params,
      query: target.query,
      body,
      headers: request.headers,
      request,
      requestId: exchange.requestId,
      logger: this.#logger.child({ requestId: exchange.requestId }),
    });
    assert.ok(
      typeof reply === 'object' && reply !== null && Number.isInteger(reply.status) && reply.status >= 200 && reply.status <= 599,
      `handler of ${exchange.method} ${match.pattern} returned no valid {status} (integer 200-599)`,
    );
    return reply;
  }

  #writeReply(request: IncomingMessage, response: ServerResponse, exchange: Exchange, reply: EncodedReply): void {
    if (response.headersSent || response.destroyed) return;
    const headers: Record<string, string> = {
      ...reply.headers,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-request-id': String(exchange.requestId),
      'content-length': String(reply.payload?.length ?? 0),
    };
    if (reply.contentType !== undefined) headers['content-type'] = reply.contentType;
    // A body we did not read (413, 404 on a POST) would otherwise be drained from the
    // socket for keep-alive, unbounded; and a stopping server wants its sockets back.
    if (!request.complete || this.#state === 'stopping') headers.connection = 'close';
    response.writeHead(reply.status, headers);
    response.end(exchange.method === 'HEAD' ? undefined : reply.payload);
  }

  #recordExchange(exchange: Exchange, response: ServerResponse): void {
    const finished = response.writableFinished;
    const status = finished ? response.statusCode : undefined;
    const method = isRouteMethod(exchange.method) ? exchange.method : 'OTHER';
    const durationSeconds = (performance.now() - exchange.startedAt) / 1000;
    this.#requestsTotal.inc({ route: exchange.route, method, status: status === undefined ? clientClosedStatusLabel : String(status) });
    this.#requestDurationSeconds.observe({ route: exchange.route, method }, durationSeconds);

    const fields: Record<string, unknown> = {
      requestId: exchange.requestId,
      method: exchange.method,
      route: exchange.route,
      path: exchange.path,
      status: status ?? clientClosedStatusLabel,
      durationMilliseconds: Math.round(durationSeconds * 1e6) / 1e3,
      remoteAddress: response.socket?.remoteAddress ?? response.req.socket?.remoteAddress,
    };
    // Failed means a bug or a thrown 5xx. A reply the handler chose (a 503 from /readyz
    // while loading, polled every few seconds) is an answer, not a failure.
    if (exchange.error !== undefined) {
      this.#logger.error({ ...fields, err: exchange.error }, 'HTTP request failed');
    } else if (status === undefined) {
      this.#logger.info(fields, 'HTTP client left before the reply was sent');
    } else if (durationSeconds * 1000 >= this.#limits.slowRequestMilliseconds) {
      this.#logger.warn(fields, 'slow HTTP request');
    } else if (status >= 400 && !probeRoutes.has(exchange.route)) {
      this.#logger.info(fields, 'HTTP request refused');
    } else {
      this.#logger.debug(fields, 'HTTP request');
    }
  }

  // Node's parser refused the request before routing (malformed, headers too large,
  // request timeout). Node's default reply is a bare status line; ours has the JSON
  // error body of every other route.
  #onClientError(error: Error & { code?: string }, socket: Socket): void {
    const [status, code] = clientErrorStatus(error.code);
    if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') {
      this.#clientErrorsTotal.inc({ status: String(status) });
      this.#logger.info({ status, code: error.code, remoteAddress: socket.remoteAddress }, 'HTTP request refused by the parser');
    }
    // Only a connection that has not started a reply can take one.
    if (!socket.writable || socket.bytesWritten > 0) {
      socket.destroy();
      return;
    }
    const payload = JSON.stringify({ error: { code, message: `${http.STATUS_CODES[status] ?? 'error'} (${error.code ?? 'unknown'})` } }) + '\n';
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n` +
        `content-type: ${jsonContentType}\r\ncontent-length: ${Buffer.byteLength(payload)}\r\nconnection: close\r\n\r\n${payload}`,
    );
    // end() only half-closes; a client that never closes its side must not keep the socket.
    socket.once('finish', () => socket.destroy());
  }

  async #readyz(): Promise<HttpReply> {
    let readiness: Readiness;
    try {
      readiness = await this.#options.readiness();
      assert.ok(typeof readiness === 'object' && readiness !== null && typeof readiness.ready === 'boolean', 'readiness check returned no boolean `ready`');
    } catch (error) {
      this.#logger.error({ err: error }, 'readiness check failed');
      const message = error instanceof Error ? error.message : String(error);
      return { status: 503, body: { ready: false, reason: `readiness check failed: ${message}` } };
    }
    // Details go in the middle so that they can never overwrite `ready` or `reason`.
    if (readiness.ready) return { status: 200, body: Object.assign({ ready: true }, readiness.details, { ready: true }) };
    const verdict = { ready: false, reason: readiness.reason ?? 'not ready' };
    return { status: 503, body: Object.assign({}, verdict, readiness.details, verdict) };
  }

  async #status(): Promise<HttpReply> {
    const extra = (await this.#options.statusExtra?.()) ?? {};
    const core = {
      role: this.#options.role,
      instance: this.#options.instance,
      version: this.#options.version,
      pid: process.pid,
      startedAt: this.#startedAt.toISOString(),
      uptimeSeconds: Math.round(Date.now() - this.#startedAt.getTime()) / 1000,
      ports: this.#ports,
    };
    // Core fields first in the text, and the role's extras cannot overwrite them.
    return { status: 200, body: Object.assign({}, core, extra, core) };
  }
}

interface EncodedReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly contentType: string | undefined;
  readonly payload: Buffer | undefined;
}

function encodeReply(reply: HttpReply): EncodedReply {
  const headers = lowerCaseKeys(reply.headers ?? {});
  if ('text' in reply) {
    return { status: reply.status, headers, contentType: reply.contentType, payload: Buffer.from(reply.text, 'utf8') };
  }
  if (reply.body === undefined) return { status: reply.status, headers, contentType: undefined, payload: undefined };
  // Throws on cycles: a handler bug, answered 500 like any other.
  const text = JSON.stringify(reply.body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  return { status: reply.status, headers, contentType: jsonContentType, payload: Buffer.from(`${text}\n`, 'utf8') };
}

function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  const lowered: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) lowered[name.toLowerCase()] = value;
  return lowered;
}

function parseRequestTarget(url: string): { path: string; query: URLSearchParams } | undefined {
  if (url.startsWith('/')) {
    const queryStart = url.indexOf('?');
    return queryStart < 0
      ? { path: url, query: new URLSearchParams() }
      : { path: url.slice(0, queryStart), query: new URLSearchParams(url.slice(queryStart + 1)) };
  }
  // Absolute form (`GET http://host/path`), which HTTP/1.1 servers must accept.
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? { path: parsed.pathname, query: parsed.searchParams } : undefined;
  } catch {
    return undefined;
  }
}

function decodeParams(rawParams: Readonly<Record<string, string>>): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, raw] of Object.entries(rawParams)) {
    try {
      params[name] = decodeURIComponent(raw);
    } catch (error) {
      throw new HttpError(400, 'BAD_REQUEST', `malformed percent-encoding in path parameter :${name}: ${truncate(raw)}`, { cause: error });
    }
  }
  return params;
}

function clientErrorStatus(code: string | undefined): [number, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'REQUEST_HEADERS_TOO_LARGE'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'REQUEST_TIMEOUT'];
    default:
      return [400, 'BAD_REQUEST'];
  }
}

function truncate(text: string): string {
  return text.length <= loggedPathCharactersMax ? text : `${text.slice(0, loggedPathCharactersMax)}...`;
}

function withoutUndefined(ports: InstancePorts): InstancePorts {
  return Object.fromEntries(Object.entries(ports).filter(([, port]) => port !== undefined)) as InstancePorts;
}
