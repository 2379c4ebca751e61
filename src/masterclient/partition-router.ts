// Which node to call for a partition of a volume (meta or data), and the retry loop
// around every call, shared by the meta and data clients: NOT_LEADER follows the hint
// (`node:<id>`, mapped through the view's peers and peer_service_addresses),
// PARTITION_NOT_READY waits and tries another replica, STALE_VIEW and unknown nodes
// refresh the volume view; other retryable failures try the next replica after a backoff
// when the call is safe to repeat. A call that is not safe to repeat is still retried
// when the failure says the request never reached a server that could act on it.
import { AtollError, StatusCode } from '../errors/index.js';
import { PartitionStatus, type DataPartitionView, type MetaPartitionView, type VolumeView } from '../proto/generated/master.js';
import type { MasterClient } from './master-client.js';
import { shuttingDownMessage } from '../rpc/index.js';

/** What the router needs of a client's limits. */
export interface RouteLimits {
  /** Attempts of one call across replicas, redirects and waits. */
  readonly attemptsMax: number;
  /** Time one call may spend retrying. */
  readonly retryTotalMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
}

export type PartitionKindName = 'meta' | 'data';
type PartitionView = MetaPartitionView | DataPartitionView;

export interface RouteOptions {
  /**
   * Repeat on any retryable failure (reads, syncs, deletes). False for mutations whose
   * outcome would be unknown after a lost answer (appends, metadata changes): only
   * failures that guarantee nothing was done (NOT_LEADER, PARTITION_NOT_READY,
   * STALE_VIEW, OVERLOADED, a request that was never delivered) are retried.
   */
  readonly idempotent: boolean;
  /** Also retry CHECKSUM_MISMATCH at another replica (reads). */
  readonly otherReplicaOnChecksum?: boolean;
}

/** NOT_LEADER hints followed at once within one call; later ones wait a backoff first. */
const redirectsWithoutWaitMax = 3;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The wait after the `attempt`-th failure (1-based): doubling from the initial backoff, capped. */
export function backoffMs(limits: Pick<RouteLimits, 'backoffInitialMs' | 'backoffMaxMs'>, attempt: number): number {
  return Math.min(limits.backoffMaxMs, limits.backoffInitialMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 10));
}

export function toAtollError(error: unknown): AtollError {
  if (error instanceof AtollError) return error;
  return new AtollError(StatusCode.INTERNAL, (error as Error)?.message ?? String(error), { cause: error });
}

/**
 * An UNAVAILABLE that says the request never reached a server able to act on it: no
 * connection (refused, closed, still connecting, a peer known down), or a server that is
 * shutting down and refuses before dispatching. Anything else leaves the outcome unknown.
 */
