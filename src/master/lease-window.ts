// The etcd leader's write window (pure; the clock is injected). A keep-alive or grant
// sent at time t that succeeds means etcd keeps the lease until at least t + TTL: etcd
// restarts the TTL when it handles the request, which is after t. The leader writes only
// until t + TTL - margin, so it stops before etcd can have expired the lease and elected
// someone else, whatever happened in between (etcd unreachable, this process frozen).
import type { Clock } from '../time/index.js';

/** The safety margin below the TTL: a quarter of it, at least 500 ms. */
export function leaseSafetyMarginMs(leaseTtlMs: number): number {
  return Math.max(500, Math.floor(leaseTtlMs / 4));
}

export class LeaseWindow {
  readonly #clock: Clock;
  #until = -Infinity;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** A grant or keep-alive sent at `sentAtMs` (this clock) kept the lease for `ttlSeconds`. */
  renewed(sentAtMs: number, ttlSeconds: number): void {
    const ttlMs = ttlSeconds * 1000;
    // An answer to an older keep-alive arriving late never shortens the window.
    this.#until = Math.max(this.#until, sentAtMs + ttlMs - leaseSafetyMarginMs(ttlMs));
  }

  /** The lease is gone (expired, revoked, or a fenced write found the key missing). */
  close(): void {
    this.#until = -Infinity;
  }

  open(): boolean {
    return this.#clock.nowMs() < this.#until;
  }

  /** Milliseconds of writing left, 0 when closed. */
  remainingMs(): number {
    return Math.max(0, this.#until - this.#clock.nowMs());
  }
}
