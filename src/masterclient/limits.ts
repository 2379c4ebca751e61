// Limits of the master client, units last. Checked against each other when built.
import { assert } from '../errors/assert.js';

export interface MasterClientLimits {
  // Time between two rounds of health checks (one ClusterInfo to every master).
  readonly healthCheckIntervalMs: number;
  // Deadline of one health check; a master slower than this counts as unhealthy.
  readonly healthCheckDeadlineMs: number;
  // Deadline of one attempt of a call (callers may give their own per call).
  readonly callDeadlineMs: number;
  // Backoff after the first failed attempt; doubled after each further failure.
  readonly retryBackoffInitialMs: number;
  readonly retryBackoffMaxMs: number;
  // Attempts of one call, redirects included.
  readonly retryAttemptsMax: number;
  // Time one call may spend over all its attempts and backoffs before it gives up.
  readonly retryTotalMs: number;
  // Redirects (NOT_LEADER or STALE_VIEW with a hint) followed at once within one call;
  // past it a redirect waits for a backoff like any other failure.
  readonly redirectsMax: number;
  // Volumes whose newest view version is remembered; the oldest entry is dropped past it.
  readonly viewVersionsTrackedMax: number;
}

export const defaultMasterClientLimits: MasterClientLimits = Object.freeze({
  healthCheckIntervalMs: 1_000,
  healthCheckDeadlineMs: 500,
  callDeadlineMs: 3_000,
  retryBackoffInitialMs: 50,
  retryBackoffMaxMs: 1_000,
  retryAttemptsMax: 32,
  retryTotalMs: 10_000,
  redirectsMax: 8,
  viewVersionsTrackedMax: 100_000,
});

export function masterClientLimits(overrides: Partial<MasterClientLimits> = {}): MasterClientLimits {
  const limits = { ...defaultMasterClientLimits, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    assert(Number.isSafeInteger(value) && value > 0, `master client limit ${key} must be a positive integer, got ${value}`);
  }
  assert(limits.retryBackoffInitialMs <= limits.retryBackoffMaxMs, 'master client limits: retryBackoffInitialMs above retryBackoffMaxMs');
  assert(limits.retryBackoffMaxMs <= limits.retryTotalMs, 'master client limits: retryBackoffMaxMs above retryTotalMs');
  assert(limits.redirectsMax < limits.retryAttemptsMax, 'master client limits: redirectsMax must be below retryAttemptsMax');
  assert(limits.healthCheckDeadlineMs <= limits.healthCheckIntervalMs, 'master client limits: healthCheckDeadlineMs above healthCheckIntervalMs');
  return Object.freeze(limits);
}
