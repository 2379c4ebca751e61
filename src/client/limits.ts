// Bounds of the volume SDK (src/client), units last, checked when built.
export interface VolumeLimits {
  /** How long a cached inode (attributes, extent list) is trusted before it is read again. */
  readonly attrCacheTtlMs: number;
  readonly attrCacheEntriesMax: number;
  /** How long a cached name → inode entry is trusted. */
  readonly dentryCacheTtlMs: number;
  readonly dentryCacheEntriesMax: number;
  /** Buffered appends of an open file are published at least this often. */
  readonly writeBehindFlushMs: number;
  /** A file written whole in one flush up to this size goes to a tiny extent when the data client can. */
  readonly smallFileBytesMax: number;
  /** Bytes of one read-ahead window of a sequential reader. */
  readonly readAheadBytes: number;
  /** Windows fetched beyond the one a sequential reader is in (memory per reader: one more than this, times readAheadBytes). */
  readonly readAheadWindows: number;
  /** Reads at least this long skip the read-ahead buffer. */
  readonly readDirectBytesMin: number;
  /** Lease of the client's session at each meta partition, renewed at a third of it. */
  readonly sessionLeaseSec: number;
  /**
   * How long an open's session record may wait before it is sent (0: before open
   * returns); a close within that time cancels it. See README.md for the trade.
   */
  readonly openRecordDeferMs: number;
  /** Symbolic links followed while resolving one path (Linux: 40). */
  readonly symlinkFollowMax: number;
  /** Entries asked for per ReadDir page. */
  readonly readdirPageEntries: number;
  /** Directory entries one recursive remove or readdir walks before giving up. */
  readonly treeEntriesMax: number;
  /** Memory all open files of one volume instance may hold in read-ahead and write-behind buffers. */
  readonly bufferBytesMax: number;
  /** Open file handles of one volume instance. */
  readonly openHandlesMax: number;
  /** How long a create, unlink, rename or link whose outcome a lost answer left unknown is tried again (settle.ts). */
  readonly unknownOutcomeRetryMs: number;
}

export const volumeLimitsDefault: VolumeLimits = Object.freeze({
  attrCacheTtlMs: 1_000,
  attrCacheEntriesMax: 65_536,
  dentryCacheTtlMs: 1_000,
  dentryCacheEntriesMax: 65_536,
  writeBehindFlushMs: 3_000,
  smallFileBytesMax: 128 * 1024,
  readAheadBytes: 1024 * 1024,
  readAheadWindows: 8,
  readDirectBytesMin: 4 * 1024 * 1024,
  sessionLeaseSec: 60,
  openRecordDeferMs: 0,
  symlinkFollowMax: 40,
  readdirPageEntries: 1_024,
  treeEntriesMax: 10_000_000,
  bufferBytesMax: 256 * 1024 * 1024,
  openHandlesMax: 65_536,
  unknownOutcomeRetryMs: 20_000,
});

export function buildVolumeLimits(overrides: Partial<VolumeLimits> = {}): VolumeLimits {
  const limits = { ...volumeLimitsDefault, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (name === 'openRecordDeferMs' && value === 0) continue;
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`volume limits: ${name} must be a positive safe integer: ${value}`);
  }
  if (limits.sessionLeaseSec < 3) throw new RangeError(`volume limits: sessionLeaseSec ${limits.sessionLeaseSec} is under 3 s`);
  return Object.freeze(limits);
}
