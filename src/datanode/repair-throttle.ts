// Rate limit of repair copies, shared by every partition of a node: each copy of `bytes`
// starts no earlier than the previous copies allow at `bytesPerSecondMax`, so repair
// never takes more than that share of the disk and network from foreground traffic.
export class RepairThrottle {
  #availableAtMs = 0;

  constructor(
    private readonly bytesPerSecondMax: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds to wait before copying `bytes` (and books them). */
  reserve(bytes: number): number {
    const now = this.now();
    const start = Math.max(now, this.#availableAtMs);
    this.#availableAtMs = start + (bytes * 1000) / this.bytesPerSecondMax;
    return start - now;
  }

  async take(bytes: number): Promise<void> {
    const waitMs = this.reserve(bytes);
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}
