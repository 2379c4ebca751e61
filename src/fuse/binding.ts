// The one module that touches fuse-native (unmaintained, libfuse 2 API). File systems
// implement `FuseOperations` as async functions that return values or throw errors with
// an errno `code` (or AtollErrors); this adapter turns them into fuse-native's callback
// style, maps errors to negative errno numbers, never lets an exception reach the
// binding, bounds every operation with a deadline, and works around the binding's bugs
// (README.md lists them).
import { createRequire } from 'node:module';
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { assert } from '../errors/index.js';
import { errnoOf, errnoOfName, isExpectedError } from './errno.js';
import { DeviceChannel, kernelMountPossible, mountArguments, mountDevice } from './kernel/kernel-mount.js';
import { KernelSession } from './kernel/kernel-session.js';
import { mountOptionString, resolveMountOptions, type MountOptions, type ResolvedMountOptions } from './mount-options.js';
import { findMount, fusermountUnmount, mountState, setReadAhead, waitUntilUnmounted } from './mount-table.js';
import { OpenFiles, isHiddenName } from './open-files.js';
import { msToNs } from './times.js';

// ---------------------------------------------------------------- what a file system implements

/** A file handle chosen by `open`/`create`: an integer in [1, 2^31 - 1]. */
export type FileHandle = number;

/** A value, or a promise of one: synchronous answers skip the promise machinery. */
export type Answer<T> = T | Promise<T>;

export interface FileStat {
  /** File type and permission bits, as in `stat.st_mode` (S_IFREG | 0o644 ...). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly nlink: number;
  /**
   * The inode number stat(2) shows (64-bit) under the kernel session; ignored under
   * fuse-native, where libfuse 2 numbers inodes itself (no use_ino; see README.md).
   */
  readonly ino?: number;
  readonly rdev?: number;
  /** Preferred I/O size; default 128 KiB, libfuse 2's largest request. */
  readonly blksize?: number;
  /** 512-byte blocks allocated; default ceil(size / 512). */
  readonly blocks?: number;
  /** Times in milliseconds since the epoch; fuse-native carries whole milliseconds only. */
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  /** The same times in nanoseconds, when the file system keeps them (the kernel session passes them). */
  readonly atimeNs?: bigint;
  readonly mtimeNs?: bigint;
  readonly ctimeNs?: bigint;
}

/** Who asked for an operation (the kernel session passes it; fuse-native cannot). */
export interface RequestContext {
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
}

/** What `df` shows; the adapter picks block sizes so that the counts fit the binding. */
export interface FileSystemStats {
  readonly totalBytes: number;
  readonly freeBytes: number;
  readonly availableBytes: number;
  readonly totalFiles: number;
  readonly freeFiles: number;
  /** Longest name in bytes; default 255. */
  readonly nameBytesMax?: number;
}

/**
 * What AtollFS implements under a FUSE mount. Paths are absolute within the mount
 * ('/', '/a/b'). Every operation throws on failure: a FuseError, an AtollError, or any
 * error whose `code` names an errno ('ENOENT', ...); anything else becomes EIO and is
 * reported as a bug through `onUnexpectedError`.
 *
 * Operations that carry a handle must work by the handle: for an open file that was
 * unlinked or renamed over, `path` is a libfuse `.fuse_hidden...` name the file system
 * never created (see open-files.ts). `unlink` and `rename` over a file that is still
 * open must keep its inode readable and writable through its handles until `release`.
 */
export interface FuseOperations {
  /** Called once before the mount; the mount fails if it throws. */
  init?(): Answer<void>;
  /** Called once after the unmount. */
  destroy?(): Answer<void>;

  statfs(path: string): Answer<FileSystemStats>;
  getattr(path: string): Answer<FileStat>;
  /** getattr of an open file (fstat, and getattr of an unlinked open file). */
  fgetattr(path: string, handle: FileHandle): Answer<FileStat>;
  /** Not called under default_permissions (the kernel answers access(2) itself). */
  access?(path: string, mode: number): Answer<void>;

  /** Names in the directory, without '.' and '..' (the adapter adds them). */
  readdir(path: string): Answer<readonly string[]>;
  /** `context`: the caller, under the kernel session (new inodes may belong to it). */
  mkdir(path: string, mode: number, context?: RequestContext): Answer<void>;
  rmdir(path: string): Answer<void>;

