// The RPC server: accepts connections, authenticates them with the cluster secret,
// dispatches requests to typed handlers, and shuts down gracefully (GoAway, then waits
// for in-flight calls, bounded by drainTimeoutMs).
//
// Bad input never takes the server down: a frame that does not parse closes that one
// connection with a logged reason; a header that does not decode, an unknown method or a
// handler's failure answers that one request with an error frame.
import { createServer, type Server, type Socket } from 'node:net';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { HandshakeAccept, HandshakeChallenge, HandshakeResponse } from '../proto/generated/common.js';
import { FrameDecoder, FrameError, type Frame } from './frame-decoder.js';
import type { PayloadPool } from './payload-pool.js';
import { FrameKind } from './frame.js';
import { FrameWriter } from './frame-writer.js';
import { clientProof, newNonce, normalizeSecret, proofMatches, serverProof } from './handshake.js';
import { protocolVersion, rpcLimits, type RpcLimits } from './limits.js';
import { silentRpcLogger, type RpcLogger } from './logger.js';
import { methodLabel, ReplyWithPayload, type MethodDescriptor } from './method.js';

/** The message of the UNAVAILABLE a server answers, undispatched, while it shuts down (clients retry it anywhere). */
export const shuttingDownMessage = 'server is shutting down; retry on another connection';
import { errorFrameHeader } from './error-frame.js';

// Before authentication a peer may send only a small handshake, never bulk data.
const handshakeHeaderBytesMax = 1024;

export interface CallContext {
  readonly methodName: string;
  readonly requestId: number;
  // Bulk bytes sent beside the request header (empty when none). A view of the
  // connection's receive buffer: copy it if it must outlive the call.
  readonly payload: Buffer;
  // Date.now() value after which the caller has given up; 0 when it set none.
  readonly deadline: number;
  // Aborted on the caller's Cancel, its deadline, or loss of the connection.
  readonly signal: AbortSignal;
  readonly peerInstance: string;
  readonly remoteAddress: string;
  // Gives the payload's memory back to the server's payload pool (RpcServerOptions.
  // payloadPool), for a later request's payload. Only for a handler that knows nothing
  // holds the bytes any more: not its own code, not a store's queue, not a socket it
  // forwarded them on. Does nothing when the payload is not from the pool, and after the
  // first call.
  releasePayload(): void;
}

export type Handler<Request, Response> = (
  request: Request,
  context: CallContext,
) => Response | ReplyWithPayload<Response> | Promise<Response | ReplyWithPayload<Response>>;

interface Registered {
  method: MethodDescriptor<unknown, unknown>;
  handler: Handler<unknown, unknown>;
  // 'Service.Method', for logs, metrics and error messages.
  label: string;
}

export interface RpcServerOptions {
  secret: string | Uint8Array;
  instance: string;
  logger?: RpcLogger;
  limits?: Partial<RpcLimits>;
  // Payloads joined from several socket chunks go into this pool's buffers, which
  // handlers may give back (CallContext.releasePayload). Without it, each is new memory.
  payloadPool?: PayloadPool;
  // Called for each finished call, for metrics.
  onCallFinished?: (methodName: string, status: StatusCode, durationMs: number) => void;
}

export class RpcServer {
  readonly limits: RpcLimits;
  readonly instance: string;
  readonly logger: RpcLogger;
  private readonly secret: Buffer;
  private readonly methods = new Map<number, Registered>();
  private readonly connections = new Set<ServerConnection>();
  private server: Server | null = null;
  private stopping = false;
  readonly onCallFinished: RpcServerOptions['onCallFinished'];
  readonly payloadPool: PayloadPool | null;

  constructor(options: RpcServerOptions) {
    this.secret = normalizeSecret(options.secret);
    this.instance = options.instance;
    this.logger = options.logger ?? silentRpcLogger;
    this.limits = rpcLimits(options.limits);
    this.onCallFinished = options.onCallFinished;
    this.payloadPool = options.payloadPool ?? null;
  }

