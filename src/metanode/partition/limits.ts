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
  return Object.freeze(limits);
}
