// Freeing inodes that reached nlink 0 (`F` records) once no session holds them open, and
// the durable queue of extent ranges the datanodes must release (`E` records), fed by
// freeing and by shrinking setattr (issue 5, point 6). The queue is state, replicated and
// snapshotted like the rest: a leader that restarts reads `pendingExtentReleases` again
// and resumes; a record leaves only when ackExtentReleases says its datanode released it.
// Pure.
import { normalExtentIdFirst } from '../../datanode/extent/limits.js';
import { assert } from '../../errors/index.js';
import { InodeType, type ExtentKey } from '../../proto/generated/metanode.js';
import type { KvEngine } from '../store/kv-engine.js';
import {
  CounterName, decodeExtentReleaseKey, decodeToFreeKey, decodeXattrKey, extentReleaseKey, extentReleasePrefix, inodeKey,
  pendingLinkKey, toFreeKey, toFreePrefix, xattrKey, xattrPrefix,
} from './keys.js';
import { namespaceLimitsDefault, type NamespaceLimits } from './limits.js';
import { Changes, validateBatch, validateIno, validateLimit, type Outcome } from './operation.js';
import { isOpenIn } from './sessions.js';
import { decodeExtentReleaseValue, encodeExtentReleaseValue, type ExtentRange, type ExtentReleaseRecord } from './values.js';

const firstExtentReleaseSeq = 1;

/** A range of one extent of one data partition no file refers to any more. */
export interface ReleasedExtent extends ExtentRange {
  readonly partitionId: number;
}

/**
 * Queues extent ranges for release: one `E<seq>` record per data partition (in order of
 * first appearance) and per extentRangesPerRecordMax ranges. Returns the new seqs.
 *
 * A normal extent holds one file's bytes and is freed whole on its datanodes, so a range
 * of one that the file still refers to elsewhere (`stillReferenced`: the file's extents
 * after the change) is not queued: the extent goes when its last range does. Ranges of
 * tiny extents (shared by many small files) are queued less the bytes the file still
 * refers to: the same key appended again (an AppendExtents retried after its first apply,
 * whose answer was lost) covers itself, and releasing it punched the file's own bytes.
 */
export function queueExtentReleases(changes: Changes, extents: readonly ReleasedExtent[], limits: NamespaceLimits, stillReferenced: readonly ExtentKey[] = []): number[] {
  const referenced = new Set(stillReferenced.filter((extent) => extent.extentId >= normalExtentIdFirst).map((extent) => `${extent.partitionId}/${extent.extentId}`));
  const byPartition = new Map<number, ExtentRange[]>();
  for (const released of extents) {
    if (released.size === 0) continue;
    if (referenced.has(`${released.partitionId}/${released.extentId}`)) continue;
    const pieces = released.extentId < normalExtentIdFirst ? withoutReferenced(released, stillReferenced) : [released];
    for (const extent of pieces) {
      let ranges = byPartition.get(extent.partitionId);
      if (ranges === undefined) byPartition.set(extent.partitionId, (ranges = []));
      ranges.push({ extentId: extent.extentId, extentOffset: extent.extentOffset, size: extent.size });
    }
  }
  const seqs: number[] = [];
  for (const [partitionId, ranges] of byPartition) {
    for (let start = 0; start < ranges.length; start += limits.extentRangesPerRecordMax) {
      const seq = changes.takeCounter(CounterName.extentReleaseCursor, firstExtentReleaseSeq);
      const record: ExtentReleaseRecord = { partitionId, ranges: ranges.slice(start, start + limits.extentRangesPerRecordMax) };
      changes.set(extentReleaseKey(seq), encodeExtentReleaseValue(record));
      seqs.push(seq);
    }
  }
  return seqs;
}

/** The parts of a released tiny range that none of `keys` covers (O(keys)). */
function withoutReferenced(released: ReleasedExtent, keys: readonly ExtentKey[]): ReleasedExtent[] {
  let pieces: ReleasedExtent[] = [released];
  for (const key of keys) {
    if (key.partitionId !== released.partitionId || key.extentId !== released.extentId) continue;
    const keyEnd = key.extentOffset + key.size;
    pieces = pieces.flatMap((piece) => {
      const pieceEnd = piece.extentOffset + piece.size;
      if (keyEnd <= piece.extentOffset || key.extentOffset >= pieceEnd) return [piece];
      const left = key.extentOffset > piece.extentOffset ? [{ ...piece, size: key.extentOffset - piece.extentOffset }] : [];
      const right = keyEnd < pieceEnd ? [{ ...piece, extentOffset: keyEnd, size: pieceEnd - keyEnd }] : [];
      return [...left, ...right];
    });
  }
  return pieces;
}

/** Every extent of a file, whole, as ranges to release. */
function extentsOf(extents: readonly ExtentKey[]): ReleasedExtent[] {
  return extents.map((extent) => ({ partitionId: extent.partitionId, extentId: extent.extentId, extentOffset: extent.extentOffset, size: extent.size }));
}

/**
 * What a shrink to `size` drops: the extents starting at or past it whole, and the tail of
 * the one across it (from the new end of the file to the end of that extent's range).
 */
export function extentsBeyond(extents: readonly ExtentKey[], size: number): ReleasedExtent[] {
  const released: ReleasedExtent[] = [];
  for (const extent of extents) {
    if (extent.fileOffset >= size) {
      released.push(...extentsOf([extent]));
    } else if (extent.fileOffset + extent.size > size) {
      const kept = size - extent.fileOffset;
      released.push({ partitionId: extent.partitionId, extentId: extent.extentId, extentOffset: extent.extentOffset + kept, size: extent.size - kept });
    }
  }
  return released;
}