  /** Creates a regular file with `mode` (type bits included) and opens it. */
  create(path: string, mode: number, context?: RequestContext): Answer<FileHandle>;
  open(path: string, flags: number): Answer<FileHandle>;
  /** Up to `length` bytes at `position`; fewer only at end of file. */
  read(path: string, handle: FileHandle, length: number, position: number): Answer<Uint8Array>;
  /**
   * Writes `data` at `position`, returns the bytes written (all of them unless it
   * throws). `data` is the kernel's buffer, valid only until the answer: copy to keep.
   */
  write(path: string, handle: FileHandle, data: Buffer, position: number): Answer<number>;
  /** On every close(2) of a descriptor (dup'd ones too): a chance to report write errors. */
  flush(path: string, handle: FileHandle): Answer<void>;
  fsync(path: string, handle: FileHandle, dataOnly: boolean): Answer<void>;
  /** The last close of the handle; its errors reach nobody. */
  release(path: string, handle: FileHandle): Answer<void>;
  truncate(path: string, size: number): Answer<void>;
  ftruncate(path: string, handle: FileHandle, size: number): Answer<void>;

  unlink(path: string): Answer<void>;
  /** Replaces `to` if it exists (POSIX rename); no flags (libfuse 2 has none). */
  rename(from: string, to: string): Answer<void>;
  link(existingPath: string, newPath: string): Answer<void>;
  symlink(target: string, linkPath: string, context?: RequestContext): Answer<void>;
  readlink(path: string): Answer<string>;

  chmod(path: string, mode: number): Answer<void>;
  /** -1 leaves that id unchanged. */
  chown(path: string, uid: number, gid: number): Answer<void>;
  /**
   * Nanoseconds since the epoch; undefined leaves that time as it is (UTIME_OMIT). Under
   * fuse-native 2.2.6 both are always set, to whole milliseconds, and wrong: it passes
   * the access time for both, and UTIME_NOW/UTIME_OMIT arrive as "now".
   */
  utimens(path: string, atimeNs: bigint | undefined, mtimeNs: bigint | undefined): Answer<void>;

  /**
   * chmod, chown and utimens of an open file by one of its handles, for a file that has no
   * path any more (unlinked while open: fchmod, fchown, futimens). Optional: without it
   * they answer ENOENT. Kernel session only.
   */
  fsetattr?(path: string, handle: FileHandle, attrs: HandleAttrs): Answer<void>;

  /** Throws ENODATA when the attribute is absent. */
  getxattr?(path: string, name: string): Answer<Uint8Array>;
  /** `flags`: 0, XATTR_CREATE (1: fail with EEXIST) or XATTR_REPLACE (2: fail with ENODATA). */
  setxattr?(path: string, name: string, value: Buffer, flags: number): Answer<void>;
  listxattr?(path: string): Answer<readonly string[]>;
  removexattr?(path: string, name: string): Answer<void>;
}

/** What `fsetattr` sets; an absent field stays as it is (ids, like chown's -1). */
export interface HandleAttrs {
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly atimeNs?: bigint;
  readonly mtimeNs?: bigint;
}

export interface UnexpectedErrorReport {
  readonly operation: string;
  readonly path: string;
  readonly error: unknown;
}

export interface FuseMountOptions extends MountOptions {
  /** Default 'auto': the kernel session when this process is root, else fuse-native. */
  readonly backend?: FuseBackend | 'auto';
  /** An operation still unanswered after this long fails with ETIMEDOUT. Default 60 s. */
  readonly operationTimeoutMs?: number;
  /** How long to wait for the kernel's INIT after mounting. Default 15 s. */
  readonly mountTimeoutMs?: number;
  /** How long `unmount()` may take before it gives up. Default 15 s. */
  readonly unmountTimeoutMs?: number;
  /** How often to look whether someone else unmounted the mount point. Default 1 s. */
  readonly watchIntervalMs?: number;
  /** Errors that are not expected failures (bugs); default: one JSON line on stderr. */
  readonly onUnexpectedError?: (report: UnexpectedErrorReport) => void;
}

export type ClosedBy = 'unmounted' | 'unmounted-externally';

/**
 * How a mount talks to the kernel: 'kernel', this process speaks the FUSE protocol on
 * /dev/fuse itself (kernel/; needs root to mount); 'fuse-native', through fuse-native and
 * libfuse 2 (README.md lists what that loses).
 */
export type FuseBackend = 'kernel' | 'fuse-native';

/** How long an unmount waits for the kernel to end the session before closing the device. */
const sessionEndWaitMs = 2_000;

