// Links owed across partitions, exactly once. When an entry whose inode lives in another
// partition goes (unlink, a rename over it, trash expiry), the partition of the entry
// writes, in the same operation, a `K<seq>` record: "inode ino lost a link". Its leader
// hands those records to the inode's partition (dropRemoteLinks), oldest first, and
// forgets them once answered. The inode's partition keeps, per source partition, the
// highest sequence it applied (`A<sourcePartitionId>`), so a batch sent again after a lost
// answer, a leader change or a restart drops nothing twice. That holds because a source
// sends each target its records in sequence order and never one before an earlier one
// for the same target was applied (a prefix of the pending records, per target). No
// client takes part: a client that dies after its unlink leaves nothing behind.
// Rules: design.md ("Links owed to other partitions"). Pure.
import { InodeType, type Inode } from '../../proto/generated/metanode.js';
import type { KvEngine } from '../store/kv-engine.js';
import { CounterName, decodeCounterValue, decodeLinkDropKey, encodeCounterValue, linkDropKey, linkDropPrefix, remoteDropsAppliedKey } from './keys.js';
import { namespaceLimitsDefault, type NamespaceLimits } from './limits.js';
import { Changes, dropLink, invalid, validateBatch, validateIno, validateLimit, validateTime, type OperationTime, type Outcome } from './operation.js';
import { decodeLinkDropValue, encodeLinkDropValue } from './values.js';

const firstLinkDropSeq = 1;

/** Records that `ino`, held by another partition, lost the link of an entry removed here. */
export function queueLinkDrop(changes: Changes, ino: number, time: OperationTime): number {
  const seq = changes.takeCounter(CounterName.linkDropCursor, firstLinkDropSeq);
  changes.set(linkDropKey(seq), encodeLinkDropValue({ ino, createdSec: time.nowSec, createdNsec: time.nowNsec }));
  return seq;
}

export interface PendingLinkDrop {
  readonly seq: number;
  readonly ino: number;
}

/** The oldest `limit` links owed, in sequence order. */
export function pendingLinkDrops(engine: KvEngine, args: { readonly limit: number }, limits: NamespaceLimits = namespaceLimitsDefault): PendingLinkDrop[] {
  validateLimit('pending link drops', args.limit, limits.recordsScannedPerPageMax);
  return engine.scan({ prefix: linkDropPrefix, limit: args.limit }).map((record) => ({ seq: decodeLinkDropKey(record.key), ino: decodeLinkDropValue(record.value).ino }));
}

/** Removes the records of links the inodes' partitions have dropped. Absent ones are skipped (a retry). */
export function forgetLinkDrops(engine: KvEngine, args: { readonly seqs: readonly number[] }, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<{ forgotten: number }> {
  const action = 'forget link drops';
  validateBatch(action, 'seqs', args.seqs, limits.recordsScannedPerPageMax);
  const changes = new Changes(engine);
  let forgotten = 0;
  for (const seq of args.seqs) {
    validateIno(action, 'seq', seq);
    const key = linkDropKey(seq);
    if (changes.get(key) === undefined) continue;
    changes.delete(key);
    forgotten += 1;
  }
  return changes.outcome({ forgotten });
}

export interface DropRemoteLinksArgs extends OperationTime {
  readonly sourcePartitionId: number;
  /** In increasing sequence order. */
  readonly drops: readonly PendingLinkDrop[];
}

export interface DropRemoteLinksResult {
  /** Every drop of the source up to this sequence is applied here (this call's or an earlier one's). */
  readonly appliedThrough: number;
  /** The inodes that lost a link in this call. */
  readonly inodes: Inode[];
  /** Drops applied as no-ops: the inode is gone, already at nlink 0, or a directory that is not empty. */
  readonly skipped: Array<{ seq: number; ino: number; reason: string }>;
}

/**
 * The inodes (held here) lose the links a source partition owes them. Drops at or below
 * the source's applied sequence were applied before and are skipped. A drop that cannot
 * apply (the inode gone or at nlink 0, a directory with entries) is recorded as applied
 * and reported: refusing it would block every later drop of that source.
 */
export function dropRemoteLinks(engine: KvEngine, args: DropRemoteLinksArgs, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<DropRemoteLinksResult> {
  const action = 'drop remote links';
  validateTime(action, args);
  validateIno(action, 'sourcePartitionId', args.sourcePartitionId);
  validateBatch(action, 'drops', args.drops, limits.recordsScannedPerPageMax);
  const changes = new Changes(engine);
  const appliedKey = remoteDropsAppliedKey(args.sourcePartitionId);
  const stored = changes.get(appliedKey);
  let appliedThrough = stored === undefined ? 0 : decodeCounterValue(stored);
  const inodes: Inode[] = [];
  const skipped: DropRemoteLinksResult['skipped'] = [];
  let previous = 0;
  for (const drop of args.drops) {
    validateIno(action, 'seq', drop.seq);
    validateIno(action, 'ino', drop.ino);
    if (drop.seq <= previous) invalid(action, `drops out of order: seq ${drop.seq} after ${previous}`);
    previous = drop.seq;
    if (drop.seq <= appliedThrough) continue;
    appliedThrough = drop.seq;
    const inode = changes.inode(drop.ino);
    if (inode === undefined) {
      skipped.push({ seq: drop.seq, ino: drop.ino, reason: 'no such inode here' });
      continue;
    }
    if (inode.nlink === 0) {
      skipped.push({ seq: drop.seq, ino: drop.ino, reason: 'already at nlink 0' });
      continue;
    }
    if (inode.type === InodeType.INODE_DIRECTORY && changes.directoryHasEntries(inode.ino)) {
      skipped.push({ seq: drop.seq, ino: drop.ino, reason: 'a directory with entries' });
      continue;
    }
    inodes.push(dropLink(changes, inode, args));
  }
  if (stored === undefined || decodeCounterValue(stored) !== appliedThrough) changes.set(appliedKey, encodeCounterValue(appliedThrough));
  return changes.outcome({ appliedThrough, inodes, skipped });
}
