// Public face of the meta partition store: the engine interface, its two engines and
// the snapshot file they are saved to and installed from.
export type { KvEngine, KvEntry, KvKey, KvMutation, KvRange, KvSnapshotView, KvValue } from './kv-engine.js';
export { MemoryEngine } from './memory-engine.js';
export { LmdbEngine, lmdbDataFileName } from './lmdb-engine.js';
export type { LmdbEngineOptions } from './lmdb-engine.js';
export { compareKeys, prefixEnd } from './key-order.js';
export { kvKeyBytesMax, kvValueBytesMax, snapshotReadChunkBytes, snapshotWriteBufferBytes } from './limits.js';
export {
  KvSnapshotOp,
  kvSnapshotHeaderBytes,
  kvSnapshotMagic,
  kvSnapshotTrailerBytes,
  kvSnapshotVersion,
  readSnapshotFile,
  temporarySnapshotSuffix,
  writeSnapshotFile,
} from './snapshot-stream.js';
export type { KvSnapshotContent, KvSnapshotFileInfo } from './snapshot-stream.js';
export { decodeKvSnapshot, encodeKvSnapshot } from './snapshot-bytes.js';
export { hashKvState, stateHashRecordsPerSliceDefault, type KvStateHash } from './state-hash.js';
