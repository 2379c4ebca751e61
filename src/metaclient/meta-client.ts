// Calls to the meta partitions of one volume: the partition of an inode found by range in
// the volume view (from the masters), and every call routed and retried by the shared
// PartitionRouter (leader cache, NOT_LEADER hints as `node:<id>`, PARTITION_NOT_READY
// waited out, STALE_VIEW answered by refreshing the view), bounded by attempts and time.
//
// Mutations are retried only after answers that say the operation was not carried out
// (NOT_LEADER, PARTITION_NOT_READY, STALE_VIEW, OVERLOADED, a request never delivered).
// A mutation whose answer was lost (TIMEOUT) has an unknown outcome and is handed back
// to the caller as it is.
import { AtollError, StatusCode } from '../errors/index.js';
import { PartitionRouter, type MasterClient } from '../masterclient/index.js';
import { PartitionStatus, type MetaPartitionView, type VolumeView } from '../proto/generated/master.js';
import type { MethodDescriptor, RpcClient } from '../rpc/index.js';

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
}

export const metaClientLimitsDefault: MetaClientLimits = Object.freeze({
  attemptsMax: 40,
  callDeadlineMs: 10_000,
  retryTotalMs: 60_000,
  backoffInitialMs: 50,
  backoffMaxMs: 1_000,
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
  /** A mutation that may be applied twice with the effect of once: retried like a read. */
  readonly idempotent?: boolean;
}

export class MetaClient {
  readonly #options: MetaClientOptions;
  readonly #limits: MetaClientLimits;
  readonly #router: PartitionRouter;

  constructor(options: MetaClientOptions) {
    this.#options = options;
    this.#limits = { ...metaClientLimitsDefault, ...options.limits };
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

  /** Calls the leader of the request's partition, following redirects within the limits. */
  async call<Request extends { partitionId: number }, Response>(method: MethodDescriptor<Request, Response>, request: Request, options: MetaCallOptions): Promise<Response> {
    const { result } = await this.#router.call(request.partitionId, { idempotent: options.idempotent ?? !options.mutation }, (address) =>
      this.#options.rpc.call(address, method, request, { deadlineMs: this.#limits.callDeadlineMs }),
    );
    return result;
  }
}