export interface FuseMount {
  readonly mountPoint: string;
  /** The options the mount was made with (libfuse's -o string, or the mount(8) arguments). */
  readonly optionString: string;
  readonly backend: FuseBackend;
  /**
   * Settles once the mount is gone: 'unmounted' by `unmount()`, 'unmounted-externally'
   * by someone else (fusermount -u, umount), noticed within `watchIntervalMs`.
   */
  readonly closed: Promise<ClosedBy>;
  /** Lazily unmounts (busy files do not stop it), then calls `destroy`. Idempotent. */
  unmount(): Promise<void>;
}

// ---------------------------------------------------------------- fuse-native, typed

// fuse-native's operation callbacks: (...arguments, reply), reply(result, ...values).
type Callback = (...args: never[]) => void;
type Reply = (result: number, ...values: unknown[]) => void;
type Signal = (result: number, ...values: unknown[]) => void;

interface NativeFuse {
  _thread: Buffer | null;
  _close: (callback: (error: Error | null) => void) => void;
  _op_getattr: (signal: Signal, path: string) => void;
  _op_fgetattr: (signal: Signal, path: string, handle: number) => void;
  _op_getxattr: (signal: Signal, path: string, name: string, value: Buffer, position: number) => void;
  _op_listxattr: (signal: Signal, path: string, list: Buffer) => void;
  mount(callback: (error: Error | null) => void): void;
  unmount(callback: (error: Error | null) => void): void;
}

interface NativeFuseConstructor {
  new (mountPoint: string, ops: Record<string, Callback>, options: Record<string, unknown>): NativeFuse;
}

interface NativeBinding {
  fuse_native_unmount(mountPoint: string, thread: Buffer): void;
}

interface LoadedBinding {
  readonly Fuse: NativeFuseConstructor;
  readonly native: NativeBinding;
}

let loaded: LoadedBinding | undefined;

/**
 * Loads fuse-native and its prebuilt binary; throws an Error naming what is missing
 * (libfuse.so.2 comes from Debian's libfuse2).
 */
export function loadBinding(): LoadedBinding {
  if (loaded !== undefined) return loaded;
  const require = createRequire(import.meta.url);
  try {
    const Fuse = require('fuse-native') as NativeFuseConstructor;
    // The same .node file fuse-native loaded (require caches it by path): its unmount
    // entry point, which fuse-native keeps private.
    const packageDirectory = dirname(require.resolve('fuse-native/package.json'));
    const requireFromPackage = createRequire(`${packageDirectory}/index.js`);
    const native = (requireFromPackage('node-gyp-build') as (directory: string) => NativeBinding)(packageDirectory);
    loaded = { Fuse, native };
    return loaded;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const hint = /libfuse\.so\.2/.test(detail) ? ' (install the Debian package libfuse2)' : '';
    throw new Error(`load fuse-native: ${detail}${hint}`, { cause: error });
  }
}

// ---------------------------------------------------------------- conversions

const errno = (name: string): number => -errnoOfName(name)!;
const ENOENT = errno('ENOENT');
const EIO = errno('EIO');
const ERANGE = errno('ERANGE');
const ETIMEDOUT = errno('ETIMEDOUT');

const uint32Max = 0xffff_ffff;
const handleMax = 0x7fff_ffff;
const defaultBlockSizeBytes = 128 * 1024;
const statfsBaseBlockBytes = 4096;
// libfuse 2 turns UTIME_NOW and UTIME_OMIT into { tv_sec: 0, tv_nsec: 2^30 - 1 or - 2 };
// fuse-native converts that to 0 * 1000 + floor(tv_nsec / 10^6) ms.
const utimeSpecialMs = 1073;

function setUint64(ints: Uint32Array, index: number, value: number): void {
  const whole = Math.max(0, Math.floor(value));
  ints[index] = whole % 0x1_0000_0000;
  ints[index + 1] = Math.floor(whole / 0x1_0000_0000);
}

/** fuse-native's stat layout: 18 uint32s (times in ms, 64-bit values as low, high). */
export function nativeStat(stat: FileStat): Uint32Array {
  const ints = new Uint32Array(18);
  ints[0] = stat.mode;
  ints[1] = stat.uid;
  ints[2] = stat.gid;
  setUint64(ints, 3, stat.size);
  ints[5] = 0; // st_dev: set by the kernel
  ints[6] = stat.nlink;
  ints[7] = stat.ino ?? 0;
  ints[8] = stat.rdev ?? 0;
  ints[9] = stat.blksize ?? defaultBlockSizeBytes;
  setUint64(ints, 10, stat.blocks ?? Math.ceil(stat.size / 512));
  setUint64(ints, 12, stat.atimeMs);
  setUint64(ints, 14, stat.mtimeMs);
  setUint64(ints, 16, stat.ctimeMs);
  return ints;
}

