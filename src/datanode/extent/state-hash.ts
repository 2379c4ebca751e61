// A digest of a data partition replica's extents: SHA-256 over every extent in id order,
// each as (extent id u64 BE, size u64 BE, block count u32 BE, then each block's CRC32
// u32 BE), from the CRC tables the store keeps in memory. Replicas that hold the same
// bytes in the same extents have the same digest (GET /partitions on a datanode); it
// reads no extent data, so it costs O(blocks): a 128 GiB partition is about a million
// CRCs, a few milliseconds.
import { createHash } from 'node:crypto';
import { assert } from '../../errors/index.js';

export interface ExtentDigestInput {
  readonly extentId: number;
  readonly size: number;
  readonly blockCrcs: readonly number[];
}

export interface ExtentStateHash {
  readonly extents: number;
  readonly bytes: number;
  /** Hex SHA-256. */
  readonly hash: string;
}

export function hashExtentState(extents: Iterable<ExtentDigestInput>): ExtentStateHash {
  const hash = createHash('sha256');
  const header = Buffer.alloc(20);
  let count = 0;
  let bytes = 0;
  let previous = 0;
  for (const extent of extents) {
    assert(Number.isSafeInteger(extent.extentId) && extent.extentId > previous, () => `hashExtentState: extent ids must increase, got ${extent.extentId} after ${previous}`);
    previous = extent.extentId;
    header.writeBigUInt64BE(BigInt(extent.extentId), 0);
    header.writeBigUInt64BE(BigInt(extent.size), 8);
    header.writeUInt32BE(extent.blockCrcs.length, 16);
    hash.update(header);
    const crcs = Buffer.alloc(4 * extent.blockCrcs.length);
    extent.blockCrcs.forEach((crc, block) => crcs.writeUInt32BE(crc >>> 0, 4 * block));
    hash.update(crcs);
    count++;
    bytes += extent.size;
  }
  return { extents: count, bytes, hash: hash.digest('hex') };
}
