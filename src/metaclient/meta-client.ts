// Calls to the meta partitions of one volume: the partition of an inode found by range in
// the volume view (from the masters), a leader cached per partition, NOT_LEADER hints
// (`node:<id>`) followed through the view's peers, PARTITION_NOT_READY waited out, and
// STALE_VIEW answered by refreshing the view. Every loop is bounded by attempts and a
// deadline.
//
// Mutations are retried only after answers that say the operation was not carried out
// (NOT_LEADER, PARTITION_NOT_READY, STALE_VIEW, OVERLOADED, a connection that could not
// be made). A mutation whose answer was lost (TIMEOUT) has an unknown outcome and is
// handed back to the caller as it is.
import { AtollError, StatusCode } from '../errors/index.js';
import type { MasterClient } from '../masterclient/index.js';
import type { MetaPartitionView, VolumeView } from '../proto/generated/master.js';
import type { MethodDescriptor, RpcClient } from '../rpc/index.js';

export interface MetaClientLimits {
  readonly attemptsMax: number;
  readonly callDeadlineMs: number;
  /** Total time one call may take across its attempts. */
  readonly totalDeadlineMs: number;
  readonly retryPauseMs: number;
  /** The view is refreshed at least this often while calls are made. */
  readonly viewRefreshIntervalMs: number;
}

export const metaClientLimitsDefault: MetaClientLimits = Object.freeze({
  attemptsMax: 40,
  callDeadlineMs: 10_000,
  totalDeadlineMs: 60_000,
  retryPauseMs: 50,
  viewRefreshIntervalMs: 30_000,
});

export interface MetaClientOptions {
  readonly rpc: RpcClient;
  readonly masterClient: MasterClient;
  readonly volume: string;
  readonly limits?: Partial<MetaClientLimits>;
}

export interface MetaCallOptions {
  /** A mutation: not retried when its outcome is unknown. */
  readonly mutation: boolean;
}

const redirectStatuses: ReadonlySet<StatusCode> = new Set([StatusCode.NOT_LEADER, StatusCode.PARTITION_NOT_READY, StatusCode.STALE_VIEW, StatusCode.OVERLOADED]);

export class MetaClient {
  readonly #options: MetaClientOptions;
  readonly #limits: MetaClientLimits;
  #view: VolumeView | null = null;
  #viewAtMs = 0;
  #refreshing: Promise<VolumeView> | null = null;
  // Partition id -> the service address believed to lead it.
  readonly #leaders = new Map<number, string>();

  constructor(options: MetaClientOptions) {
    this.#options = options;
    this.#limits = { ...metaClientLimitsDefault, ...options.limits };
  }

  get volume(): string {
    return this.#options.volume;
  }

  async view(): Promise<VolumeView> {
    if (this.#view === null || Date.now() - this.#viewAtMs > this.#limits.viewRefreshIntervalMs) return this.refreshView();
    return this.#view;
  }

  /** Fetches the view again (once for all callers that ask at the same time). */
  refreshView(): Promise<VolumeView> {
    if (this.#refreshing !== null) return this.#refreshing;
    this.#refreshing = this.#options.masterClient.getVolumeView(this.#options.volume).then(
      (view) => {
        this.#view = view;
        this.#viewAtMs = Date.now();
        this.#refreshing = null;
        for (const partition of view.metaPartitions) {
          const index = partition.peers.findIndex((peer) => peer.nodeId === partition.leaderNodeId);
          if (index >= 0 && !this.#leaders.has(partition.partitionId)) this.#leaders.set(partition.partitionId, partition.peerServiceAddresses[index]!);
        }
        return view;
      },
      (error: unknown) => {
        this.#refreshing = null;
        throw error;
      },
    );
    return this.#refreshing;
  }

  /** The meta partition whose inode range holds `ino`. */
  async partitionOf(ino: number): Promise<MetaPartitionView> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const view = attempt === 0 ? await this.view() : await this.refreshView();
      const found = view.metaPartitions.find((partition) => ino >= partition.inodeStart && (partition.inodeEnd === 0 || ino < partition.inodeEnd));
      if (found !== undefined) return found;
    }
    throw new AtollError(StatusCode.STALE_VIEW, `volume ${this.#options.volume}: no meta partition holds inode ${ino}`);
  }

  /** Meta partitions that take new inodes (read-write), for placing a create. */
  async writablePartitions(): Promise<MetaPartitionView[]> {
    const view = await this.view();
    return view.metaPartitions.filter((partition) => partition.status !== 2 && partition.status !== 3);
  }

