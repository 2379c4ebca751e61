// How many partition repairs one datanode carries out at once (`repairs-in-flight-max`),
// across all its partitions: its own repairs as a partition leader and the ones leaders
// ask of it. A repair reads whole blocks from a peer and writes them here; after a disk
// is replaced or a node comes back, every partition wants one at the same moment, and
// without a bound they would all compete with foreground writes. One more is refused
// at once with OVERLOADED (not queued): repair runs in rounds, and the next round of
// that partition's leader asks again with a fresh plan.
import { AtollError, StatusCode } from '../errors/index.js';

export class RepairSlots {
  #inFlight = 0;

  constructor(readonly inFlightMax: number) {
    if (!Number.isSafeInteger(inFlightMax) || inFlightMax < 1) throw new Error(`repairs-in-flight-max must be a positive integer: ${inFlightMax}`);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Runs `work` in a slot, or throws OVERLOADED when every slot is taken. */
  async run<T>(partitionId: number, work: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.inFlightMax) {
      throw new AtollError(StatusCode.OVERLOADED, `repair of data partition ${partitionId} refused: ${this.#inFlight} repairs in flight (repairs-in-flight-max ${this.inFlightMax}); the next repair round tries again`);
    }
    this.#inFlight++;
    try {
      return await work();
    } finally {
      this.#inFlight--;
    }
  }
}
