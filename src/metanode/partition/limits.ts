/** Every bound the partition's namespace operations enforce, named with its unit last. */
export interface NamespaceLimits {
  /** Bytes of one name in a directory (POSIX NAME_MAX). */
  readonly nameBytesMax: number;
  /** Bytes of a symlink's target (POSIX PATH_MAX). */
  readonly symlinkTargetBytesMax: number;
  /** Hard links of one inode (as ext4); a directory's nlink (2 + subdirectories) too. */
  readonly linksMax: number;
  /** Entries one readdir page may return. */
  readonly readdirEntriesMax: number;
  /** Inodes one batchGetInode may ask for. */
  readonly batchInodesMax: number;
  /** Bytes of an extended attribute's name (as Linux XATTR_NAME_MAX). */
  readonly xattrNameBytesMax: number;
  /** Bytes of an extended attribute's value (as Linux XATTR_SIZE_MAX). */
  readonly xattrValueBytesMax: number;
  /** Extended attributes of one inode (so that listing them is bounded). */
  readonly xattrsPerInodeMax: number;
  /** Ancestors walked when checking that a directory is not moved into its own subtree. */
  readonly directoryDepthMax: number;
  /** Extent keys of one file inode (its record holds them all). */
  readonly extentKeysPerInodeMax: number;
  /** Extent keys one appendExtents may carry. */
  readonly extentKeysPerAppendMax: number;
  /**
   * Not a bound: the volume's root directory (the first inode of its first partition), the
   * one directory where the name `.trash` is reserved for the trash view.
   */
  readonly rootIno: number;
  /** Seconds of a session lease (a client renews well before it runs out). */
  readonly sessionLeaseSecMax: number;
  /** Bytes of the client description a session carries (host, process, mount). */
  readonly sessionClientInfoBytesMax: number;
  /** Distinct inodes one session may hold open in one partition (so closing it is one bounded batch). */
  readonly sessionOpenInodesMax: number;
  /** Opens of one inode by one session not yet closed (a count, not a record each). */
  readonly opensPerSessionInodeMax: number;
  /** Open-inode records one expireSessions batch may release (at least one whole session). */
  readonly opensReleasedPerBatchMax: number;
  /** Inodes one freeInodes / freeOrphans batch may take. */
  readonly inodesFreedPerBatchMax: number;
  /** Extent ranges in one extent release record (`E`); more make more records. */
  readonly extentRangesPerRecordMax: number;
  /** Records one paged read or sweep (freeable inodes, orphans, trash, extent releases) may look at. */
  readonly recordsScannedPerPageMax: number;
}

export const namespaceLimitsDefault: Readonly<NamespaceLimits> = Object.freeze({
  nameBytesMax: 255,
  symlinkTargetBytesMax: 4096,
  linksMax: 65_000,
  readdirEntriesMax: 4096,
  batchInodesMax: 1024,
  xattrNameBytesMax: 255,
  xattrValueBytesMax: 64 * 1024,
  xattrsPerInodeMax: 1024,
  directoryDepthMax: 4096,
  extentKeysPerInodeMax: 65_536,
  extentKeysPerAppendMax: 1024,
  rootIno: 1,
  sessionLeaseSecMax: 24 * 3600,
  sessionClientInfoBytesMax: 1024,
  sessionOpenInodesMax: 16_384,
  opensPerSessionInodeMax: 1_000_000,
  opensReleasedPerBatchMax: 16_384,
  inodesFreedPerBatchMax: 256,
  extentRangesPerRecordMax: 4096,
  recordsScannedPerPageMax: 4096,
});

/** Fills defaults and checks every limit is a positive safe integer; throws RangeError naming the limit. */
export function buildNamespaceLimits(overrides: Partial<NamespaceLimits> = {}): NamespaceLimits {
  const limits: NamespaceLimits = { ...namespaceLimitsDefault, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`build namespace limits: ${name} must be a positive safe integer: ${value}`);
    }
  }
  if (limits.linksMax < 2) throw new RangeError('build namespace limits: linksMax must allow a directory (2)');
  if (limits.opensReleasedPerBatchMax < limits.sessionOpenInodesMax) {
    throw new RangeError('build namespace limits: opensReleasedPerBatchMax must release at least one full session (sessionOpenInodesMax)');
  }
  if (limits.opensPerSessionInodeMax > 0xffff_ffff) throw new RangeError('build namespace limits: opensPerSessionInodeMax must fit a u32');
  return Object.freeze(limits);
}