/**
 * statvfs for fuse-native, whose fields are 32-bit: the fragment size doubles from 4 KiB
 * until the block counts fit (a 1 PiB volume is counted in 256 KiB blocks).
 */
export function nativeStatfs(stats: FileSystemStats): Record<string, number> {
  let blockBytes = statfsBaseBlockBytes;
  while (Math.floor(stats.totalBytes / blockBytes) > uint32Max) blockBytes *= 2;
  const blocks = (bytes: number): number => Math.min(uint32Max, Math.max(0, Math.floor(bytes / blockBytes)));
  const count = (files: number): number => Math.min(uint32Max, Math.max(0, Math.floor(files)));
  return {
    bsize: blockBytes,
    frsize: blockBytes,
    blocks: blocks(stats.totalBytes),
    bfree: blocks(stats.freeBytes),
    bavail: blocks(stats.availableBytes),
    files: count(stats.totalFiles),
    ffree: count(stats.freeFiles),
    favail: count(stats.freeFiles),
    fsid: 0,
    flag: 0,
    namemax: stats.nameBytesMax ?? 255,
  };
}

function timeFromBinding(ms: number): number {
  return ms === utimeSpecialMs ? Date.now() : ms;
}

function idFromBinding(id: number): number {
  return id === uint32Max ? -1 : id;
}

function defaultUnexpectedError(report: UnexpectedErrorReport): void {
  const error = report.error;
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`${JSON.stringify({ level: 'error', role: 'fuse', msg: 'operation failed unexpectedly', operation: report.operation, path: report.path, error: message })}\n`);
}

// ---------------------------------------------------------------- the adapter

