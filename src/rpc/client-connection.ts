// One authenticated client connection: many calls in flight, matched to responses by
// request id; a bounded window of in-flight calls with a bounded wait queue behind it;
// per-call deadlines and cancellation.
import { connect, type Socket } from 'node:net';
import { AtollError } from '../errors/atoll-error.js';
import { HandshakeAccept, HandshakeChallenge, HandshakeResponse, StatusCode } from '../proto/generated/common.js';
import { errorFromFrameHeader } from './error-frame.js';
import { FrameDecoder, FrameError, type Frame } from './frame-decoder.js';
import { FrameReader } from './frame-reader.js';
import { FrameKind } from './frame.js';
import { FrameWriter } from './frame-writer.js';
import { clientProof, newNonce, proofMatches, serverProof } from './handshake.js';
import { protocolVersion, type RpcLimits } from './limits.js';
import type { RpcLogger } from './logger.js';
import { methodLabel, type MethodDescriptor, type ResponseWithPayload } from './method.js';

export interface CallOptions {
  // Milliseconds the call may take, sent to the server too; defaults to the limits'.
  deadlineMs?: number;
  // Bulk bytes sent beside the request header, without copying.
  payload?: Uint8Array;
  signal?: AbortSignal;
}

interface PendingCall {
  method: MethodDescriptor<unknown, unknown>;
  // Resolves with the response alone, or with {response, payload} when withPayload.
  withPayload: boolean;
  resolve: (value: unknown) => void;
  reject: (error: AtollError) => void;
  // Date.now() after which the call fails with TIMEOUT; checked by the deadline sweep.
  deadlineAt: number;
  deadlineMs: number;
  signal: AbortSignal | null;
  onAbort: (() => void) | null;
}

interface WaitingCall {
  method: MethodDescriptor<unknown, unknown>;
  withPayload: boolean;
  request: unknown;
  options: CallOptions | undefined;
  resolve: PendingCall['resolve'];
  reject: PendingCall['reject'];
}

const handshakePayloadBytesMax = 0;
// Deadlines are checked by one sweep per connection rather than a timer per call (a timer
// per call showed in profiles); a call fails at most this late.
const deadlineSweepMs = 10;
const handshakeHeaderBytesMax = 4096;

