// Node id to service address, for the leader's forwards and for repair. Raft knows its
// peers by their Raft ports only; the service addresses come from the volume view the
// master serves (peers and peer_service_addresses, position by position).
import { AtollError, StatusCode } from '../errors/index.js';
import type { MasterClient } from '../masterclient/index.js';
import type { VolumeView } from '../proto/generated/master.js';

export class PeerDirectory {
  readonly #addresses = new Map<number, string>();
  readonly #lookups = new Map<string, Promise<void>>();
  readonly #lastLookupMs = new Map<string, number>();

  constructor(
    private readonly masterClient: () => MasterClient,
    private readonly lookupIntervalMs: number,
  ) {}

  learn(view: VolumeView): void {
    for (const partition of [...view.dataPartitions, ...view.metaPartitions]) {
      partition.peers.forEach((peer, index) => {
        const address = partition.peerServiceAddresses[index];
        if (address !== undefined && address !== '') this.#addresses.set(peer.nodeId, address);
      });
    }
  }

  /** Known addresses only; undefined when a lookup is needed. */
  known(nodeIds: readonly number[]): string[] | undefined {
    const addresses: string[] = [];
    for (const nodeId of nodeIds) {
      const address = this.#addresses.get(nodeId);
      if (address === undefined) return undefined;
      addresses.push(address);
    }
    return addresses;
  }

  /** The service addresses of `nodeIds`, asking the masters for the volume's view if needed. */
  async resolve(volume: string, nodeIds: readonly number[]): Promise<string[]> {
    const known = this.known(nodeIds);
    if (known !== undefined) return known;
    await this.#lookup(volume);
    const after = this.known(nodeIds);
    if (after !== undefined) return after;
    const missing = nodeIds.filter((nodeId) => !this.#addresses.has(nodeId));
    throw new AtollError(StatusCode.UNAVAILABLE, `no service address known for node(s) ${missing.join(', ')} of volume ${volume}`, { retryAfterMs: this.lookupIntervalMs });
  }

  /** Forgets what is known (a peer moved); the next resolve asks again. */
  forget(nodeId: number): void {
    this.#addresses.delete(nodeId);
  }

  #lookup(volume: string): Promise<void> {
    const running = this.#lookups.get(volume);
    if (running !== undefined) return running;
    const last = this.#lastLookupMs.get(volume) ?? 0;
    const waitMs = Math.max(0, last + this.lookupIntervalMs - Date.now());
    const lookup = (async () => {
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      this.#lastLookupMs.set(volume, Date.now());
      this.learn(await this.masterClient().getVolumeView(volume));
    })().finally(() => this.#lookups.delete(volume));
    this.#lookups.set(volume, lookup);
    return lookup;
  }
}
