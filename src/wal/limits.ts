// Every bound of the write-ahead log, named with its unit last, checked against each
// other when built: a bad configuration is refused at start, not discovered under load.
import { frameHeaderBytes, recordHeaderBytes } from './format.js';

export interface WalLimits {
  /** A segment file is closed and a new one started before it would grow past this. */
  readonly segmentBytesMax: number;
  /**
   * Bytes of one frame: what one write and one fdatasync cover. A sync with more buffered
   * writes several frames, each synced before the next is written (see design.md).
   */
  readonly syncBatchBytesMax: number;
  /** One record with its header; a larger entry is refused with TOO_LARGE. */
  readonly recordBytesMax: number;
  /** Bytes buffered and not yet handed to the disk; beyond it appends fail with OVERLOADED. */
  readonly bufferedBytesMax: number;
  /**
   * Zeros written after a frame that reaches the end of the segment file (capped at
   * segmentBytesMax), so that the following frames overwrite blocks the file already has:
   * their fdatasync then flushes data only, without an ext4 journal commit for a new
   * size. 0 turns it off (every frame is an append).
   */
  readonly preallocationBytes: number;
}

const mebibyte = 1024 * 1024;

export const walLimitsDefault: Readonly<WalLimits> = Object.freeze({
  segmentBytesMax: 64 * mebibyte,
  syncBatchBytesMax: 16 * mebibyte,
  recordBytesMax: 8 * mebibyte,
  bufferedBytesMax: 256 * mebibyte,
  preallocationBytes: 4 * mebibyte,
});

/** Frame lengths are u32 on disk. */
const frameBytesLimit = 0xffff_ffff;

export function buildWalLimits(overrides: Partial<WalLimits> = {}): WalLimits {
  const limits: WalLimits = { ...walLimitsDefault, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    const minimum = name === 'preallocationBytes' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < minimum) throw new RangeError(`build wal limits: ${name} must be a safe integer >= ${minimum}: ${value}`);
  }
  const refuse = (reason: string): never => {
    throw new RangeError(`build wal limits: ${reason}`);
  };
  if (limits.recordBytesMax < recordHeaderBytes + 1) {
    refuse(`recordBytesMax must hold a record header and one byte: recordBytesMax=${limits.recordBytesMax} header=${recordHeaderBytes}`);
  }
  if (limits.recordBytesMax + frameHeaderBytes > limits.syncBatchBytesMax) {
    // The largest record must fit in one frame, or it could never be written.
    refuse(`recordBytesMax plus the frame header must fit in syncBatchBytesMax: recordBytesMax=${limits.recordBytesMax} syncBatchBytesMax=${limits.syncBatchBytesMax}`);
  }
  if (limits.syncBatchBytesMax > limits.segmentBytesMax) {
    // A frame never spans two segments, so the largest one must fit in an empty segment.
    refuse(`syncBatchBytesMax must not exceed segmentBytesMax: syncBatchBytesMax=${limits.syncBatchBytesMax} segmentBytesMax=${limits.segmentBytesMax}`);
  }
  if (limits.syncBatchBytesMax > frameBytesLimit) {
    refuse(`syncBatchBytesMax must fit in the u32 frame length: ${limits.syncBatchBytesMax}`);
  }
  if (limits.bufferedBytesMax < limits.syncBatchBytesMax) {
    refuse(`bufferedBytesMax must be at least syncBatchBytesMax: bufferedBytesMax=${limits.bufferedBytesMax} syncBatchBytesMax=${limits.syncBatchBytesMax}`);
  }
  return Object.freeze(limits);
}

/** Bounds of the snapshot store: a snapshot is read and written as one buffer. */
export interface SnapshotLimits {
  /** Application data of one snapshot. */
  readonly snapshotBytesMax: number;
  /** The encoded metadata (index, term, membership, peer addresses). */
  readonly snapshotMetadataBytesMax: number;
}

export const snapshotLimitsDefault: Readonly<SnapshotLimits> = Object.freeze({
  snapshotBytesMax: 1024 * mebibyte,
  snapshotMetadataBytesMax: 1 * mebibyte,
});

export function buildSnapshotLimits(overrides: Partial<SnapshotLimits> = {}): SnapshotLimits {
  const limits: SnapshotLimits = { ...snapshotLimitsDefault, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`build snapshot limits: ${name} must be a positive safe integer: ${value}`);
  }
  if (limits.snapshotMetadataBytesMax > 0xffff_ffff) {
    throw new RangeError(`build snapshot limits: snapshotMetadataBytesMax must fit in the u32 length field: ${limits.snapshotMetadataBytesMax}`);
  }
  if (limits.snapshotMetadataBytesMax > limits.snapshotBytesMax) {
    throw new RangeError(`build snapshot limits: snapshotMetadataBytesMax must not exceed snapshotBytesMax: ${limits.snapshotMetadataBytesMax} > ${limits.snapshotBytesMax}`);
  }
  return Object.freeze(limits);
}