function isPromise<T>(value: Answer<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** Runs one operation and answers exactly once: its value, its errno, or ETIMEDOUT. */
export class OperationRunner {
  constructor(
    private readonly timeoutMs: number,
    private readonly onUnexpectedError: (report: UnexpectedErrorReport) => void,
  ) {}

  run<T>(operation: string, path: string, work: () => Answer<T>, reply: (value: T) => void, fail: (errnoNumber: number) => void): void {
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const failWith = (error: unknown): void => {
      if (answered) return;
      answered = true;
      if (timer !== undefined) clearTimeout(timer);
      if (!isExpectedError(error)) this.onUnexpectedError({ operation, path, error });
      fail(errnoOf(error));
    };
    const succeed = (value: T): void => {
      if (answered) return;
      answered = true;
      if (timer !== undefined) clearTimeout(timer);
      try {
        reply(value);
      } catch (error) {
        // reply validates before it answers, so the binding has not been called yet.
        this.onUnexpectedError({ operation, path, error });
        fail(EIO);
      }
    };
    let result: Answer<T>;
    try {
      result = work();
    } catch (error) {
      failWith(error);
      return;
    }
    if (!isPromise(result)) {
      succeed(result);
      return;
    }
    if (this.timeoutMs > 0) {
      timer = setTimeout(() => {
        if (answered) return;
        answered = true;
        this.onUnexpectedError({ operation, path, error: new Error(`${operation} ${path}: no answer after ${this.timeoutMs} ms`) });
        fail(ETIMEDOUT);
      }, this.timeoutMs);
    }
    result.then(succeed, failWith);
  }
}

function checkHandle(handle: unknown): FileHandle {
  assert(typeof handle === 'number' && Number.isInteger(handle) && handle >= 1 && handle <= handleMax, () => `a file handle must be an integer in [1, ${handleMax}], not ${String(handle)}`);
  return handle;
}

/** The callback-style operations and method overrides fuse-native is given. */
function adapt(ops: FuseOperations, runner: OperationRunner, openFiles: OpenFiles): { callbacks: Record<string, Callback>; install(fuse: NativeFuse): void } {
  const done = (callback: Reply) => (): void => callback(0);
  const failTo = (callback: Reply) => (errnoNumber: number): void => callback(errnoNumber);

  // Path operations on a hidden (unlinked, still open) file go by one of its handles.
  const hiddenHandle = (path: string): FileHandle | undefined => (openFiles.isHidden(path) ? openFiles.handleOfHidden(path) ?? 0 : undefined);

  const getattr = (signal: Signal, path: string): void => {
    const handle = hiddenHandle(path);
    if (handle === 0) return signal(ENOENT);
    const work = handle === undefined ? () => ops.getattr(path) : () => ops.fgetattr(path, handle);
    runner.run('getattr', path, work, (stat) => signal(0, nativeStat(stat)), (errnoNumber) => signal(errnoNumber));
  };

  const callbacks: Record<string, Callback> = {
    statfs: (path: string, callback: Reply) =>
      runner.run('statfs', path, () => ops.statfs(path), (stats) => callback(0, nativeStatfs(stats)), failTo(callback)),
    // Registered so that fuse-native enables them; the overrides below answer.
    getattr: () => assert(false, 'fuse-native called getattr instead of the override'),
    fgetattr: () => assert(false, 'fuse-native called fgetattr instead of the override'),
    readdir: (path: string, callback: Reply) =>
      runner.run('readdir', path, () => ops.readdir(path), (names) => callback(0, ['.', '..', ...names]), failTo(callback)),
    mkdir: (path: string, mode: number, callback: Reply) =>
      runner.run('mkdir', path, () => ops.mkdir(path, mode), done(callback), failTo(callback)),
    rmdir: (path: string, callback: Reply) => runner.run('rmdir', path, () => ops.rmdir(path), done(callback), failTo(callback)),
    create: (path: string, mode: number, callback: Reply) =>
      runner.run('create', path, () => ops.create(path, mode), (handle) => {
        openFiles.opened(checkHandle(handle), path);
        callback(0, handle);
      }, failTo(callback)),
    open: (path: string, flags: number, callback: Reply) => {
      if (openFiles.isHidden(path)) return callback(ENOENT);
      runner.run('open', path, () => ops.open(path, flags), (handle) => {
        openFiles.opened(checkHandle(handle), path);
        callback(0, handle);
      }, failTo(callback));
    },
    read: (path: string, handle: number, buffer: Buffer, length: number, position: number, callback: Reply) =>
      runner.run('read', path, () => ops.read(path, handle, length, position), (data) => {
        assert(data instanceof Uint8Array && data.length <= length, () => `read returned ${data instanceof Uint8Array ? `${data.length} bytes` : typeof data}, asked for at most ${length}`);
        buffer.set(data, 0);
        callback(data.length);
      }, failTo(callback)),
    write: (path: string, handle: number, buffer: Buffer, length: number, position: number, callback: Reply) =>
      runner.run('write', path, () => ops.write(path, handle, buffer.subarray(0, length), position), (written) => {
        assert(Number.isInteger(written) && written >= 0 && written <= length, () => `write returned ${String(written)} for ${length} bytes`);
        callback(written);
      }, failTo(callback)),
    flush: (path: string, handle: number, callback: Reply) =>
      runner.run('flush', path, () => ops.flush(path, handle), done(callback), failTo(callback)),
    fsync: (path: string, dataOnly: number, handle: number, callback: Reply) =>
      runner.run('fsync', path, () => ops.fsync(path, handle, dataOnly !== 0), done(callback), failTo(callback)),
    release: (path: string, handle: number, callback: Reply) =>
      runner.run('release', path, () => ops.release(path, handle), () => {
        openFiles.released(handle);
        callback(0);
      }, (errnoNumber) => {
        openFiles.released(handle);
        callback(errnoNumber);
      }),
    truncate: (path: string, size: number, callback: Reply) => {
      const handle = hiddenHandle(path);
      if (handle === 0) return callback(ENOENT);
      const work = handle === undefined ? () => ops.truncate(path, size) : () => ops.ftruncate(path, handle, size);
      runner.run('truncate', path, work, done(callback), failTo(callback));
    },
    ftruncate: (path: string, handle: number, size: number, callback: Reply) =>
      runner.run('ftruncate', path, () => ops.ftruncate(path, handle, size), done(callback), failTo(callback)),
    unlink: (path: string, callback: Reply) => {
      if (openFiles.isHidden(path)) {
        // libfuse's own unlink of a hidden name after the last release: the file
        // system already unlinked the real name when libfuse hid it.
        openFiles.forgetHidden(path);
        return callback(0);
      }
      runner.run('unlink', path, () => ops.unlink(path), done(callback), failTo(callback));
    },
    rename: (from: string, to: string, callback: Reply) => {
      // libfuse hides an open file that is unlinked or renamed over by renaming it to a
      // fresh .fuse_hidden name; only open files are hidden.
      if (isHiddenName(to) && openFiles.hasOpen(from)) {
        return runner.run('unlink', from, () => ops.unlink(from), () => {
          openFiles.hid(from, to);
          callback(0);
        }, failTo(callback));
      }
      runner.run('rename', from, () => ops.rename(from, to), () => {
        openFiles.renamed(from, to);
        callback(0);
      }, failTo(callback));
    },
    link: (existingPath: string, newPath: string, callback: Reply) =>
      runner.run('link', existingPath, () => ops.link(existingPath, newPath), done(callback), failTo(callback)),
    symlink: (target: string, linkPath: string, callback: Reply) =>
      runner.run('symlink', linkPath, () => ops.symlink(target, linkPath), done(callback), failTo(callback)),
    readlink: (path: string, callback: Reply) =>
      runner.run('readlink', path, () => ops.readlink(path), (target) => {
        assert(typeof target === 'string', 'readlink must return a string');
        callback(0, target);
      }, failTo(callback)),
    chmod: (path: string, mode: number, callback: Reply) =>
      runner.run('chmod', path, () => ops.chmod(path, mode), done(callback), failTo(callback)),
    chown: (path: string, uid: number, gid: number, callback: Reply) =>
      runner.run('chown', path, () => ops.chown(path, idFromBinding(uid), idFromBinding(gid)), done(callback), failTo(callback)),
    utimens: (path: string, atimeMs: number, mtimeMs: number, callback: Reply) =>
      runner.run('utimens', path, () => ops.utimens(path, msToNs(timeFromBinding(atimeMs)), msToNs(timeFromBinding(mtimeMs))), done(callback), failTo(callback)),
  };
  if (ops.access !== undefined) {
    const access = ops.access.bind(ops);
    callbacks.access = (path: string, mode: number, callback: Reply) =>
      runner.run('access', path, () => access(path, mode), done(callback), failTo(callback));
  }
  if (ops.setxattr !== undefined) {
    const setxattr = ops.setxattr.bind(ops);
    callbacks.setxattr = (path: string, name: string, value: Buffer, _position: number, flags: number, callback: Reply) =>
      runner.run('setxattr', path, () => setxattr(path, name, value, flags), done(callback), failTo(callback));
  }
  if (ops.removexattr !== undefined) {
    const removexattr = ops.removexattr.bind(ops);
    callbacks.removexattr = (path: string, name: string, callback: Reply) =>
      runner.run('removexattr', path, () => removexattr(path, name), done(callback), failTo(callback));
  }
  const getxattr = ops.getxattr?.bind(ops);
  const listxattr = ops.listxattr?.bind(ops);
  if (getxattr !== undefined) callbacks.getxattr = () => assert(false, 'fuse-native called getxattr instead of the override');
  if (listxattr !== undefined) callbacks.listxattr = () => assert(false, 'fuse-native called listxattr instead of the override');

  return {
    callbacks,
    install(fuse: NativeFuse): void {
      // fuse-native's own handlers: fgetattr drops the handle (it calls getattr(path)),
      // getxattr and listxattr overrun a buffer that is too small instead of ERANGE.
      // Each override must pass the kernel buffer back to `signal`, which detaches it.
      fuse._op_getattr = getattr;
      fuse._op_fgetattr = (signal, path, handle) =>
        runner.run('fgetattr', path, () => ops.fgetattr(path, handle), (stat) => signal(0, nativeStat(stat)), (errnoNumber) => signal(errnoNumber));
      if (getxattr !== undefined) {
        fuse._op_getxattr = (signal, path, name, value) =>
          runner.run('getxattr', path, () => getxattr(path, name), (data) => {
            assert(data instanceof Uint8Array, 'getxattr must return bytes');
            if (value.length === 0) return signal(data.length, value.buffer);
            if (data.length > value.length) return signal(ERANGE, value.buffer);
            value.set(data, 0);
            signal(data.length, value.buffer);
          }, (errnoNumber) => signal(errnoNumber, value.buffer));
      }
      if (listxattr !== undefined) {
        fuse._op_listxattr = (signal, path, list) =>
          runner.run('listxattr', path, () => listxattr(path), (names) => {
            const encoded = Buffer.concat(names.map((name) => Buffer.from(`${name}\0`)));
            if (list.length === 0) return signal(encoded.length, list.buffer);
            if (encoded.length > list.length) return signal(ERANGE, list.buffer);
            list.set(encoded, 0);
            signal(encoded.length, list.buffer);
          }, (errnoNumber) => signal(errnoNumber, list.buffer));
      }
    },
  };
}

// ---------------------------------------------------------------- mount and unmount

async function allowOtherPermitted(): Promise<boolean> {
  if (process.getuid?.() === 0) return true;
  try {
    return /^\s*user_allow_other\s*$/m.test(await readFile('/etc/fuse.conf', 'utf8'));
  } catch {
    return false;
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer after ${timeoutMs} ms`)), timeoutMs);
    promise.then((value) => {
      clearTimeout(timer);
      resolvePromise(value);
    }, (error: unknown) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Mounts `operations` at `mountPoint` (an existing empty directory). A stale mount left
 * there by a dead server is lazily unmounted first; a live one is an error. Resolves
 * once the kernel has sent INIT, so the mount is usable. Serve it from a process that
 * does not itself use the mount: operations run on this process's JS thread, so a
 * synchronous access from here deadlocks.
 */
export async function mount(mountPoint: string, operations: FuseOperations, options: FuseMountOptions = {}): Promise<FuseMount> {
  const absolute = resolve(mountPoint);
  const backend = chooseBackend(options.backend);
  // fuse-native unmounts through a shell command with the path in double quotes.
  if (backend === 'fuse-native') assert(!/[$`\\"\n]/.test(absolute), `mount ${absolute}: the mount point may not contain $, \`, \\, " or a newline`);

  const state = await mountState(absolute);
  if (state === 'stale') await fusermountUnmount(absolute, true);
  else if (state === 'mounted') throw new Error(`mount ${absolute}: something is already mounted there`);
  const info = await stat(absolute);
  if (!info.isDirectory()) throw new Error(`mount ${absolute}: not a directory`);

  const resolved = resolveMountOptions(options, await allowOtherPermitted());
  const runner = new OperationRunner(options.operationTimeoutMs ?? 60_000, options.onUnexpectedError ?? defaultUnexpectedError);
  const mountTimeoutMs = options.mountTimeoutMs ?? 15_000;

  await operations.init?.();
  let started: Started;
  try {
    started = backend === 'kernel'
      ? await startKernelSession(absolute, operations, runner, resolved, mountTimeoutMs, options.onUnexpectedError ?? defaultUnexpectedError)
      : await startFuseNative(absolute, operations, runner, resolved, mountTimeoutMs);
  } catch (error) {
    if ((await findMount(absolute)) !== undefined) await fusermountUnmount(absolute, true).catch(() => undefined);
    await operations.destroy?.();
    throw new Error(`mount ${absolute}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }

  const unmountTimeoutMs = options.unmountTimeoutMs ?? 15_000;
  let closing: Promise<void> | undefined;
  let resolveClosed!: (by: ClosedBy) => void;
  const closed = new Promise<ClosedBy>((resolvePromise) => (resolveClosed = resolvePromise));
  const close = (by: ClosedBy): Promise<void> => {
    closing ??= (async () => {
      clearInterval(watcher);
      try {
        await withTimeout(started.stop(unmountTimeoutMs), unmountTimeoutMs, `unmount ${absolute}`);
        if (!(await waitUntilUnmounted(absolute, unmountTimeoutMs))) throw new Error(`unmount ${absolute}: still listed in /proc/mounts after ${unmountTimeoutMs} ms`);
      } finally {
        try {
          await operations.destroy?.();
        } finally {
          resolveClosed(by);
        }
      }
    })();
    return closing;
  };
  // Someone else unmounted it (fusermount -u, umount): clean up and settle `closed`.
  const watcher = setInterval(() => {
    void findMount(absolute).then((entry) => {
      if (entry === undefined && closing === undefined) void close('unmounted-externally').catch(() => undefined);
    }, () => undefined);
  }, options.watchIntervalMs ?? 1000);
  watcher.unref();
  // The kernel session hears of an unmount at once (its reads fail with ENODEV).
  void started.ended?.then(() => {
    if (closing === undefined) void close('unmounted-externally').catch(() => undefined);
  });

  return { mountPoint: absolute, optionString: started.optionString, backend, closed, unmount: () => close('unmounted') };
}

/** A running mount of one backend. */
interface Started {
  readonly optionString: string;
  /** Settles when the kernel ended the session (the kernel backend only). */
  readonly ended?: Promise<unknown>;
  /** Unmounts (lazily) and ends the session. */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * 'kernel' when asked, or for 'auto' (the default) when this process may mount through
 * /dev/fuse itself (root); 'fuse-native' otherwise. ATOLL_FUSE_BACKEND, when set,
 * decides for 'auto'.
 */
export function chooseBackend(asked: FuseBackend | 'auto' = 'auto'): FuseBackend {
  const wanted = asked === 'auto' ? process.env.ATOLL_FUSE_BACKEND ?? 'auto' : asked;
  if (wanted === 'kernel' || wanted === 'fuse-native') return wanted;
  assert(wanted === 'auto', () => `fuse backend ${JSON.stringify(wanted)}: expected kernel, fuse-native or auto`);
  return kernelMountPossible() ? 'kernel' : 'fuse-native';
}

async function startKernelSession(absolute: string, operations: FuseOperations, runner: OperationRunner, resolved: ResolvedMountOptions, mountTimeoutMs: number, report: (report: UnexpectedErrorReport) => void): Promise<Started> {
  const channel = new DeviceChannel();
  const session = new KernelSession(channel, operations, runner, {
    entryTimeoutSeconds: resolved.entryTimeoutSeconds,
    attrTimeoutSeconds: resolved.attrTimeoutSeconds,
    negativeTimeoutSeconds: resolved.negativeTimeoutSeconds,
    maxWriteBytes: resolved.bigWrites ? resolved.maxWriteBytes : 4096,
    onProtocolError: (error) => report({ operation: 'fuse protocol', path: absolute, error }),
  });
  const request = { mountPoint: absolute, fsName: resolved.fsName, subtype: resolved.subtype, defaultPermissions: resolved.defaultPermissions, allowOther: resolved.allowOther, timeoutMs: mountTimeoutMs };
  try {
    await mountDevice(channel.fd, request);
    session.start();
    await withTimeout(Promise.race([session.initialized, session.ended.then((reason) => Promise.reject(new Error(`the session ended before INIT: ${reason}`)))]), mountTimeoutMs, 'the kernel\'s INIT');
  } catch (error) {
    session.stop('mount failed');
    channel.close();
    throw error;
  }
  // Larger read requests (the kernel's default read-ahead, 128 KiB, caps them): fewer
  // rounds through FUSE for sequential reads. Not under fuse-native (libfuse 2's one
  // thread): AtollFS read 28 MB/s with 1 MiB there instead of 155 with 128 KiB.
  if (resolved.readAheadBytes > 0) {
    await setReadAhead(absolute, resolved.readAheadBytes).catch((error: unknown) => report({ operation: 'set read-ahead', path: absolute, error }));
  }
  return {
    optionString: mountArguments(request, process.getuid?.() ?? 0, process.getgid?.() ?? 0).join(' '),
    ended: session.ended,
    async stop(timeoutMs: number): Promise<void> {
      if ((await findMount(absolute)) !== undefined) await fusermountUnmount(absolute, true);
      // The kernel ends the connection once no file on the mount is in use; a file still
      // open elsewhere keeps it until this process exits (its reads hold the device).
      await Promise.race([session.ended, delay(Math.min(timeoutMs, sessionEndWaitMs), undefined)]);
      session.stop('unmounted');
      channel.close();
    },
  };
}

async function startFuseNative(absolute: string, operations: FuseOperations, runner: OperationRunner, resolved: ResolvedMountOptions, mountTimeoutMs: number): Promise<Started> {
  const { Fuse, native } = loadBinding();
  const optionString = mountOptionString(resolved);
  const openFiles = new OpenFiles();
  const { callbacks, install } = adapt(operations, runner, openFiles);
  // timeout: false: the adapter bounds operations itself (fuse-native's own timeout
  // answers while the operation may still write into the kernel's buffer).
  const fuse = new Fuse(absolute, callbacks, { fsname: optionString, timeout: false });
  install(fuse);
  fuse._close = (callback) => {
    // fuse-native's own close runs `fusermount -uz` through a shell and skips the
    // native clean-up when the mount is already gone (unmounted from outside).
    void (async () => {
      if ((await findMount(absolute)) !== undefined) await fusermountUnmount(absolute, true);
      native.fuse_native_unmount(absolute, fuse._thread!);
    })().then(() => callback(null), (error: unknown) => callback(error as Error));
  };
  await withTimeout(new Promise<void>((resolvePromise, reject) => fuse.mount((error) => (error ? reject(error) : resolvePromise()))), mountTimeoutMs, `mount ${absolute}`);
  return {
    optionString,
    stop: () => new Promise<void>((resolvePromise, reject) => fuse.unmount((error) => (error ? reject(error) : resolvePromise()))),
  };
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolvePromise) => setTimeout(() => resolvePromise(value), ms).unref());
}

/**
 * Unmounts whatever FUSE file system is at `mountPoint`, from any process (the one
 * serving it notices and cleans up). `lazy`: detach even while files are in use.
 */
export async function unmount(mountPoint: string, options: { lazy?: boolean } = {}): Promise<void> {
  await fusermountUnmount(mountPoint, options.lazy ?? false);
}

/**
 * Unmounts on the first of `signals` (default SIGINT and SIGTERM), then calls
 * `onUnmounted` (typically to exit). Returns a function that removes the handlers.
 */
export function unmountOnSignals(fuseMount: FuseMount, onUnmounted: (signal: NodeJS.Signals, error?: unknown) => void, signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): () => void {
  let received = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (received) return;
    received = true;
    fuseMount.unmount().then(() => onUnmounted(signal), (error: unknown) => onUnmounted(signal, error));
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}