  handle<Request, Response>(method: MethodDescriptor<Request, Response>, handler: Handler<Request, Response>): void {
    if (this.methods.has(method.id)) {
      throw new Error(`rpc server: method id ${method.id} (${method.name}) is registered twice`);
    }
    const untyped = method as MethodDescriptor<unknown, unknown>;
    this.methods.set(method.id, { method: untyped, handler: handler as Handler<unknown, unknown>, label: methodLabel(untyped) });
  }

  lookup(methodId: number): Registered | undefined {
    return this.methods.get(methodId);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  // Listens on host:port (0 = any free port) and resolves with the bound port. `key` and
  // `purpose` name the port in the error when it cannot be bound.
  listen(host: string, port: number, key = 'port', purpose = 'RPC service'): Promise<number> {
    if (this.server !== null) throw new Error('rpc server: listen called twice');
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        this.server = null;
        const what = error.code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${error.code ?? error.message})`;
        reject(new AtollError(StatusCode.UNAVAILABLE, `port ${port} (${key}, ${purpose}) ${what} on ${host}`, { cause: error }));
      };
      server.once('error', onError);
      server.listen({ host, port, backlog: 1024 }, () => {
        server.off('error', onError);
        server.on('error', (error) => this.logger.error({ err: error }, 'rpc listener error'));
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  // Graceful: stop accepting, tell every connection to go away, wait for in-flight calls
  // (at most drainTimeoutMs), then close what is left.
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const server = this.server;
    const closed = server === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    for (const connection of this.connections) connection.goAway();
    const deadline = Date.now() + this.limits.drainTimeoutMs;
    while (this.connections.size > 0 && Date.now() < deadline) {
      const pending = [...this.connections].map((connection) => connection.drained());
      await Promise.race([Promise.all(pending), delay(Math.max(1, deadline - Date.now()))]);
    }
    for (const connection of this.connections) connection.close('server stopped');
    await closed;
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const connection = new ServerConnection(this, socket, this.secret);
    this.connections.add(connection);
    socket.once('close', () => this.connections.delete(connection));
  }
}

interface InflightCall {
  controller: AbortController | null;
  timer: NodeJS.Timeout | null;
}

class ServerConnection {
  private readonly decoder: FrameDecoder;
  private readonly writer: FrameWriter;
  private readonly remoteAddress: string;
  private readonly serverNonce = newNonce();
  private state: 'handshake' | 'open' | 'closed' = 'handshake';
  private peerInstance = '';
  private readonly inflight = new Map<number, InflightCall>();
  // One-way requests whose handler has not settled yet (see onNotify).
  private notifying = 0;
  private paused = false;
  private goingAway = false;
  private handshakeTimer: NodeJS.Timeout | null;
  private drainWaiters: Array<() => void> = [];

  constructor(
    private readonly server: RpcServer,
    private readonly socket: Socket,
    private readonly secret: Buffer,
  ) {
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.decoder = new FrameDecoder(handshakeHeaderBytesMax, 0, server.payloadPool);
    this.writer = new FrameWriter(socket, server.limits.coalesceFrameBytesMax);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') {
        server.logger.debug({ remote: this.remoteAddress, err: error.message }, 'rpc connection error');
      }
    });
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.maybeResume());
    socket.setTimeout(server.limits.frameStallTimeoutMs);
    socket.on('timeout', () => {
      // Only a frame that stopped halfway counts; while paused, the silence is ours.
      if (this.decoder.bufferedBytes > 0 && !this.paused) {
        this.reject(`no byte for ${server.limits.frameStallTimeoutMs} ms in the middle of a frame (${this.decoder.bufferedBytes} bytes held)`, StatusCode.BAD_FRAME);
      }
    });
    this.handshakeTimer = setTimeout(() => this.reject('handshake timed out', StatusCode.UNAUTHENTICATED), server.limits.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    const challenge = HandshakeChallenge.encode({ protocolVersion, serverNonce: this.serverNonce, serverInstance: server.instance });
    this.writer.enqueue(FrameKind.Challenge, 0, 0, 0, challenge, null);
  }

  goAway(): void {
    if (this.state === 'closed' || this.goingAway) return;
    this.goingAway = true;
    if (this.state === 'handshake') {
      this.close('server stopping');
      return;
    }
    // The client closes the connection once its calls are answered. Until then requests
    // that crossed the GoAway on the wire are refused as shutting down (never carried
    // out, so the client repeats them elsewhere); ending the socket here would leave them
    // unanswered, an unknown outcome. stop() closes what is left after drainTimeoutMs.
    this.writer.enqueueEmpty(FrameKind.GoAway, 0, 0);
    this.writer.flush();
  }

  drained(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.server.logger.debug({ remote: this.remoteAddress, peer: this.peerInstance, reason }, 'rpc connection closed');
    this.socket.destroy();
  }


  private onClose(): void {
    this.state = 'closed';
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.writer.close();
    for (const call of this.inflight.values()) {
      if (call.timer !== null) clearTimeout(call.timer);
      call.controller?.abort(new AtollError(StatusCode.CANCELLED, 'connection closed'));
    }
    this.inflight.clear();
    for (const resolve of this.drainWaiters) resolve();
    this.drainWaiters = [];
  }

  // A peer that breaks the protocol: tell it why when the stream is still in step, log,
  // close. Other connections are not affected.
  private reject(reason: string, status: StatusCode): void {
    if (this.state === 'closed') return;
    this.server.logger.warn({ remote: this.remoteAddress, peer: this.peerInstance, reason, status: StatusCode[status] }, 'rpc connection refused');
    this.writer.enqueue(FrameKind.Error, 0, 0, 0, errorFrameHeader(status, reason), null);
    this.writer.flush();
    this.state = 'closed';
    this.socket.end();
    // A peer that keeps the socket open after our end is cut off.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.decoder.push(chunk);
    this.process();
  }

  private process(): void {
    const limit = this.server.limits.inflightRequestsMax;
    try {
      while (this.state !== 'closed') {
        if (this.inflight.size + this.notifying >= limit || this.writer.pendingBytes > this.server.limits.writeQueueBytesMax) {
          this.pause();
          return;
        }
        const frame = this.decoder.next();
        if (frame === null) return;
        this.dispatch(frame);
      }
    } catch (error) {
      if (error instanceof FrameError) {
        this.reject(`bad frame: ${error.message}`, StatusCode.BAD_FRAME);
        return;
      }
      throw error;
    }
  }

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private maybeResume(): void {
    if (!this.paused || this.state === 'closed') return;
    if (this.inflight.size + this.notifying >= this.server.limits.inflightRequestsMax) return;
    if (this.writer.pendingBytes > this.server.limits.writeQueueBytesMax) return;
    this.paused = false;
    this.socket.resume();
    this.process();
  }

  private dispatch(frame: Frame): void {
    if (this.state === 'handshake') {
      this.onHandshake(frame);
      return;
    }
    switch (frame.kind) {
      case FrameKind.Request:
        this.onRequest(frame);
        return;
      case FrameKind.Notify:
        this.onNotify(frame);
        return;
      case FrameKind.Cancel: {
        const call = this.inflight.get(frame.requestId);
        call?.controller?.abort(new AtollError(StatusCode.CANCELLED, 'cancelled by the caller'));
        return;
      }
      default:
        this.reject(`unexpected frame kind ${FrameKind[frame.kind] ?? frame.kind} from a client`, StatusCode.BAD_FRAME);
    }
  }

  private onHandshake(frame: Frame): void {
    if (frame.kind !== FrameKind.Handshake) {
      this.reject(`expected a handshake, got frame kind ${FrameKind[frame.kind] ?? frame.kind}`, StatusCode.UNAUTHENTICATED);
      return;
    }
    let response: HandshakeResponse;
    try {
      response = HandshakeResponse.decode(frame.header);
    } catch (error) {
      this.reject(`handshake does not decode: ${(error as Error).message}`, StatusCode.UNAUTHENTICATED);
      return;
    }
    if (response.protocolVersion !== protocolVersion) {
      this.reject(`protocol version ${response.protocolVersion} not supported (this server speaks ${protocolVersion})`, StatusCode.UNAUTHENTICATED);
      return;
    }
    const expected = clientProof(this.secret, this.serverNonce, response.clientNonce, response.clientInstance);
    if (response.clientNonce.length < 16 || !proofMatches(expected, response.clientProof)) {
      this.reject(`authentication failed for client '${response.clientInstance}': wrong cluster secret`, StatusCode.UNAUTHENTICATED);
      return;
    }
    if (this.handshakeTimer !== null) {
      clearTimeout(this.handshakeTimer);
      this.handshakeTimer = null;
    }
    this.peerInstance = response.clientInstance;
    this.state = 'open';
    const limits = this.server.limits;
    this.decoder.setLimits(limits.headerBytesMax, limits.payloadBytesMax);
    const accept = HandshakeAccept.encode({
      serverProof: serverProof(this.secret, response.clientNonce, this.serverNonce, this.server.instance),
      frameBytesMax: Math.min(0xffff_ffff, limits.headerBytesMax + limits.payloadBytesMax),
      inflightRequestsMax: limits.inflightRequestsMax,
    });
    this.writer.enqueue(FrameKind.Accept, 0, 0, 0, accept, null);
  }

  private onRequest(frame: Frame): void {
    const requestId = frame.requestId;
    const method = frame.method;
    if (this.inflight.has(requestId)) {
      this.reject(`request id ${requestId} is already in flight`, StatusCode.BAD_FRAME);
      return;
    }
    if (this.goingAway || this.server.isStopping) {
      this.sendError(requestId, method, StatusCode.UNAVAILABLE, shuttingDownMessage);
      return;
    }
    const registered = this.server.lookup(method);
    if (registered === undefined) {
      this.sendError(requestId, method, StatusCode.UNKNOWN_METHOD, `method id ${method} is not served by ${this.server.instance}`);
      return;
    }
    let request: unknown;
    try {
      request = registered.method.request.decode(frame.header);
    } catch (error) {
      this.sendError(requestId, method, StatusCode.BAD_FRAME, `${registered.label}: request does not decode: ${(error as Error).message}`);
      return;
    }
    const started = Date.now();
    const deadline = frame.deadlineMs === 0 ? 0 : started + frame.deadlineMs;
    const call: InflightCall = { controller: null, timer: null };
    this.inflight.set(requestId, call);
    const context = new ServerCallContext(registered.label, requestId, frame.payload, deadline, this.peerInstance, this.remoteAddress, call, this.server.payloadPool);
    let result: unknown;
    try {
      result = registered.handler(request, context);
    } catch (error) {
      this.finish(requestId, registered, started, deadline, undefined, error);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(
        (value) => this.finish(requestId, registered, started, deadline, value, undefined),
        (error: unknown) => this.finish(requestId, registered, started, deadline, undefined, error ?? new Error('handler rejected')),
      );
    } else {
      this.finish(requestId, registered, started, deadline, result, undefined);
    }
  }

  // A one-way request: run the handler, answer nothing. What would have been an error
  // frame is logged instead; the sender chose not to hear about it.
  private onNotify(frame: Frame): void {
    if (this.goingAway || this.server.isStopping) return;
    const registered = this.server.lookup(frame.method);
    if (registered === undefined) {
      this.server.logger.warn({ method: frame.method, peer: this.peerInstance }, 'rpc: one-way request for a method this server does not serve, dropped');
      return;
    }
    const started = Date.now();
    const done = (error: unknown): void => {
      let status = StatusCode.OK;
      if (error !== undefined) {
        status = error instanceof AtollError ? error.status : StatusCode.INTERNAL;
        const fields = { method: registered.label, peer: this.peerInstance, err: error instanceof Error ? { message: error.message, stack: error instanceof AtollError ? undefined : error.stack } : String(error) };
        if (error instanceof AtollError) this.server.logger.warn(fields, 'rpc one-way request failed');
        else this.server.logger.error(fields, 'rpc one-way handler failed');
      }
      this.server.onCallFinished?.(registered.label, status, Date.now() - started);
    };
    let result: unknown;
    try {
      const request = registered.method.request.decode(frame.header);
      const context = new ServerCallContext(registered.label, 0, frame.payload, 0, this.peerInstance, this.remoteAddress, { controller: null, timer: null }, this.server.payloadPool);
      result = registered.handler(request, context);
    } catch (error) {
      done(error);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      // Handlers still running count against inflightRequestsMax like calls do.
      this.notifying += 1;
      const settle = (error: unknown): void => {
        this.notifying -= 1;
        done(error);
        if (this.paused) this.maybeResume();
      };
      (result as Promise<unknown>).then(() => settle(undefined), (error: unknown) => settle(error ?? new Error('handler rejected')));
    } else {
      done(undefined);
    }
  }

  private finish(requestId: number, registered: Registered, started: number, deadline: number, value: unknown, error: unknown): void {
    const call = this.inflight.get(requestId);
    if (call === undefined) return;
    this.inflight.delete(requestId);
    if (call.timer !== null) clearTimeout(call.timer);
    const methodId = registered.method.id;
    let status = StatusCode.OK;
    if (this.state === 'open') {
      if (error !== undefined) {
        status = this.sendFailure(requestId, registered, error);
      } else if (deadline !== 0 && Date.now() >= deadline) {
        // The caller has given up already; an answer would only cost bandwidth.
        status = StatusCode.TIMEOUT;
      } else {
        try {
          const codec = registered.method.response;
          const response = value instanceof ReplyWithPayload ? value.response : value;
          const payload = value instanceof ReplyWithPayload ? value.payload : null;
          const onSent = value instanceof ReplyWithPayload ? value.onSent : undefined;
          const headerLength = codec.encodedSize(response);
          const limits = this.server.limits;
          if (headerLength > limits.headerBytesMax || (payload !== null && payload.length > limits.payloadBytesMax)) {
            throw new AtollError(StatusCode.TOO_LARGE, `${registered.label}: response of ${headerLength} + ${payload?.length ?? 0} bytes exceeds the frame limits`);
          }
          this.writer.enqueueMessage(FrameKind.Response, methodId, requestId, 0, codec, response, headerLength, payload, onSent);
        } catch (encodeError) {
          status = this.sendFailure(requestId, registered, encodeError);
        }
      }
    }
    this.server.onCallFinished?.(registered.label, status, Date.now() - started);
    if (this.goingAway && this.inflight.size === 0) {
      for (const resolve of this.drainWaiters) resolve();
      this.drainWaiters = [];
    } else if (this.paused) {
      this.maybeResume();
    }
  }

  private sendFailure(requestId: number, registered: Registered, error: unknown): StatusCode {
    if (error instanceof AtollError) {
      this.writer.enqueue(FrameKind.Error, registered.method.id, requestId, 0, errorFrameHeader(error.status, error.message, error.leaderHint, error.retryAfterMs), null);
      return error.status;
    }
    // Anything else is a bug in the handler: log it in full, tell the caller little.
    this.server.logger.error(
      { method: registered.label, peer: this.peerInstance, err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) },
      'rpc handler failed',
    );
    this.writer.enqueue(FrameKind.Error, registered.method.id, requestId, 0, errorFrameHeader(StatusCode.INTERNAL, `${registered.label}: internal error`), null);
    return StatusCode.INTERNAL;
  }

  private sendError(requestId: number, method: number, status: StatusCode, message: string): void {
    this.writer.enqueue(FrameKind.Error, method, requestId, 0, errorFrameHeader(status, message), null);
    this.server.onCallFinished?.(String(method), status, 0);
  }
}

// The context is created for every call; the AbortController and the deadline timer
// only when a handler asks for the signal, because most handlers never do.
class ServerCallContext implements CallContext {
  constructor(
    readonly methodName: string,
    readonly requestId: number,
    readonly payload: Buffer,
    readonly deadline: number,
    readonly peerInstance: string,
    readonly remoteAddress: string,
    private readonly call: InflightCall,
    private payloads: PayloadPool | null,
  ) {}

  releasePayload(): void {
    this.payloads?.give(this.payload);
    this.payloads = null;
  }

  get signal(): AbortSignal {
    if (this.call.controller === null) {
      const controller = new AbortController();
      this.call.controller = controller;
      if (this.deadline !== 0) {
        const remaining = this.deadline - Date.now();
        const timeout = new AtollError(StatusCode.TIMEOUT, `${this.methodName}: deadline exceeded`);
        if (remaining <= 0) controller.abort(timeout);
        else {
          this.call.timer = setTimeout(() => controller.abort(timeout), remaining);
          this.call.timer.unref();
        }
      }
    }
    return this.call.controller.signal;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

