import { Inflights } from './inflights.js';
import type { LogIndex } from './types.js';

export enum ProgressState {
  /** We do not know where the follower's log matches: one Append per heartbeat interval until it answers. */
  Probe = 'probe',
  /** The follower is in step: stream Appends optimistically, bounded by the inflight window. */
  Replicate = 'replicate',
  /** The follower needs entries we compacted: a snapshot is on its way; send nothing else. */
  Snapshot = 'snapshot',
}

/** The leader's view of one member's log. */
export class Progress {
  /** Highest index known to match the leader's log. */
  match: LogIndex;
  /** Next index to send. */
  next: LogIndex;
  state: ProgressState = ProgressState.Probe;
  /** In Snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0 as LogIndex;
  /** Heard from since the last check-quorum. */
  recentActive = false;
  /**
   * Hold back Appends until an answer arrives: in Probe state after each probe, in
   * Replicate state while the inflight window is full. A heartbeat answer clears it, so a
   * window whose messages were all lost still recovers (see Raft.maybeSendAppend).
   */
  sendPaused = false;
  /** Leader tick at which the newest heartbeat this member acknowledged was sent; -1 when none. Times the leader lease. */
  leaseSentTick = -1;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: LogIndex, inflightMessagesMax: number, inflightBytesMax: number, isLearner: boolean) {
    this.match = 0 as LogIndex;
    this.next = next;
    this.inflights = new Inflights(inflightMessagesMax, inflightBytesMax);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.sendPaused = false;
    this.pendingSnapshot = 0 as LogIndex;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      // The snapshot (if it arrived) covers up to pendingSnapshot: probe right after it.
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pendingSnapshot + 1) as LogIndex;
    } else {
      this.resetState(ProgressState.Probe);
      this.next = (this.match + 1) as LogIndex;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = (this.match + 1) as LogIndex;
  }

  becomeSnapshot(snapshotIndex: LogIndex): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** An Append with entryCount entries (entryBytes in total) just went out. */
  sentEntries(entryCount: number, entryBytes: number): void {
    if (this.state === ProgressState.Replicate) {
      if (entryCount > 0) {
        this.next = (this.next + entryCount) as LogIndex;
        this.inflights.add((this.next - 1) as LogIndex, entryBytes);
      }
      this.sendPaused = this.inflights.full();
    } else if (this.state === ProgressState.Probe) {
      // Every Append in Probe state is a probe, empty or not: one at a time.
      this.sendPaused = true;
    }
  }

  /** The follower acknowledged index. Returns whether match moved forward. */
  maybeUpdate(index: LogIndex): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.sendPaused = false;
    }
    this.next = Math.max(this.next, index + 1) as LogIndex;
    return updated;
  }

  /**
   * The follower rejected an Append at rejectedIndex, hinting that the logs may match at
   * matchHint. Returns false for stale rejections (answers to older messages).
   */
  maybeDecreaseTo(rejectedIndex: LogIndex, matchHint: LogIndex): boolean {
    if (this.state === ProgressState.Replicate) {
      // Everything up to match is acknowledged: a reject at or below it is stale.
      if (rejectedIndex <= this.match) return false;
      this.next = (this.match + 1) as LogIndex;
      return true;
    }
    // Probing sends one message at a time from next - 1: any other reject is stale.
    if (this.next - 1 !== rejectedIndex) return false;
    this.next = Math.max(Math.min(rejectedIndex, matchHint + 1), this.match + 1) as LogIndex;
    this.sendPaused = false;
    return true;
  }

  /** Whether the leader must hold back Appends to this member for now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
      case ProgressState.Replicate:
        return this.sendPaused;
      case ProgressState.Snapshot:
        return true;
    }
  }
}