  /** Calls the leader of a partition, following redirects within the limits. */
  async call<Request extends { partitionId: number }, Response>(method: MethodDescriptor<Request, Response>, request: Request, options: MetaCallOptions): Promise<Response> {
    const partitionId = request.partitionId;
    const deadline = Date.now() + this.#limits.totalDeadlineMs;
    let lastError: AtollError | null = null;
    const tried = new Set<string>();
    for (let attempt = 0; attempt < this.#limits.attemptsMax && Date.now() < deadline; attempt++) {
      const address = await this.#addressFor(partitionId, tried);
      try {
        const response = await this.#options.rpc.call(address, method, request, { deadlineMs: Math.min(this.#limits.callDeadlineMs, Math.max(1, deadline - Date.now())) });
        this.#leaders.set(partitionId, address);
        return response;
      } catch (error) {
        if (!(error instanceof AtollError)) throw error;
        lastError = error;
        if (!this.#shouldRetry(error, options)) {
          // A node that failed this call is not trusted as the leader for the next one.
          if (error.status === StatusCode.UNAVAILABLE || error.status === StatusCode.TIMEOUT) this.#leaders.delete(partitionId);
          throw error;
        }
        tried.add(address);
        await this.#afterFailure(partitionId, address, error);
      }
    }
    throw lastError ?? new AtollError(StatusCode.UNAVAILABLE, `${method.name}: partition ${partitionId} did not answer within ${this.#limits.totalDeadlineMs} ms`);
  }

  #shouldRetry(error: AtollError, options: MetaCallOptions): boolean {
    if (redirectStatuses.has(error.status)) return true;
    // A server that is shutting down refuses a request before dispatching it, and a
    // stopping node's partition host before proposing it ('node is stopping', without a
    // node id; Raft's own 'node <id> is stopping' fails proposals whose fate is unknown):
    // neither carried the mutation out.
    if (error.status === StatusCode.UNAVAILABLE) return !options.mutation || /unavailable|refused|closed|connecting|shutting down|\bnode is stopping\b/i.test(error.message);
    return !options.mutation && error.retryable;
  }

  async #afterFailure(partitionId: number, address: string, error: AtollError): Promise<void> {
    if (error.status === StatusCode.NOT_LEADER) {
      const hinted = await this.#addressOfHint(partitionId, error.leaderHint);
      if (hinted !== undefined && hinted !== address) {
        this.#leaders.set(partitionId, hinted);
        return;
      }
      this.#leaders.delete(partitionId);
      await pause(this.#limits.retryPauseMs * 2);
      return;
    }
    this.#leaders.delete(partitionId);
    if (error.status === StatusCode.STALE_VIEW) await this.refreshView().catch(() => undefined);
    await pause(error.retryAfterMs > 0 ? Math.min(error.retryAfterMs, 1_000) : this.#limits.retryPauseMs);
  }

  async #addressOfHint(partitionId: number, hint: string): Promise<string | undefined> {
    const match = /^node:(\d+)$/.exec(hint);
    if (match === null) return hint === '' ? undefined : hint;
    const nodeId = Number(match[1]);
    for (let attempt = 0; attempt < 2; attempt++) {
      const view = attempt === 0 ? await this.view() : await this.refreshView();
      const partition = view.metaPartitions.find((candidate) => candidate.partitionId === partitionId);
      const index = partition?.peers.findIndex((peer) => peer.nodeId === nodeId) ?? -1;
      if (index >= 0) return partition!.peerServiceAddresses[index];
    }
    return undefined;
  }

  async #addressFor(partitionId: number, tried: ReadonlySet<string>): Promise<string> {
    const cached = this.#leaders.get(partitionId);
    if (cached !== undefined) return cached;
    let view = await this.view();
    let partition = view.metaPartitions.find((candidate) => candidate.partitionId === partitionId);
    if (partition === undefined) {
      view = await this.refreshView();
      partition = view.metaPartitions.find((candidate) => candidate.partitionId === partitionId);
    }
    if (partition === undefined || partition.peerServiceAddresses.length === 0) {
      throw new AtollError(StatusCode.STALE_VIEW, `volume ${this.#options.volume} has no meta partition ${partitionId}`);
    }
    const addresses = partition.peerServiceAddresses;
    const untried = addresses.filter((address) => !tried.has(address));
    const pool = untried.length > 0 ? untried : addresses;
    return pool[Math.floor(Math.random() * pool.length)]!;
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