export function neverDelivered(error: AtollError): boolean {
  if (error.status !== StatusCode.UNAVAILABLE) return false;
  // A peer's own answer: only its refusal while shutting down means it did nothing (an
  // UNAVAILABLE it relays, e.g. a replica it could not reach, says nothing of the kind).
  if (error.remote) return error.message.endsWith(shuttingDownMessage);
  // The connection went while the call was in flight: it may have been carried out.
  if (error.outcomeUnknown) return false;
  return /unavailable \(|could not connect|refused|connecting|closed|shutting down/i.test(error.message);
}

/** The service address of node `nodeId` among the partition's peers, if listed. */
export function addressOfNode(partition: PartitionView, nodeId: number): string | undefined {
  const index = partition.peers.findIndex((peer) => peer.nodeId === nodeId);
  const address = index < 0 ? undefined : partition.peerServiceAddresses[index];
  return address === '' ? undefined : address;
}

export class PartitionRouter {
  #view: VolumeView | null = null;
  #refreshing: Promise<VolumeView> | null = null;
  readonly #leaders = new Map<number, string>();
  #roundRobin = 0;

  #viewAtMs = 0;

  constructor(
    private readonly masterClient: MasterClient,
    readonly volume: string,
    readonly kind: PartitionKindName,
    private readonly limits: RouteLimits,
    /** The cached view is fetched again when older than this (0: only on demand). */
    private readonly viewRefreshIntervalMs = 0,
  ) {}

  async view(): Promise<VolumeView> {
    if (this.#view === null || (this.viewRefreshIntervalMs > 0 && Date.now() - this.#viewAtMs > this.viewRefreshIntervalMs)) return this.refresh();
    return this.#view;
  }

  partitionsOf(view: VolumeView): readonly PartitionView[] {
    return this.kind === 'meta' ? view.metaPartitions : view.dataPartitions;
  }

  refresh(): Promise<VolumeView> {
    this.#refreshing ??= this.masterClient
      .getVolumeView(this.volume)
      .then((view) => {
        if (this.#view === null || view.version >= this.#view.version) this.#view = view;
        this.#viewAtMs = Date.now();
        return this.#view;
      })
      .finally(() => {
        this.#refreshing = null;
      });
    return this.#refreshing;
  }

  /** Partitions that take writes, in a rotating order, without the excluded ones. */
  async writablePartitions(excluded: ReadonlySet<number>): Promise<number[]> {
    const view = await this.view();
    if (view.readOnly) throw new AtollError(StatusCode.READ_ONLY, `volume ${this.volume} is read-only`);
    const open = this.partitionsOf(view)
      .filter((partition) => partition.status === PartitionStatus.PARTITION_READ_WRITE || partition.status === PartitionStatus.PARTITION_STATUS_UNSPECIFIED)
      .filter((partition) => !excluded.has(partition.partitionId));
    // A partition with no leader reported yet (just created, or electing) comes last.
    const writable = [...open.filter((partition) => partition.leaderNodeId !== 0), ...open.filter((partition) => partition.leaderNodeId === 0)].map((partition) => partition.partitionId);
    this.#roundRobin += 1;
    const start = writable.length === 0 ? 0 : this.#roundRobin % writable.length;
    return [...writable.slice(start), ...writable.slice(0, start)];
  }

  async #partition(partitionId: number): Promise<PartitionView> {
    let view = await this.view();
    let partition = this.partitionsOf(view).find((candidate) => candidate.partitionId === partitionId);
    if (partition === undefined) {
      view = await this.refresh();
      partition = this.partitionsOf(view).find((candidate) => candidate.partitionId === partitionId);
    }
    if (partition === undefined) throw new AtollError(StatusCode.NOT_FOUND, `${this.kind} partition ${partitionId} is not in the view of volume ${this.volume}`);
    return partition;
  }

  /** Runs `call` against the partition's leader (or other replicas), retrying as described above. */
  async call<T>(partitionId: number, options: RouteOptions, call: (address: string) => Promise<T>): Promise<{ result: T; address: string }> {
    const started = Date.now();
    let partition = await this.#partition(partitionId);
    let target = this.#leaders.get(partitionId) ?? addressOfNode(partition, partition.leaderNodeId);
    const nextReplica = (): string | undefined => {
      const addresses = partition.peerServiceAddresses.filter((address) => address !== '');
      if (addresses.length === 0) return undefined;
      const current = addresses.indexOf(target ?? '');
      return addresses[(Math.max(current, 0) + 1) % addresses.length];
    };
    let lastError: AtollError | null = null;
    for (let attempt = 1; attempt <= this.limits.attemptsMax; attempt++) {
      target ??= nextReplica();
      if (target === undefined) {
        partition = await this.#refreshPartition(partitionId);
        target = nextReplica();
        if (target === undefined) throw new AtollError(StatusCode.UNAVAILABLE, `${this.kind} partition ${partitionId} of volume ${this.volume} has no replica with a service address`);
      }
      try {
        const result = await call(target);
        this.#leaders.set(partitionId, target);
        return { result, address: target };
      } catch (caught) {
        const error = toAtollError(caught);
        lastError = error;
        const backoff = backoffMs(this.limits, attempt);
        const waitMs = Math.max(error.retryAfterMs, backoff);
        if (Date.now() + waitMs - started > this.limits.retryTotalMs) throw error;
        switch (error.status) {
          case StatusCode.NOT_LEADER: {
            const hinted = /^node:(\d+)$/.exec(error.leaderHint);
            if (hinted !== null) {
              let address = addressOfNode(partition, Number(hinted[1]));
              if (address === undefined) {
                partition = await this.#refreshPartition(partitionId);
                address = addressOfNode(partition, Number(hinted[1]));
              }
              if (address !== undefined && address !== target) {
                // Replicas may point at each other for a moment around an election: past
                // the first redirects, each one waits a backoff before it is followed.
                if (attempt > redirectsWithoutWaitMax) await sleep(backoff);
                target = address;
                this.#leaders.set(partitionId, address);
                continue;
              }
            }
            this.#leaders.delete(partitionId);
            await sleep(waitMs);
            target = nextReplica();
            continue;
          }
          case StatusCode.PARTITION_NOT_READY:
          case StatusCode.OVERLOADED:
            await sleep(Math.max(50, error.retryAfterMs));
            target = nextReplica();
            continue;
          case StatusCode.STALE_VIEW:
            this.#leaders.delete(partitionId);
            partition = await this.#refreshPartition(partitionId);
            target = addressOfNode(partition, partition.leaderNodeId);
            continue;
          case StatusCode.CHECKSUM_MISMATCH:
            if (options.otherReplicaOnChecksum !== true) throw error;
            await sleep(waitMs);
            target = nextReplica();
            continue;
          default:
            if (!(options.idempotent ? error.retryable : neverDelivered(error))) {
              // A node that failed this way is not trusted as the leader for the next call.
              if (error.status === StatusCode.UNAVAILABLE || error.status === StatusCode.TIMEOUT) this.#leaders.delete(partitionId);
              throw error;
            }
            this.#leaders.delete(partitionId);
            await sleep(waitMs);
            if (attempt % 3 === 0) partition = await this.#refreshPartition(partitionId).catch(() => partition);
            target = nextReplica();
        }
      }
    }
    throw lastError ?? new AtollError(StatusCode.UNAVAILABLE, `${this.kind} partition ${partitionId}: no attempt made`);
  }

  async #refreshPartition(partitionId: number): Promise<PartitionView> {
    await this.refresh();
    return this.#partition(partitionId);
  }
}
