// A digest of a meta partition's state: SHA-256 over every record of a snapshot view in
// key order, each as (key length u32 BE, key, value length u32 BE, value). The applied
// index is not hashed: two replicas holding the same records are in the same state even
// when one reached it through a snapshot (its engine index is then the snapshot's).
// Replicas compare digests to show they converged (GET /partitions on a metanode).
//
// The view is consistent while writes continue (memory engine: a copy-on-write clone;
// LMDB: a read transaction), so the hash runs beside the Raft apply loop, in slices of
// `recordsPerSlice` records with a turn of the event loop between them: an apply waits
// at most one slice (about a millisecond at the default). The whole hash costs O(records
// and bytes): about 1 s per million small records. An LMDB view pins its pages until done.
import { createHash } from 'node:crypto';
import { assert } from '../../errors/index.js';
import type { KvSnapshotView } from './kv-engine.js';

export interface KvStateHash {
  /** The engine's applied index the records are at. */
  readonly appliedIndex: number;
  readonly records: number;
  /** Hex SHA-256. */
  readonly hash: string;
}

export const stateHashRecordsPerSliceDefault = 2_000;

/** Hashes every record of the view, then releases it. */
export async function hashKvState(view: KvSnapshotView, recordsPerSlice = stateHashRecordsPerSliceDefault): Promise<KvStateHash> {
  assert(Number.isSafeInteger(recordsPerSlice) && recordsPerSlice > 0, () => `hashKvState: recordsPerSlice must be a positive integer, got ${recordsPerSlice}`);
  const hash = createHash('sha256');
  const lengths = Buffer.alloc(4);
  let records = 0;
  try {
    let inSlice = 0;
    for (const { key, value } of view.entries()) {
      lengths.writeUInt32BE(key.byteLength, 0);
      hash.update(lengths);
      hash.update(key);
      lengths.writeUInt32BE(value.byteLength, 0);
      hash.update(lengths);
      hash.update(value);
      records++;
      if (++inSlice >= recordsPerSlice) {
        inSlice = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  } finally {
    view.release();
  }
  return { appliedIndex: view.appliedIndex, records, hash: hash.digest('hex') };
}
