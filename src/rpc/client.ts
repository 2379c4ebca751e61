// The RPC client: a pool of authenticated connections per peer address, opened on first
// use, replaced when lost, with exponential backoff while a peer keeps refusing.
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { ClientConnection, parseAddress, type CallOptions } from './client-connection.js';
import { normalizeSecret } from './handshake.js';
import { rpcLimits, type RpcLimits } from './limits.js';
import { silentRpcLogger, type RpcLogger } from './logger.js';
import { methodLabel, type MethodDescriptor, type ResponseWithPayload } from './method.js';

export type { CallOptions };

export interface RpcClientOptions {
  secret: string | Uint8Array;
  // Name this client gives in the handshake (shows in the server's logs).
  instance: string;
  logger?: RpcLogger;
  limits?: Partial<RpcLimits>;
  // Connections kept to each peer; calls go to the least loaded.
  connectionsPerPeer?: number;
}

export class RpcClient {
  readonly limits: RpcLimits;
  private readonly secret: Buffer;
  private readonly instance: string;
  private readonly logger: RpcLogger;
  private readonly connectionsPerPeer: number;
  private readonly peers = new Map<string, PeerPool>();
  private closed = false;

  constructor(options: RpcClientOptions) {
    this.secret = normalizeSecret(options.secret);
    this.instance = options.instance;
    this.logger = options.logger ?? silentRpcLogger;
    this.limits = rpcLimits(options.limits);
    this.connectionsPerPeer = options.connectionsPerPeer ?? 1;
    if (!Number.isInteger(this.connectionsPerPeer) || this.connectionsPerPeer < 1 || this.connectionsPerPeer > 64) {
      throw new Error(`rpc client: connectionsPerPeer must be 1..64, got ${options.connectionsPerPeer}`);
    }
  }

  call<Request, Response>(address: string, method: MethodDescriptor<Request, Response>, request: Request, options?: CallOptions): Promise<Response> {
    return this.dispatch(address, method, request, options, false) as Promise<Response>;
  }

  callWithPayload<Request, Response>(
    address: string,
    method: MethodDescriptor<Request, Response>,
    request: Request,
    options?: CallOptions,
  ): Promise<ResponseWithPayload<Response>> {
    return this.dispatch(address, method, request, options, true) as Promise<ResponseWithPayload<Response>>;
  }

  /**
   * A one-way request: resolves once it is queued on an open connection to the peer,
   * rejects when it cannot be (peer unreachable, request refused by the limits). Whether
   * it arrives and what the handler does with it is never reported: for messages the
   * protocol above may lose anyway.
   */
  notify<Request>(address: string, method: MethodDescriptor<Request, unknown>, request: Request, options?: Pick<CallOptions, 'payload'>): Promise<void> {
    return this.withConnection(address, methodLabel(method as MethodDescriptor<unknown, unknown>), (connection) => connection.notify(method, request, options));
  }

  private dispatch<Request, Response>(address: string, method: MethodDescriptor<Request, Response>, request: Request, options: CallOptions | undefined, withPayload: boolean): Promise<unknown> {
    // Two literal calls rather than one with a boolean, so each keeps its overload's type.
    return this.withConnection(address, methodLabel(method), (connection): Promise<unknown> =>
      withPayload ? connection.call(method, request, options, true) : connection.call(method, request, options, false));
  }

  // Runs `use` on an open connection to the peer: at once when the pool has one, else once
  // it has connected. Any failure, thrown or rejected, comes back as a rejection.
  private withConnection<T>(address: string, label: string, use: (connection: ClientConnection) => T | Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new AtollError(StatusCode.UNAVAILABLE, `${label}: rpc client is closed`));
    let pool: PeerPool;
    try {
      pool = this.poolFor(address);
    } catch (error) {
      return Promise.reject(error);
    }
    const connection = pool.readyConnection();
    if (connection === null) return pool.connected(label).then(use);
    try {
      return Promise.resolve(use(connection));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private poolFor(address: string): PeerPool {
    let pool = this.peers.get(address);
    if (pool === undefined) {
      parseAddress(address);
      pool = new PeerPool(address, this);
      this.peers.set(address, pool);
    }
    return pool;
  }

  // Drops every connection to one peer (e.g. after it was replaced); calls in flight fail.
  disconnect(address: string): void {
    const pool = this.peers.get(address);
    if (pool === undefined) return;
    this.peers.delete(address);
    pool.close('disconnected by the client');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pool of this.peers.values()) pool.close('rpc client closed');
    this.peers.clear();
  }

  /** @internal */
  openConnection(address: string): ClientConnection {
    return ClientConnection.open(address, this.secret, this.instance, this.limits, this.logger);
  }

  /** @internal */
  get poolSize(): number {
    return this.connectionsPerPeer;
  }
}

class PeerPool {
  private readonly connections: ClientConnection[] = [];
  private connecting: Promise<ClientConnection> | null = null;
  private failures = 0;
  private retryAt = 0;
  private lastError: AtollError | null = null;
  private next = 0;

  constructor(
    private readonly address: string,
    private readonly client: RpcClient,
  ) {}

  // An open connection, if one exists and the pool needs no more; else null.
  readyConnection(): ClientConnection | null {
    const connections = this.connections;
    if (connections.length < this.client.poolSize) return null;
    // Round robin, skipping connections that are no longer open.
    for (let tries = 0; tries < connections.length; tries++) {
      this.next = (this.next + 1) % connections.length;
      const connection = connections[this.next]!;
      if (connection.isOpen) return connection;
    }
    return null;
  }

  connected(methodName: string): Promise<ClientConnection> {
    this.prune();
    if (this.connections.length >= this.client.poolSize) {
      const open = this.readyConnection();
      if (open !== null) return Promise.resolve(open);
    }
    if (this.connecting !== null) return this.connecting;
    const now = Date.now();
    if (now < this.retryAt) {
      // The peer failed recently: fail fast instead of piling up connection attempts.
      const reason = this.lastError?.message ?? 'recently unreachable';
      return Promise.reject(new AtollError(StatusCode.UNAVAILABLE, `${methodName}: ${this.address} unavailable (${reason}); next attempt in ${this.retryAt - now} ms`));
    }
    const connection = this.client.openConnection(this.address);
    const attempt = connection.ready.then(
      () => {
        this.connecting = null;
        this.failures = 0;
        this.lastError = null;
        this.connections.push(connection);
        connection.onUnusable = () => this.prune();
        // Anyone else waiting gets the least loaded connection, which may be this one.
        return this.readyConnection() ?? connection;
      },
      (error: AtollError) => {
        this.connecting = null;
        this.failures += 1;
        this.lastError = error;
        const limits = this.client.limits;
        const backoff = Math.min(limits.reconnectBackoffMaxMs, limits.reconnectBackoffMinMs * 2 ** Math.min(16, this.failures - 1));
        this.retryAt = Date.now() + backoff;
        throw error;
      },
    );
    this.connecting = attempt;
    return attempt;
  }

  close(reason: string): void {
    for (const connection of this.connections) connection.close(reason);
    this.connections.length = 0;
  }

  private prune(): void {
    for (let index = this.connections.length - 1; index >= 0; index--) {
      if (!this.connections[index]!.isOpen) this.connections.splice(index, 1);
    }
  }
}
