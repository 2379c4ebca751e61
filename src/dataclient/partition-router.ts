// Which datanode to call for a data partition, and the retry loop around every call:
// NOT_LEADER follows the hint (`node:<id>`, mapped through the view's peers and
// peer_service_addresses), PARTITION_NOT_READY waits and tries another replica,
// STALE_VIEW and unknown nodes refresh the volume view; other retryable failures try the
// next replica after a backoff when the call is safe to repeat.
import { AtollError, StatusCode } from '../errors/index.js';
import type { MasterClient } from '../masterclient/index.js';
import { PartitionStatus, type DataPartitionView, type VolumeView } from '../proto/generated/master.js';
import type { DataClientLimits } from './limits.js';

export interface RouteOptions {
  /**
   * Repeat on any retryable failure (reads, syncs, deletes). False for appends: only
   * failures that guarantee nothing was written (NOT_LEADER, PARTITION_NOT_READY,
   * STALE_VIEW) are retried.
   */
  readonly idempotent: boolean;
  /** Also retry CHECKSUM_MISMATCH at another replica (reads). */
  readonly otherReplicaOnChecksum?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function toAtollError(error: unknown): AtollError {
  if (error instanceof AtollError) return error;
  return new AtollError(StatusCode.INTERNAL, (error as Error)?.message ?? String(error), { cause: error });
}

/** The service address of node `nodeId` among the partition's peers, if listed. */
export function addressOfNode(partition: DataPartitionView, nodeId: number): string | undefined {
  const index = partition.peers.findIndex((peer) => peer.nodeId === nodeId);
  const address = index < 0 ? undefined : partition.peerServiceAddresses[index];
  return address === '' ? undefined : address;
}

export class PartitionRouter {
  #view: VolumeView | null = null;
  #refreshing: Promise<VolumeView> | null = null;
  readonly #leaders = new Map<number, string>();
  #roundRobin = 0;

  constructor(
    private readonly masterClient: MasterClient,
    readonly volume: string,
    private readonly limits: DataClientLimits,
  ) {}

  async view(): Promise<VolumeView> {
    return this.#view ?? this.refresh();
  }

  refresh(): Promise<VolumeView> {
    this.#refreshing ??= this.masterClient
      .getVolumeView(this.volume)
      .then((view) => {
        if (this.#view === null || view.version >= this.#view.version) this.#view = view;
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
    const open = view.dataPartitions
      .filter((partition) => partition.status === PartitionStatus.PARTITION_READ_WRITE || partition.status === PartitionStatus.PARTITION_STATUS_UNSPECIFIED)
      .filter((partition) => !excluded.has(partition.partitionId));
    // A partition with no leader reported yet (just created, or electing) comes last.
    const writable = [...open.filter((partition) => partition.leaderNodeId !== 0), ...open.filter((partition) => partition.leaderNodeId === 0)].map((partition) => partition.partitionId);
    this.#roundRobin += 1;
    const start = writable.length === 0 ? 0 : this.#roundRobin % writable.length;
    return [...writable.slice(start), ...writable.slice(0, start)];
  }

  async #partition(partitionId: number): Promise<DataPartitionView> {
    let view = await this.view();
    let partition = view.dataPartitions.find((candidate) => candidate.partitionId === partitionId);
    if (partition === undefined) {
      view = await this.refresh();
      partition = view.dataPartitions.find((candidate) => candidate.partitionId === partitionId);
    }
    if (partition === undefined) throw new AtollError(StatusCode.NOT_FOUND, `data partition ${partitionId} is not in the view of volume ${this.volume}`);
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
        if (target === undefined) throw new AtollError(StatusCode.UNAVAILABLE, `data partition ${partitionId} of volume ${this.volume} has no replica with a service address`);
      }
      try {
        const result = await call(target);
        this.#leaders.set(partitionId, target);
        return { result, address: target };
      } catch (caught) {
        const error = toAtollError(caught);
        lastError = error;
        const backoff = Math.min(this.limits.backoffMaxMs, this.limits.backoffInitialMs * 2 ** Math.min(attempt - 1, 10));
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
            if (!options.idempotent || !error.retryable) throw error;
            this.#leaders.delete(partitionId);
            await sleep(waitMs);
            if (attempt % 3 === 0) partition = await this.#refreshPartition(partitionId).catch(() => partition);
            target = nextReplica();
        }
      }
    }
    throw lastError ?? new AtollError(StatusCode.UNAVAILABLE, `data partition ${partitionId}: no attempt made`);
  }

  async #refreshPartition(partitionId: number): Promise<DataPartitionView> {
    await this.refresh();
    return this.#partition(partitionId);
  }
}
