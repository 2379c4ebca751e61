// Calls to the meta partitions of one volume: the partition of an inode found by range in
// the volume view (from the masters), and every call routed and retried by the shared
// PartitionRouter (leader cache, NOT_LEADER hints as `node:<id>`, PARTITION_NOT_READY
// waited out, STALE_VIEW answered by refreshing the view), bounded by attempts and time.
//
// Mutations are retried only after answers that say the operation was not carried out
// (NOT_LEADER, PARTITION_NOT_READY, STALE_VIEW, OVERLOADED, a request never delivered).
// A mutation whose answer was lost (TIMEOUT) has an unknown outcome and is handed back
// to the caller as it is.
//
// Creates (`createInode`) made to one partition in the same turn of the event loop go
// as one CreateInodes request; each create gets the answer its own CreateInode would have.
import { AtollError, StatusCode, isAtollError, isRoutingRefusal } from '../errors/index.js';
import { PartitionRouter, type MasterClient } from '../masterclient/index.js';
import { PartitionStatus, type MetaPartitionView, type VolumeView } from '../proto/generated/master.js';
import { CreateInodesRequest, InodeResponse, MetaNode, type CreateInodeOutcome, type CreateInodeRequest } from '../proto/generated/metanode.js';
import { errorFromRpcError, type MethodDescriptor, type RpcClient } from '../rpc/index.js';

export interface MetaClientLimits {
  /** Attempts of one call across replicas, redirects and waits. */
  readonly attemptsMax: number;
  readonly callDeadlineMs: number;
  /** Time one call may spend retrying. */
  readonly retryTotalMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  /** The view is refreshed at least this often while calls are made. */
  readonly viewRefreshIntervalMs: number;
  /** Creates sent together in one CreateInodes request at most (the metanode takes up to 1024). */
  readonly createsPerRequestMax: number;
  /** After a metanode answered that it does not serve CreateInodes (an older version), creates go one by one for this long. */
  readonly createsAloneAfterUnknownMs: number;
}

export const metaClientLimitsDefault: MetaClientLimits = Object.freeze({
  attemptsMax: 40,
  callDeadlineMs: 10_000,
  retryTotalMs: 60_000,
  backoffInitialMs: 50,
  backoffMaxMs: 1_000,
  viewRefreshIntervalMs: 30_000,
  createsPerRequestMax: 128,
  createsAloneAfterUnknownMs: 60_000,
});

// Answers for one create of a CreateInodes that say it was not carried out and that a
// CreateInode of its own may be routed and retried as usual.

interface QueuedCreate {
  readonly request: CreateInodeRequest;
  readonly resolve: (response: InodeResponse) => void;
  readonly reject: (error: unknown) => void;
}

export interface MetaClientOptions {
  readonly rpc: RpcClient;
  readonly masterClient: MasterClient;
  readonly volume: string;
  readonly limits?: Partial<MetaClientLimits>;
  /** Runs a function once the current turn of the event loop has done its I/O (default setImmediate). */
  readonly defer?: (work: () => void) => void;
  /** Milliseconds of a monotonic clock (default performance.now). */
  readonly nowMs?: () => number;
}

export interface MetaCallOptions {
  /** A mutation: not retried when its outcome is unknown. */
  readonly mutation: boolean;
  /** A mutation that may be applied twice with the effect of once: retried like a read. */
  readonly idempotent?: boolean;
}

export class MetaClient {
  readonly #options: MetaClientOptions;
  readonly #limits: MetaClientLimits;
  readonly #router: PartitionRouter;
  readonly #defer: (work: () => void) => void;
  readonly #nowMs: () => number;
  #queuedCreates = new Map<number, QueuedCreate[]>();
  #createsScheduled = false;
  #createsAloneUntilMs = 0;

  constructor(options: MetaClientOptions) {
    this.#options = options;
    this.#limits = { ...metaClientLimitsDefault, ...options.limits };
    this.#defer = options.defer ?? ((work) => setImmediate(work));
    this.#nowMs = options.nowMs ?? (() => performance.now());
    this.#router = new PartitionRouter(options.masterClient, options.volume, 'meta', this.#limits, this.#limits.viewRefreshIntervalMs);
  }