export class ClientConnection {
  private readonly decoder: FrameDecoder;
  private readonly reader: FrameReader;
  private readonly writer: FrameWriter;
  private readonly pending = new Map<number, PendingCall>();
  private readonly waiting: WaitingCall[] = [];
  private waitingHead = 0;
  private nextRequestId = 1;
  private inflightMax: number;
  private state: 'connecting' | 'open' | 'draining' | 'closed' = 'connecting';
  private closeReason = '';
  private readonly clientNonce = newNonce();
  private sweepTimer: NodeJS.Timeout | null = null;
  private serverInstance = '';
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (error: AtollError) => void;
  // Called once when the connection can take no new calls (GoAway or closed).
  onUnusable: (() => void) | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    private readonly secret: Buffer,
    private readonly instance: string,
    private readonly limits: RpcLimits,
    private readonly logger: RpcLogger,
    decoder: FrameDecoder,
    reader: FrameReader,
  ) {
    this.inflightMax = limits.inflightRequestsMax;
    this.decoder = decoder;
    this.reader = reader;
    this.writer = new FrameWriter(socket, limits.coalesceFrameBytesMax);
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Nobody may be waiting on `ready` when the connection fails later; that is fine.
    this.ready.catch(() => {});
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.closeReason ||= error.code === 'ECONNREFUSED' ? 'connection refused' : `${error.code ?? 'error'}: ${error.message}`;
    });
    socket.on('close', () => this.onClose());
  }

  static open(address: string, secret: Buffer, instance: string, limits: RpcLimits, logger: RpcLogger): ClientConnection {
    const { host, port } = parseAddress(address);
    // The socket reads into memory the frame reader hands it (`onread`; asked for at once,
    // inside connect()), so a large answer is read straight into its own buffer; the
    // connection exists before the first read arrives.
    const decoder = new FrameDecoder(handshakeHeaderBytesMax, handshakePayloadBytesMax);
    const reader = new FrameReader(decoder, limits.readScratchBytes, limits.readInPlaceBytesMin);
    let connection: ClientConnection | undefined;
    const socket = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: () => reader.buffer(),
        callback: (bytes: number) => {
          connection!.onRead(bytes);
          return true;
        },
      },
    });
    connection = new ClientConnection(socket, address, secret, instance, limits, logger, decoder, reader);
    const timer = setTimeout(() => {
      if (connection.state === 'connecting') connection.fail(`could not connect and authenticate within ${limits.connectTimeoutMs} ms`);
    }, limits.connectTimeoutMs);
    timer.unref();
    connection.ready.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    return connection;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get load(): number {
    return this.pending.size + (this.waiting.length - this.waitingHead);
  }

  get peerInstance(): string {
    return this.serverInstance;
  }

  call<Request, Response>(method: MethodDescriptor<Request, Response>, request: Request, options: CallOptions | undefined, withPayload: true): Promise<ResponseWithPayload<Response>>;
  call<Request, Response>(method: MethodDescriptor<Request, Response>, request: Request, options: CallOptions | undefined, withPayload: false): Promise<Response>;
  call<Request, Response>(method: MethodDescriptor<Request, Response>, request: Request, options: CallOptions | undefined, withPayload: boolean): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.state !== 'open') {
        reject(this.unavailable());
        return;
      }
      if (options?.signal?.aborted) {
        reject(new AtollError(StatusCode.CANCELLED, `${methodLabel(method)}: cancelled before it was sent`));
        return;
      }
      const untypedMethod = method as MethodDescriptor<unknown, unknown>;
      const untypedResolve = resolve as PendingCall['resolve'];
      if (this.pending.size >= this.inflightMax) {
        if (this.waiting.length - this.waitingHead >= this.limits.waitingCallsMax) {
          reject(new AtollError(StatusCode.OVERLOADED, `${methodLabel(method)}: more than ${this.limits.waitingCallsMax} calls waiting on ${this.address}`));
          return;
        }
        this.waiting.push({ method: untypedMethod, withPayload, request, options, resolve: untypedResolve, reject });
        return;
      }
      this.send(untypedMethod, withPayload, request, options, untypedResolve, reject);
    });
  }

  /**
   * Sends a one-way request (FrameKind.Notify): no request id, no deadline, no answer.
   * Throws when it cannot be queued (connection not open, request too large or not
   * encodable, more than writeQueueBytesMax waiting for the socket); once queued, nothing
   * tells whether it arrived or what the handler made of it.
   */
  notify<Request>(method: MethodDescriptor<Request, unknown>, request: Request, options?: Pick<CallOptions, 'payload'>): void {
    if (this.state !== 'open') throw this.unavailable();
    const label = methodLabel(method as MethodDescriptor<unknown, unknown>);
    let headerLength: number;
    try {
      headerLength = method.request.encodedSize(request);
    } catch (error) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `${label}: request does not encode: ${(error as Error).message}`, { cause: error });
    }
    const payload = options?.payload ?? null;
    if (headerLength > this.limits.headerBytesMax || (payload !== null && payload.length > this.limits.payloadBytesMax)) {
      throw new AtollError(StatusCode.TOO_LARGE, `${label}: one-way request of ${headerLength} + ${payload?.length ?? 0} bytes exceeds the limits`);
    }
    // Calls are bounded by their window; one-way requests by what waits for the socket.
    if (this.writer.pendingBytes > this.limits.writeQueueBytesMax) {
      throw new AtollError(StatusCode.OVERLOADED, `${label}: ${this.writer.pendingBytes} bytes wait for the socket to ${this.address}`);
    }
    this.writer.enqueueMessage(FrameKind.Notify, method.id, 0, 0, method.request, request, headerLength, payload);
  }

  // Closes at once; every call still pending fails with UNAVAILABLE.
  close(reason = 'closed by the client'): void {
    this.fail(reason);
  }

  private send(method: MethodDescriptor<unknown, unknown>, withPayload: boolean, request: unknown, options: CallOptions | undefined, resolve: PendingCall['resolve'], reject: PendingCall['reject']): void {
    let headerLength: number;
    try {
      headerLength = method.request.encodedSize(request);
    } catch (error) {
      reject(new AtollError(StatusCode.INVALID_ARGUMENT, `${methodLabel(method)}: request does not encode: ${(error as Error).message}`, { cause: error }));
      return;
    }
    const payload = options?.payload ?? null;
    if (headerLength > this.limits.headerBytesMax || (payload !== null && payload.length > this.limits.payloadBytesMax)) {
      reject(new AtollError(StatusCode.TOO_LARGE, `${methodLabel(method)}: request of ${headerLength} + ${payload?.length ?? 0} bytes exceeds the limits`));
      return;
    }
    let requestId = this.nextRequestId;
    while (this.pending.has(requestId)) requestId = (requestId + 1) >>> 0 || 1;
    this.nextRequestId = (requestId + 1) >>> 0 || 1;
    const deadlineMs = Math.max(1, Math.ceil(options?.deadlineMs ?? this.limits.defaultDeadlineMs));
    const call: PendingCall = { method, withPayload, resolve, reject, deadlineAt: Date.now() + deadlineMs, deadlineMs, signal: null, onAbort: null };
    if (this.sweepTimer === null) {
      this.sweepTimer = setInterval(() => this.sweepDeadlines(), deadlineSweepMs);
      this.sweepTimer.unref();
    }
    const signal = options?.signal;
    if (signal !== undefined) {
      call.signal = signal;
      call.onAbort = () => this.abandon(requestId, new AtollError(StatusCode.CANCELLED, `${methodLabel(method)}: cancelled by the caller`));
      signal.addEventListener('abort', call.onAbort, { once: true });
    }
    this.pending.set(requestId, call);
    this.writer.enqueueMessage(FrameKind.Request, method.id, requestId, deadlineMs, method.request, request, headerLength, payload);
  }

  private sweepDeadlines(): void {
    if (this.pending.size === 0) {
      clearInterval(this.sweepTimer!);
      this.sweepTimer = null;
      return;
    }
    const now = Date.now();
    for (const [requestId, call] of this.pending) {
      if (call.deadlineAt <= now) {
        this.abandon(requestId, new AtollError(StatusCode.TIMEOUT, `${methodLabel(call.method)}: no answer from ${this.address} within ${call.deadlineMs} ms`));
      }
    }
  }

  private abandon(requestId: number, error: AtollError): void {
    const call = this.settle(requestId);
    if (call === undefined) return;
    if (this.state === 'open' || this.state === 'draining') {
      this.writer.enqueueEmpty(FrameKind.Cancel, call.method.id, requestId);
    }
    call.reject(error);
  }

  private settle(requestId: number): PendingCall | undefined {
    const call = this.pending.get(requestId);
    if (call === undefined) return undefined;
    this.pending.delete(requestId);
    if (call.onAbort !== null) call.signal!.removeEventListener('abort', call.onAbort);
    this.admitWaiting();
    return call;
  }

  private admitWaiting(): void {
    while (this.state === 'open' && this.pending.size < this.inflightMax && this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead]!;
      this.waiting[this.waitingHead] = undefined as unknown as WaitingCall;
      this.waitingHead += 1;
      if (next.options?.signal?.aborted) {
        next.reject(new AtollError(StatusCode.CANCELLED, `${methodLabel(next.method)}: cancelled while waiting`));
        continue;
      }
      this.send(next.method, next.withPayload, next.request, next.options, next.resolve, next.reject);
    }
    if (this.waitingHead === this.waiting.length && this.waitingHead > 0) {
      this.waiting.length = 0;
      this.waitingHead = 0;
    }
    if (this.state === 'draining' && this.pending.size === 0) this.fail('drained after GoAway');
  }

  private onRead(bytes: number): void {
    if (this.state === 'closed') return;
    this.reader.read(bytes);
    try {
      let frame: Frame | null;
      while (!this.isClosed && (frame = this.reader.next()) !== null) this.dispatch(frame);
    } catch (error) {
      if (error instanceof FrameError) {
        this.logger.warn({ address: this.address, reason: error.message }, 'rpc: bad frame from server, closing');
        this.fail(`bad frame from server: ${error.message}`, StatusCode.BAD_FRAME);
        return;
      }
      throw error;
    }
  }

  private dispatch(frame: Frame): void {
    switch (frame.kind) {
      case FrameKind.Response: {
        const call = this.settle(frame.requestId);
        if (call === undefined) return; // cancelled or timed out already
        // The sweep runs every few ms; an answer past the deadline is a timeout all the same,
        // so a deadline means the same thing whichever side noticed it first.
        if (Date.now() >= call.deadlineAt) {
          call.reject(new AtollError(StatusCode.TIMEOUT, `${methodLabel(call.method)}: answer from ${this.address} came after the ${call.deadlineMs} ms deadline`));
          return;
        }
        let response: unknown;
        try {
          response = call.method.response.decode(frame.header);
        } catch (error) {
          call.reject(new AtollError(StatusCode.BAD_FRAME, `${methodLabel(call.method)}: response does not decode: ${(error as Error).message}`));
          return;
        }
        call.resolve(call.withPayload ? { response, payload: frame.payload } : response);
        return;
      }
      case FrameKind.Error: {
        if (frame.requestId === 0) {
          // A connection-level refusal (authentication, protocol).
          const error = errorFromFrameHeader(frame.header, `server ${this.address}`);
          this.fail(error.message, error.status);
          return;
        }
        const call = this.settle(frame.requestId);
        if (call === undefined) return;
        call.reject(errorFromFrameHeader(frame.header, methodLabel(call.method)));
        return;
      }
      case FrameKind.Challenge:
        this.onChallenge(frame);
        return;
      case FrameKind.Accept:
        this.onAccept(frame);
        return;
      case FrameKind.GoAway:
        if (this.state === 'open') {
          this.state = 'draining';
          this.onUnusable?.();
          // Calls still waiting for a slot were never sent: fail them as retryable.
          this.failWaiting(this.unavailable());
          if (this.pending.size === 0) this.fail('server went away');
        }
        return;
      default:
        this.fail(`unexpected frame kind ${frame.kind} from server`, StatusCode.BAD_FRAME);
    }
  }

  private onChallenge(frame: Frame): void {
    if (this.state !== 'connecting' || this.serverInstance !== '') {
      this.fail('unexpected handshake challenge', StatusCode.BAD_FRAME);
      return;
    }
    let challenge: HandshakeChallenge;
    try {
      challenge = HandshakeChallenge.decode(frame.header);
    } catch (error) {
      this.fail(`handshake challenge does not decode: ${(error as Error).message}`, StatusCode.BAD_FRAME);
      return;
    }
    if (challenge.protocolVersion !== protocolVersion) {
      this.fail(`server speaks protocol version ${challenge.protocolVersion}, this client ${protocolVersion}`, StatusCode.BAD_FRAME);
      return;
    }
    this.serverInstance = challenge.serverInstance;
    this.pendingServerNonce = challenge.serverNonce;
    const response = HandshakeResponse.encode({
      protocolVersion,
      clientNonce: this.clientNonce,
      clientProof: clientProof(this.secret, challenge.serverNonce, this.clientNonce, this.instance),
      clientInstance: this.instance,
    });
    this.writer.enqueue(FrameKind.Handshake, 0, 0, 0, response, null);
  }

  private pendingServerNonce: Uint8Array = new Uint8Array(0);

  private onAccept(frame: Frame): void {
    if (this.state !== 'connecting' || this.serverInstance === '') {
      this.fail('unexpected handshake accept', StatusCode.BAD_FRAME);
      return;
    }
    let accept: HandshakeAccept;
    try {
      accept = HandshakeAccept.decode(frame.header);
    } catch (error) {
      this.fail(`handshake accept does not decode: ${(error as Error).message}`, StatusCode.BAD_FRAME);
      return;
    }
    const expected = serverProof(this.secret, this.clientNonce, this.pendingServerNonce, this.serverInstance);
    if (!proofMatches(expected, accept.serverProof)) {
      this.fail(`server '${this.serverInstance}' at ${this.address} failed to prove it holds the cluster secret`, StatusCode.UNAUTHENTICATED);
      return;
    }
    if (accept.inflightRequestsMax > 0) this.inflightMax = Math.min(this.inflightMax, accept.inflightRequestsMax);
    this.decoder.setLimits(this.limits.headerBytesMax, this.limits.payloadBytesMax);
    this.state = 'open';
    this.resolveReady();
  }

  private unavailable(): AtollError {
    return new AtollError(StatusCode.UNAVAILABLE, `connection to ${this.address} is ${this.state === 'closed' ? `closed (${this.closeReason || 'unknown reason'})` : this.state}`);
  }

  private failWaiting(error: AtollError): void {
    for (let index = this.waitingHead; index < this.waiting.length; index++) this.waiting[index]!.reject(error);
    this.waiting.length = 0;
    this.waitingHead = 0;
  }

  private fail(reason: string, status: StatusCode = StatusCode.UNAVAILABLE): void {
    if (this.state === 'closed') return;
    const wasConnecting = this.state === 'connecting';
    this.closeReason ||= reason;
    this.state = 'closed';
    this.writer.close();
    this.socket.destroy();
    const error = new AtollError(status, `${this.address}: ${reason}`);
    if (wasConnecting) this.rejectReady(error);
    this.rejectAll(error);
    this.onUnusable?.();
  }

  private rejectAll(error: AtollError): void {
    const calls = [...this.pending.values()];
    this.pending.clear();
    if (this.sweepTimer !== null) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = null;
    }
    // A call already handed to the connection may have reached the server and been carried
    // out: its caller must not take the failure as "never delivered" and repeat a mutation.
    const inFlight = calls.length === 0 ? error : new AtollError(error.status, `${error.message}${callOutcomeUnknownSuffix}`, { cause: error, outcomeUnknown: true });
    for (const call of calls) {
      if (call.onAbort !== null) call.signal!.removeEventListener('abort', call.onAbort);
      call.reject(inFlight);
    }
    this.failWaiting(error);
  }

  private onClose(): void {
    if (this.state === 'closed') return;
    this.fail(this.closeReason || 'connection closed by the server');
  }
}

/** Ends the message of a call lost with its connection after it was sent (its error has `outcomeUnknown`). */
export const callOutcomeUnknownSuffix = ' while the call was in flight (its outcome is unknown)';

export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, `address '${address}' is not host:port`);
  }
  return { host, port };
}
