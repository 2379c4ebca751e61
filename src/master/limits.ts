// Every bound and period of the master, units last. Checked against each other at load.
import { assert } from '../errors/assert.js';

export interface MasterLimits {
  /** One Raft tick; the election timeout is 10 to 20 ticks. */
  readonly raftTickMs: number;
  /** A proposal or read index not done in this many ticks fails with TIMEOUT. */
  readonly raftRequestTimeoutTicks: number;
  /** The master group snapshots after this many applied entries. */
  readonly snapshotEntriesMin: number;
  /** How often nodes send heartbeats (told to them at registration). */
  readonly nodeHeartbeatIntervalMs: number;
  /** Heartbeat facts are recorded in the state at most this often, unless a leader changed. */
  readonly reportFlushIntervalMs: number;
  /** A changed partition leader, membership or status is recorded within this delay. */
  readonly reportFlushUrgentMs: number;
  /** Masters check each other this often (cluster info, start-up discovery). */
  readonly memberProbeIntervalMs: number;
  /** A member not heard from for this long is shown as down. */
  readonly memberDownAfterMs: number;
  readonly memberProbeDeadlineMs: number;
  /** The leader pushes view versions to followers this often (and at once after a change). */
  readonly viewPushIntervalMs: number;
  readonly viewPushDeadlineMs: number;
  /** The leader's background work (liveness, splits, re-replication) runs this often. */
  readonly plannerIntervalMs: number;
  /** An admin request forwarded to the leader gets this long. */
  readonly forwardDeadlineMs: number;
  /** Reports of partitions accepted in one heartbeat. */
  readonly heartbeatPartitionsMax: number;
}

export const masterLimitsDefault: MasterLimits = Object.freeze({
  raftTickMs: 100,
  raftRequestTimeoutTicks: 50,
  snapshotEntriesMin: 2_000,
  nodeHeartbeatIntervalMs: 1_000,
  reportFlushIntervalMs: 3_000,
  reportFlushUrgentMs: 100,
  memberProbeIntervalMs: 500,
  memberDownAfterMs: 3_000,
  memberProbeDeadlineMs: 1_000,
  viewPushIntervalMs: 500,
  viewPushDeadlineMs: 1_000,
  plannerIntervalMs: 1_000,
  forwardDeadlineMs: 10_000,
  heartbeatPartitionsMax: 100_000,
});

export function masterLimits(overrides: Partial<MasterLimits> = {}): MasterLimits {
  const limits = { ...masterLimitsDefault, ...overrides };
  for (const [name, value] of Object.entries(limits)) assert(Number.isSafeInteger(value) && value > 0, `master limit ${name} must be a positive integer: ${String(value)}`);
  assert(limits.memberDownAfterMs > limits.memberProbeIntervalMs, 'memberDownAfterMs must exceed memberProbeIntervalMs');
  assert(limits.reportFlushUrgentMs <= limits.reportFlushIntervalMs, 'reportFlushUrgentMs must not exceed reportFlushIntervalMs');
  return limits;
}