  get volume(): string {
    return this.#options.volume;
  }

  view(): Promise<VolumeView> {
    return this.#router.view();
  }

  /** Fetches the view again (once for all callers that ask at the same time). */
  refreshView(): Promise<VolumeView> {
    return this.#router.refresh();
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
    return view.metaPartitions.filter((partition) => partition.status !== PartitionStatus.PARTITION_READ_ONLY && partition.status !== PartitionStatus.PARTITION_UNAVAILABLE);
  }

  /**
   * Creates an inode, as a CreateInode call (a mutation: not repeated when its outcome is
   * unknown). The creates callers make to one partition in the same turn of the event
   * loop go together in one CreateInodes request (under load: one request and one
   * answer for many); each gets its own result or error, as its own call would have.
   */
  createInode(request: CreateInodeRequest): Promise<InodeResponse> {
    return new Promise<InodeResponse>((resolve, reject) => {
      let queue = this.#queuedCreates.get(request.partitionId);
      if (queue === undefined) {
        queue = [];
        this.#queuedCreates.set(request.partitionId, queue);
      }
      queue.push({ request, resolve, reject });
      if (this.#createsScheduled) return;
      this.#createsScheduled = true;
      this.#defer(() => this.#sendCreates());
    });
  }

  #sendCreates(): void {
    this.#createsScheduled = false;
    const queued = this.#queuedCreates;
    this.#queuedCreates = new Map();
    const together = this.#nowMs() >= this.#createsAloneUntilMs;
    for (const [partitionId, creates] of queued) {
      for (let start = 0; start < creates.length; start += this.#limits.createsPerRequestMax) {
        const group = creates.slice(start, start + this.#limits.createsPerRequestMax);
        if (group.length === 1 || !together) group.forEach((create) => this.#createAlone(create));
        else this.#createTogether(partitionId, group);
      }
    }
  }

  #createAlone(create: QueuedCreate): void {
    this.call(MetaNode.createInode, create.request, { mutation: true }).then(create.resolve, create.reject);
  }

  #createTogether(partitionId: number, group: readonly QueuedCreate[]): void {
    const request = CreateInodesRequest.create({ partitionId, creates: group.map((create) => create.request) });
    this.call(MetaNode.createInodes, request, { mutation: true }).then(
      (response) => {
        if (response.outcomes.length !== group.length) {
          const error = new AtollError(StatusCode.INTERNAL, `create inodes in partition ${partitionId}: ${response.outcomes.length} answers for ${group.length} creates`, { remote: true });
          for (const create of group) create.reject(error);
          return;
        }
        group.forEach((create, position) => this.#settleCreate(create, response.outcomes[position]!, `create inode in partition ${partitionId}`));
      },
      (error: unknown) => {
        if (isAtollError(error, StatusCode.UNKNOWN_METHOD)) {
          // A metanode of an older version: one by one for a while.
          this.#createsAloneUntilMs = this.#nowMs() + this.#limits.createsAloneAfterUnknownMs;
          group.forEach((create) => this.#createAlone(create));
          return;
        }
        for (const create of group) create.reject(error);
      },
    );
  }

  #settleCreate(create: QueuedCreate, outcome: CreateInodeOutcome, context: string): void {
    if (outcome.error === undefined) {
      create.resolve(outcome.response ?? InodeResponse.create());
      return;
    }
    const error = errorFromRpcError(outcome.error, context);
    // Not carried out (the request went to a leader that stepped down, say): routed again alone.
    if (isRoutingRefusal(error.status)) {
      this.#createAlone(create);
      return;
    }
    create.reject(error);
  }

  /** Calls the leader of the request's partition, following redirects within the limits. */
  async call<Request extends { partitionId: number }, Response>(method: MethodDescriptor<Request, Response>, request: Request, options: MetaCallOptions): Promise<Response> {
    const { result } = await this.#router.call(request.partitionId, { idempotent: options.idempotent ?? !options.mutation }, (address) =>
      this.#options.rpc.call(address, method, request, { deadlineMs: this.#limits.callDeadlineMs }),
    );
    return result;
  }
}
