// The `-o` option string of a FUSE mount. fuse-native has no option for big_writes or
// max_write, and drops zero-valued timeouts; its `fsname` option is joined into the `-o`
// string as it is, so the adapter passes every option through it (see README.md).
import { assert } from '../errors/index.js';

export interface MountOptions {
  /** First field of /proc/mounts and `df` (the "device"). Default 'atoll'. */
  readonly fsName?: string;
  /** Mount type becomes `fuse.<subtype>`. Default 'atoll'. */
  readonly subtype?: string;
  /** Kernel write requests up to `maxWriteBytes` instead of 4 KiB. Default true. */
  readonly bigWrites?: boolean;
  /** Default 1 MiB (libfuse 2 itself caps a request at 128 KiB). */
  readonly maxWriteBytes?: number;
  /**
   * The kernel's read-ahead for the mount (its bdi's read_ahead_kb), which also bounds
   * the size of its read requests. Default 1 MiB (the kernel's own default is 128 KiB).
   * Set when the serving process is root; 0 leaves the kernel's.
   */
  readonly readAheadBytes?: number;
  /**
   * The kernel checks permissions from the mode, uid and gid that getattr returns.
   * Default true: fuse-native does not tell operations the caller's uid and gid, so
   * the file system could not check them itself.
   */
  readonly defaultPermissions?: boolean;
  /**
   * Other users may use the mount. 'auto' (default): when the mounting process is root
   * or /etc/fuse.conf has user_allow_other, which fusermount requires for it.
   */
  readonly allowOther?: boolean | 'auto';
  /** How long the kernel keeps attributes (getattr answers). Default 1 s. */
  readonly attrTimeoutSeconds?: number;
  /** How long the kernel keeps name lookups. Default 1 s. */
  readonly entryTimeoutSeconds?: number;
  /** How long the kernel remembers that a name does not exist. Default 0 (not at all). */
  readonly negativeTimeoutSeconds?: number;
  /** Extra libfuse options, comma-free each, appended last (e.g. 'debug'). */
  readonly extra?: readonly string[];
}

/** Resolved options, with the values the option string was built from. */
export interface ResolvedMountOptions {
  readonly fsName: string;
  readonly subtype: string;
  readonly bigWrites: boolean;
  readonly maxWriteBytes: number;
  readonly readAheadBytes: number;
  readonly defaultPermissions: boolean;
  readonly allowOther: boolean;
  readonly attrTimeoutSeconds: number;
  readonly entryTimeoutSeconds: number;
  readonly negativeTimeoutSeconds: number;
  readonly extra: readonly string[];
}

export const mountOptionDefaults = Object.freeze({
  fsName: 'atoll',
  subtype: 'atoll',
  bigWrites: true,
  maxWriteBytes: 1024 * 1024,
  readAheadBytes: 1024 * 1024,
  defaultPermissions: true,
  attrTimeoutSeconds: 1,
  entryTimeoutSeconds: 1,
  negativeTimeoutSeconds: 0,
});

// fuse-native copies the option string into a 1024-byte buffer.
export const optionStringBytesMax = 1000;

const plainValue = /^[A-Za-z0-9_.:@+\-/=]+$/;

export function resolveMountOptions(options: MountOptions, allowOtherPermitted: boolean): ResolvedMountOptions {
  const allowOther = options.allowOther === undefined || options.allowOther === 'auto' ? allowOtherPermitted : options.allowOther;
  return {
    fsName: options.fsName ?? mountOptionDefaults.fsName,
    subtype: options.subtype ?? mountOptionDefaults.subtype,
    bigWrites: options.bigWrites ?? mountOptionDefaults.bigWrites,
    maxWriteBytes: options.maxWriteBytes ?? mountOptionDefaults.maxWriteBytes,
    readAheadBytes: options.readAheadBytes ?? mountOptionDefaults.readAheadBytes,
    defaultPermissions: options.defaultPermissions ?? mountOptionDefaults.defaultPermissions,
    allowOther,
    attrTimeoutSeconds: options.attrTimeoutSeconds ?? mountOptionDefaults.attrTimeoutSeconds,
    entryTimeoutSeconds: options.entryTimeoutSeconds ?? mountOptionDefaults.entryTimeoutSeconds,
    negativeTimeoutSeconds: options.negativeTimeoutSeconds ?? mountOptionDefaults.negativeTimeoutSeconds,
    extra: options.extra ?? [],
  };
}

/**
 * The libfuse options, in order, as one comma-separated string whose first element is
 * the fsname value (that is how it travels through fuse-native's `fsname`).
 */
export function mountOptionString(options: ResolvedMountOptions): string {
  const parts: string[] = [options.fsName, `subtype=${options.subtype}`];
  if (options.bigWrites) parts.push('big_writes', `max_write=${options.maxWriteBytes}`);
  if (options.defaultPermissions) parts.push('default_permissions');
  if (options.allowOther) parts.push('allow_other');
  parts.push(`attr_timeout=${options.attrTimeoutSeconds}`);
  parts.push(`entry_timeout=${options.entryTimeoutSeconds}`);
  parts.push(`negative_timeout=${options.negativeTimeoutSeconds}`);
  parts.push(...options.extra);

  for (const part of parts) assert(plainValue.test(part), `fuse mount option ${JSON.stringify(part)}: only letters, digits and _.:@+-/= are allowed`);
  for (const seconds of [options.attrTimeoutSeconds, options.entryTimeoutSeconds, options.negativeTimeoutSeconds]) {
    assert(Number.isFinite(seconds) && seconds >= 0, `fuse mount option: a timeout must be a finite number of seconds >= 0, not ${seconds}`);
  }
  assert(Number.isInteger(options.maxWriteBytes) && options.maxWriteBytes >= 4096, `fuse mount option: max_write must be an integer >= 4096, not ${options.maxWriteBytes}`);
  const joined = parts.join(',');
  assert(Buffer.byteLength(joined) <= optionStringBytesMax, `fuse mount options: ${Buffer.byteLength(joined)} bytes, at most ${optionStringBytesMax}`);
  return joined;
}