// ---------------------------------------------------------------------------------------
// Freeing inodes

export interface FreeableInodesPage {
  /** Inodes at nlink 0 that no session holds open, in ino order. */
  readonly inos: number[];
  /** More `F` records follow: ask again with `after` this ino. Absent: the scan reached the end. */
  readonly resumeAfter?: number;
}

/**
 * `F` records whose inode nobody holds open, after `after`, at most `limit`, looking at no
 * more than recordsScannedPerPageMax records (open ones are stepped over).
 */
export function freeableInodes(engine: KvEngine, args: { readonly after?: number; readonly limit: number }, limits: NamespaceLimits = namespaceLimitsDefault): FreeableInodesPage {
  const action = 'freeable inodes';
  validateLimit(action, args.limit, limits.recordsScannedPerPageMax);
  const changes = new Changes(engine);
  const entries = engine.scan({ prefix: toFreePrefix, after: args.after === undefined ? undefined : toFreeKey(args.after), limit: limits.recordsScannedPerPageMax });
  const inos: number[] = [];
  for (const entry of entries) {
    const ino = decodeToFreeKey(entry.key);
    if (isOpenIn(changes, ino)) continue;
    inos.push(ino);
    if (inos.length === args.limit) return { inos, resumeAfter: ino };
  }
  const reachedEnd = entries.length < limits.recordsScannedPerPageMax;
  return reachedEnd ? { inos } : { inos, resumeAfter: decodeToFreeKey(entries[entries.length - 1].key) };
}

export interface FreeInodesResult {
  /** Inodes whose records (inode, xattrs, `F`) are gone. */
  readonly freed: number[];
  /** Inodes left alone: no `F` record (never unlinked, or freed already) or open by a session. */
  readonly skipped: number[];
  /** The extent release records written for the freed files' extents. */
  readonly extentReleaseSeqs: number[];
}

/**
 * Frees inodes at nlink 0 that nobody holds open: deletes the inode record, its xattrs
 * and its `F` record, and queues its extents for release. Inodes that do not qualify any
 * more (a session opened one since freeableInodes, or another batch freed it) are skipped,
 * so proposing the same batch twice is harmless.
 */
export function freeInodes(engine: KvEngine, args: { readonly inos: readonly number[] }, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<FreeInodesResult> {
  const action = 'free inodes';
  validateBatch(action, 'inodes', args.inos, limits.inodesFreedPerBatchMax);
  for (const ino of args.inos) validateIno(action, 'ino', ino);
  const changes = new Changes(engine);
  const freed: number[] = [];
  const skipped: number[] = [];
  const extents: ReleasedExtent[] = [];
  for (const ino of args.inos) {
    if (changes.get(toFreeKey(ino)) === undefined || isOpenIn(changes, ino)) {
      skipped.push(ino);
      continue;
    }
    const inode = changes.inode(ino);
    if (inode !== undefined) {
      assert(inode.nlink === 0, () => `${action}: inode ${ino} has an F record and nlink ${inode.nlink}`);
      if (inode.type === InodeType.INODE_FILE) extents.push(...extentsOf(inode.extents));
      changes.delete(inodeKey(ino));
    }
    for (const entry of engine.scan({ prefix: xattrPrefix(ino), limit: limits.xattrsPerInodeMax + 1 })) {
      changes.delete(xattrKey(ino, decodeXattrKey(entry.key).name));
    }
    changes.delete(toFreeKey(ino));
    if (changes.get(pendingLinkKey(ino)) !== undefined) changes.delete(pendingLinkKey(ino));
    freed.push(ino);
  }
  const extentReleaseSeqs = queueExtentReleases(changes, extents, limits);
  return changes.outcome({ freed, skipped, extentReleaseSeqs });
}

// ---------------------------------------------------------------------------------------
// Extent releases

export interface PendingExtentRelease extends ExtentReleaseRecord {
  readonly seq: number;
}

/** Extent release records in seq order after `after`: the work to hand to the datanodes. */
export function pendingExtentReleases(engine: KvEngine, args: { readonly after?: number; readonly limit: number }, limits: NamespaceLimits = namespaceLimitsDefault): { releases: PendingExtentRelease[]; more: boolean } {
  validateLimit('pending extent releases', args.limit, limits.recordsScannedPerPageMax);
  const entries = engine.scan({ prefix: extentReleasePrefix, after: args.after === undefined ? undefined : extentReleaseKey(args.after), limit: args.limit + 1 });
  const releases = entries.slice(0, args.limit).map((entry) => ({ seq: decodeExtentReleaseKey(entry.key), ...decodeExtentReleaseValue(entry.value) }));
  return { releases, more: entries.length > args.limit };
}

/** The datanodes released these records' ranges: the records go. Unknown seqs (acknowledged before) are reported, not refused. */
export function ackExtentReleases(engine: KvEngine, args: { readonly seqs: readonly number[] }, limits: NamespaceLimits = namespaceLimitsDefault): Outcome<{ acked: number[]; unknown: number[] }> {
  const action = 'ack extent releases';
  validateBatch(action, 'seqs', args.seqs, limits.recordsScannedPerPageMax);
  for (const seq of args.seqs) validateIno(action, 'seq', seq);
  const changes = new Changes(engine);
  const acked: number[] = [];
  const unknown: number[] = [];
  for (const seq of args.seqs) {
    const key = extentReleaseKey(seq);
    if (changes.get(key) === undefined) {
      unknown.push(seq);
    } else {
      changes.delete(key);
      acked.push(seq);
    }
  }
  return changes.outcome({ acked, unknown });
}
