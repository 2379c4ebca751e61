// Limits of the meta partition store, checked against each other at load time.
import { assert } from '../../errors/index.js';

/**
 * The longest key either engine accepts. LMDB's own limit with its default 4 KiB pages is
 * 1978 bytes; the memory engine enforces the same so that a partition can move between
 * engines (and through a snapshot file) without a key becoming unstorable.
 */
export const kvKeyBytesMax = 1978;
/** The longest value: far above any inode or dentry, far below what a u32 length can say. */
export const kvValueBytesMax = 64 * 1024 * 1024;
/** Snapshot files are written through a buffer of this size, flushed when full. */
export const snapshotWriteBufferBytes = 4 * 1024 * 1024;
/** Snapshot files are read in chunks of this size (a longer record is read whole). */
export const snapshotReadChunkBytes = 1024 * 1024;

assert(kvKeyBytesMax > 0 && kvKeyBytesMax <= 1978, 'kvKeyBytesMax must fit an LMDB key with 4 KiB pages');
assert(kvValueBytesMax < 2 ** 32, 'kvValueBytesMax must fit the u32 length of a snapshot record');
assert(snapshotWriteBufferBytes >= 64 * 1024, 'snapshotWriteBufferBytes below 64 KiB would sync tiny appends');
assert(snapshotReadChunkBytes >= 64 * 1024, 'snapshotReadChunkBytes below 64 KiB would read in tiny steps');
