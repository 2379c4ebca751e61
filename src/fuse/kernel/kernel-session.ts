// A FUSE session spoken directly with the kernel over /dev/fuse, without libfuse: requests
// are read into buffers, decoded (protocol.ts), answered by the path-based
// `FuseOperations` through the node table (node-table.ts), and the replies written back.
// The I/O is injected (`KernelChannel`), so tests drive a session with made-up requests;
// kernel-mount.ts gives it the real device.
//
// What this gives over fuse-native and libfuse 2 (README.md): both times of a utimens,
// nanoseconds, the caller's uid and gid, 64-bit inode numbers in stat, 1 MiB writes,
// directory listings read in pages, an unlinked open file kept by its node (no hidden
// names), and every operation answered on the event loop without blocking a thread per
// request.
import { assert } from '../../errors/index.js';
import type { FileHandle, FileStat, FileSystemStats, FuseOperations, OperationRunner, RequestContext } from '../binding.js';
import { errnoOfName } from '../errno.js';
import { msToNs } from '../times.js';
import { NodeTable } from './node-table.js';
import {
  BodyReader,
  InitFlag,
  Opcode,
  ProtocolError,
  SetattrValid,
  attrOutBytes,
  decodeHeader,
  decodeInit,
  decodeRead,
  decodeSetattr,
  decodeWrite,
  direntBytes,
  encodeAttrOut,
  encodeDirent,
  encodeEntryOut,
  encodeInitOut,
  encodeOpenOut,
  encodeOutHeader,
  encodeSizeOut,
  encodeStatfsOut,
  entryOutBytes,
  fsyncFlagDataOnly,
  getattrFlagFh,
  inHeaderBytes,
  kernelMinorMin,
  opcodeNames,
  openOutBytes,
  outHeaderBytes,
  protocolMajor,
  protocolMinor,
  unknownIno,
  type KernelAttr,
  type RequestHeader,
} from './protocol.js';

/** The device, as the session uses it. */
export interface KernelChannel {
  /** Reads one request into `buffer`; calls back with its length, or an error with a `code`. */
  read(buffer: Buffer, callback: (error: NodeJS.ErrnoException | null, bytes: number) => void): void;
  /** Writes one reply whole; throws an error with a `code` when the kernel refuses it. */
  write(parts: readonly Buffer[]): void;
}

export interface KernelSessionOptions {
  readonly entryTimeoutSeconds: number;
  readonly attrTimeoutSeconds: number;
  /** How long the kernel may remember that a name does not exist; 0: not at all. */
  readonly negativeTimeoutSeconds?: number;
  /** Largest write the kernel sends; the read buffers hold one plus its header. */
  readonly maxWriteBytes: number;
  /** Reads waiting on the device at once (each holds a thread of libuv's pool). Default 2. */
  readonly readsInFlight?: number;
  /** Replies the kernel refused or requests it sent that could not be decoded. */
  readonly onProtocolError?: (error: Error) => void;
}

const errno = (name: string): number => -errnoOfName(name)!;
const ENOENT = errno('ENOENT');
const ENOSYS = errno('ENOSYS');
const EINVAL = errno('EINVAL');
const EIO = errno('EIO');
const ERANGE = errno('ERANGE');
const EPROTO = errno('EPROTO');

const defaultBlockSizeBytes = 128 * 1024;
const statfsBlockBytes = 4096;
const pageBytes = 4096;
const maxBackground = 64;
const congestionThreshold = 48;
/** Room for the request header and the largest fixed body before a write's data. */
const requestOverheadBytes = 4096;
const handleMax = 0x7fff_ffff;

interface DirectoryListing {
  names: Buffer[];
  /** Offset 0 was served: a later offset 0 (rewinddir) reads the directory again. */
  served: boolean;
  readonly path: string;
}

/** A file system's stat as the kernel takes it; the node id stands in for a missing ino. */
export function kernelAttr(stat: FileStat, nodeId: number): KernelAttr {
  return {
    ino: stat.ino ?? nodeId,
    size: stat.size,
    blocks: stat.blocks ?? Math.ceil(stat.size / 512),
    atimeNs: stat.atimeNs ?? msToNs(stat.atimeMs),
    mtimeNs: stat.mtimeNs ?? msToNs(stat.mtimeMs),
    ctimeNs: stat.ctimeNs ?? msToNs(stat.ctimeMs),
    mode: stat.mode,
    nlink: stat.nlink,
    uid: stat.uid,
    gid: stat.gid,
    rdev: stat.rdev ?? 0,
    blksize: stat.blksize ?? defaultBlockSizeBytes,
  };
}

function handleOf(fh: bigint): FileHandle {
  // Only handles we gave out come back; a bad one is the kernel's or our bug.
  if (fh < 1n || fh > BigInt(handleMax)) throw new ProtocolError(`file handle ${fh} was never given out`);
  return Number(fh);
}

export class KernelSession {
  readonly table = new NodeTable();
  readonly #channel: KernelChannel;
  readonly #ops: FuseOperations;
  readonly #runner: OperationRunner;
  readonly #options: KernelSessionOptions;
  readonly #bufferBytes: number;
  readonly #freeBuffers: Buffer[] = [];
  readonly #directories = new Map<bigint, DirectoryListing>();
  #nextDirectoryHandle = 1n;
  #readsInFlight = 0;
  #ending = false;
  #initialized = false;
  #resolveInitialized!: () => void;
  #resolveEnded!: (reason: string) => void;
  /** Settles when the kernel sent INIT and was answered. */
  readonly initialized: Promise<void>;
  /** Settles when the kernel ended the connection (unmounted) or the session was stopped. */
  readonly ended: Promise<string>;

  constructor(channel: KernelChannel, ops: FuseOperations, runner: OperationRunner, options: KernelSessionOptions) {
    assert(Number.isInteger(options.maxWriteBytes) && options.maxWriteBytes >= pageBytes, 'kernel session: maxWriteBytes must be an integer of at least 4096');
    this.#channel = channel;
    this.#ops = ops;
    this.#runner = runner;
    this.#options = options;
    this.#bufferBytes = options.maxWriteBytes + requestOverheadBytes;
    this.initialized = new Promise((resolve) => (this.#resolveInitialized = resolve));
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
  }

  /** Starts reading requests. */
  start(): void {
    const reads = this.#options.readsInFlight ?? 2;
    for (let index = 0; index < reads; index++) this.#readNext();
  }

  /** Stops taking requests (the device is closed by the caller). */
  stop(reason = 'stopped'): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#resolveEnded(reason);
  }

  // ------------------------------------------------------------ reading

  #takeBuffer(): Buffer {
    return this.#freeBuffers.pop() ?? Buffer.allocUnsafe(this.#bufferBytes);
  }

  #giveBack(buffer: Buffer): void {
    if (this.#freeBuffers.length < (this.#options.readsInFlight ?? 2) * 4) this.#freeBuffers.push(buffer);
  }

  #readNext(): void {
    if (this.#ending) return;
    const buffer = this.#takeBuffer();
    this.#readsInFlight++;
    this.#channel.read(buffer, (error, bytes) => {
      this.#readsInFlight--;
      if (error !== null) {
        this.#giveBack(buffer);
        // ENODEV: unmounted. EINTR, EAGAIN: read again. ENOENT: a request interrupted
        // before it was read.
        if (error.code === 'ENODEV') return this.stop('unmounted');
        if (error.code === 'EINTR' || error.code === 'EAGAIN' || error.code === 'ENOENT') return this.#readNext();
        this.#options.onProtocolError?.(error);
        return this.stop(`read failed: ${error.code ?? error.message}`);
      }
      // The next read waits on the device while this request is served.
      this.#readNext();
      let keep = false;
      try {
        keep = this.#dispatch(buffer, bytes);
      } catch (caught) {
        this.#options.onProtocolError?.(caught as Error);
      } finally {
        if (!keep) this.#giveBack(buffer);
      }
    });
  }

  // ------------------------------------------------------------ replies

  /** Writes a reply; false when the kernel no longer wants it (interrupted, unmounted). */
  #send(unique: bigint, error: number, parts: readonly Buffer[] = []): boolean {
    if (this.#ending) return false;
    let length = outHeaderBytes;
    for (const part of parts) length += part.length;
    try {
      this.#channel.write([encodeOutHeader(length, error, unique), ...parts]);
      return true;
    } catch (caught) {
      const code = (caught as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENODEV') this.#options.onProtocolError?.(caught as Error);
      return false;
    }
  }

  #fail(unique: bigint): (errnoNumber: number) => void {
    return (errnoNumber) => void this.#send(unique, errnoNumber);
  }

  #ok(unique: bigint): () => void {
    return () => void this.#send(unique, 0);
  }

  #replyEntry(header: RequestHeader, parent: number, name: string, stat: FileStat, extra: readonly Buffer[] = []): number {
    const nodeId = this.table.lookedUp(parent, name, stat.ino);
    const entry = Buffer.allocUnsafe(entryOutBytes);
    encodeEntryOut(entry, 0, nodeId, kernelAttr(stat, nodeId), this.#options.entryTimeoutSeconds, this.#options.attrTimeoutSeconds);
    // The kernel did not take the entry: it holds no lookup for it.
    if (!this.#send(header.unique, 0, [entry, ...extra])) this.table.forget(nodeId, 1);
    return nodeId;
  }

  #replyAttr(unique: bigint, stat: FileStat, nodeId: number): void {
    const out = Buffer.allocUnsafe(attrOutBytes);
    encodeAttrOut(out, 0, kernelAttr(stat, nodeId), this.#options.attrTimeoutSeconds);
    this.#send(unique, 0, [out]);
  }

  // ------------------------------------------------------------ requests

  /** Serves one request; true when `buffer` must be kept until the answer (a write's data). */
  #dispatch(buffer: Buffer, bytes: number): boolean {
    let header: RequestHeader;
    try {
      header = decodeHeader(buffer, bytes);
    } catch (error) {
      // Without a header there is nobody to answer.
      this.#options.onProtocolError?.(error as Error);
      return false;
    }
    const body = new BodyReader(buffer, inHeaderBytes, bytes);
    try {
      return this.#serve(header, body, buffer);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#options.onProtocolError?.(new ProtocolError(`${opcodeNames.get(header.opcode) ?? header.opcode}: ${error.message}`));
      this.#send(header.unique, EINVAL);
      return false;
    }
  }

  #serve(header: RequestHeader, body: BodyReader, buffer: Buffer): boolean {
    const { opcode, unique, nodeId } = header;
    if (!this.#initialized && opcode !== Opcode.INIT) {
      this.#send(unique, EIO);
      return false;
    }
    const ops = this.#ops;
    const runner = this.#runner;
    const fail = this.#fail(unique);
    const ok = this.#ok(unique);
    const context: RequestContext = { uid: header.uid, gid: header.gid, pid: header.pid };
    const pathOf = (id: number): string | undefined => this.table.path(id);
    const noPath = (): false => {
      this.#send(unique, ENOENT);
      return false;
    };
    // The file system has no such operation: the kernel stops asking (xattrs: EOPNOTSUPP).
    const unsupported = (): false => {
      this.#send(unique, ENOSYS);
      return false;
    };

    switch (opcode) {
      case Opcode.INIT: {
        this.#init(unique, decodeInit(body));
        return false;
      }
      case Opcode.DESTROY: {
        this.#send(unique, 0);
        this.stop('destroyed');
        return false;
      }
      case Opcode.INTERRUPT:
        // Operations are not cancelled; the answer comes when it is ready.
        return false;
      case Opcode.FORGET: {
        this.table.forget(nodeId, body.u64());
        return false;
      }
      case Opcode.BATCH_FORGET: {
        const count = body.u32();
        body.skip(4);
        for (let index = 0; index < count; index++) {
          const id = body.u64();
          this.table.forget(id, body.u64());
        }
        return false;
      }
      case Opcode.LOOKUP: {
        const name = body.name();
        const path = this.table.childPath(nodeId, name);
        if (path === undefined) return noPath();
        const negativeSeconds = this.#options.negativeTimeoutSeconds ?? 0;
        runner.run('lookup', path, () => ops.getattr(path), (stat) => void this.#replyEntry(header, nodeId, name, stat), (errnoNumber) => {
          if (errnoNumber !== ENOENT || negativeSeconds <= 0) return fail(errnoNumber);
          // Node id 0 with a validity: the kernel caches the absence.
          const entry = Buffer.alloc(entryOutBytes);
          encodeEntryOut(entry, 0, 0, emptyAttr, negativeSeconds, 0);
          this.#send(unique, 0, [entry]);
        });
        return false;
      }
      case Opcode.GETATTR: {
        const flags = body.u32();
        body.skip(4);
        const fh = body.u64Big();
        const path = pathOf(nodeId);
        const handle = (flags & getattrFlagFh) !== 0 ? fh : path === undefined ? this.table.anyHandle(nodeId) : undefined;
        if (handle !== undefined) {
          const handlePath = this.table.pathForHandle(nodeId) ?? '';
          runner.run('fgetattr', handlePath, () => ops.fgetattr(handlePath, handleOf(handle)), (stat) => this.#replyAttr(unique, stat, nodeId), fail);
          return false;
        }
        if (path === undefined) return noPath();
        runner.run('getattr', path, () => ops.getattr(path), (stat) => this.#replyAttr(unique, stat, nodeId), fail);
        return false;
      }
      case Opcode.SETATTR: {
        this.#setattr(header, decodeSetattr(body));
        return false;
      }
      case Opcode.READLINK: {
        const path = pathOf(nodeId);
        if (path === undefined) return noPath();
        runner.run('readlink', path, () => ops.readlink(path), (target) => {
          assert(typeof target === 'string', 'readlink must return a string');
          this.#send(unique, 0, [Buffer.from(target)]);
        }, fail);
        return false;
      }
      case Opcode.SYMLINK: {
        const name = body.name();
        const target = body.name();
        const path = this.table.childPath(nodeId, name);
        if (path === undefined) return noPath();
        runner.run('symlink', path, async () => {
          await ops.symlink(target, path, context);
          return ops.getattr(path);
        }, (stat) => void this.#replyEntry(header, nodeId, name, stat), fail);
        return false;
      }
      case Opcode.MKDIR: {
        const mode = body.u32();
        body.skip(4); // umask: already applied by the kernel
        const name = body.name();
        const path = this.table.childPath(nodeId, name);
        if (path === undefined) return noPath();
        runner.run('mkdir', path, async () => {
          await ops.mkdir(path, mode, context);
          return ops.getattr(path);
        }, (stat) => void this.#replyEntry(header, nodeId, name, stat), fail);
        return false;
      }
      case Opcode.UNLINK:
      case Opcode.RMDIR: {
        const name = body.name();
        const path = this.table.childPath(nodeId, name);
        if (path === undefined) return noPath();
        const operation = opcode === Opcode.UNLINK ? 'unlink' : 'rmdir';
        runner.run(operation, path, () => (opcode === Opcode.UNLINK ? ops.unlink(path) : ops.rmdir(path)), () => {
          this.table.removed(nodeId, name);
          this.#send(unique, 0);
        }, fail);
        return false;
      }
      case Opcode.RENAME:
      case Opcode.RENAME2: {
        const newParent = body.u64();
        const flags = opcode === Opcode.RENAME2 ? body.u32() : 0;
        if (opcode === Opcode.RENAME2) body.skip(4);
        const name = body.name();
        const newName = body.name();
        // RENAME_NOREPLACE and RENAME_EXCHANGE are not offered by the file systems.
        if (flags !== 0) {
          this.#send(unique, EINVAL);
          return false;
        }
        const from = this.table.childPath(nodeId, name);
        const to = this.table.childPath(newParent, newName);
        if (from === undefined || to === undefined) return noPath();
        runner.run('rename', from, () => ops.rename(from, to), () => {
          this.table.renamed(nodeId, name, newParent, newName);
          this.#send(unique, 0);
        }, fail);
        return false;
      }
      case Opcode.LINK: {
        const oldNode = body.u64();
        const newName = body.name();
        const existing = pathOf(oldNode);
        const path = this.table.childPath(nodeId, newName);
        if (existing === undefined || path === undefined) return noPath();
        runner.run('link', path, async () => {
          await ops.link(existing, path);
          return ops.getattr(path);
        }, (stat) => void this.#replyEntry(header, nodeId, newName, stat), fail);
        return false;
      }
      case Opcode.OPEN: {
        const flags = body.u32();
        const path = pathOf(nodeId);
        if (path === undefined) return noPath();
        runner.run('open', path, () => ops.open(path, flags), (handle) => {
          const fh = BigInt(handleOf(BigInt(handle)));
          this.table.opened(nodeId, fh);
          const out = Buffer.allocUnsafe(openOutBytes);
          encodeOpenOut(out, 0, fh, 0);
          if (!this.#send(unique, 0, [out])) this.#releaseUnwanted(nodeId, path, fh);
        }, fail);
        return false;
      }
      case Opcode.CREATE: {
        body.skip(4); // flags: a create opens read-write
        const mode = body.u32();
        body.skip(8); // umask (applied by the kernel), open_flags
        const name = body.name();
        const path = this.table.childPath(nodeId, name);
        if (path === undefined) return noPath();
        runner.run('create', path, async () => {
          const handle = handleOf(BigInt(await ops.create(path, mode, context)));
          try {
            return { handle, stat: await ops.fgetattr(path, handle) };
          } catch (error) {
            await ops.release(path, handle);
            throw error;
          }
        }, ({ handle, stat }) => {
          const fh = BigInt(handle);
          const out = Buffer.allocUnsafe(openOutBytes);
          encodeOpenOut(out, 0, fh, 0);
          const created = this.#replyEntry(header, nodeId, name, stat, [out]);
          if (this.table.has(created)) this.table.opened(created, fh);
          else this.#releaseUnwanted(created, path, fh);
        }, fail);
        return false;
      }
      case Opcode.READ: {
        const read = decodeRead(body);
        const path = this.table.pathForHandle(nodeId) ?? '';
        runner.run('read', path, () => ops.read(path, handleOf(read.fh), read.size, read.offset), (data) => {
          assert(data instanceof Uint8Array && data.length <= read.size, () => `read returned ${data instanceof Uint8Array ? `${data.length} bytes` : typeof data}, asked for at most ${read.size}`);
          this.#send(unique, 0, [Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length)]);
        }, fail);
        return false;
      }
      case Opcode.WRITE: {
        const write = decodeWrite(body);
        const path = this.table.pathForHandle(nodeId) ?? '';
        let settled = false;
        const settle = (): void => {
          settled = true;
          this.#giveBack(buffer);
        };
        runner.run('write', path, () => ops.write(path, handleOf(write.fh), write.data, write.offset), (written) => {
          assert(Number.isInteger(written) && written >= 0 && written <= write.size, () => `write returned ${String(written)} for ${write.size} bytes`);
          settle();
          this.#send(unique, 0, [encodeSizeOut(written)]);
        }, (errnoNumber) => {
          settle();
          this.#send(unique, errnoNumber);
        });
        // A synchronous answer has already given the buffer back.
        return !settled;
      }
      case Opcode.STATFS: {
        runner.run('statfs', '/', () => ops.statfs('/'), (stats) => this.#send(unique, 0, [kernelStatfs(stats)]), fail);
        return false;
      }
      case Opcode.RELEASE: {
        const fh = body.u64Big();
        const path = this.table.pathForHandle(nodeId) ?? '';
        const handle = handleOf(fh);
        const released = (): void => {
          this.table.released(nodeId, fh);
          this.#send(unique, 0);
        };
        runner.run('release', path, () => ops.release(path, handle), released, released);
        return false;
      }
      case Opcode.FSYNC: {
        const fh = body.u64Big();
        const flags = body.u32();
        const path = this.table.pathForHandle(nodeId) ?? '';
        runner.run('fsync', path, () => ops.fsync(path, handleOf(fh), (flags & fsyncFlagDataOnly) !== 0), ok, fail);
        return false;
      }
      case Opcode.FLUSH: {
        const fh = body.u64Big();
        const path = this.table.pathForHandle(nodeId) ?? '';
        runner.run('flush', path, () => ops.flush(path, handleOf(fh)), ok, fail);
        return false;
      }
      case Opcode.SETXATTR: {
        const size = body.u32();
        const flags = body.u32();
        const name = body.name();
        // Copied: the file system may keep it, the buffer goes back to the pool.
        const value = Buffer.from(body.bytesOf(size));
        const path = pathOf(nodeId);
        if (path === undefined) return noPath();
        if (ops.setxattr === undefined) return unsupported();
        const setxattr = ops.setxattr.bind(ops);
        runner.run('setxattr', path, () => setxattr(path, name, value, flags), ok, fail);
        return false;
      }
      case Opcode.GETXATTR: {
        const size = body.u32();
        body.skip(4);
        const name = body.name();
        const path = pathOf(nodeId);
        if (path === undefined) return noPath();
        if (ops.getxattr === undefined) return unsupported();
        const getxattr = ops.getxattr.bind(ops);
        runner.run('getxattr', path, () => getxattr(path, name), (data) => {
          assert(data instanceof Uint8Array, 'getxattr must return bytes');
          this.#replySized(unique, size, Buffer.from(data.buffer, data.byteOffset, data.length));
        }, fail);
        return false;
      }
      case Opcode.LISTXATTR: {
        const size = body.u32();
        const path = pathOf(nodeId);
        if (path === undefined) return noPath();
        if (ops.listxattr === undefined) return unsupported();
        const listxattr = ops.listxattr.bind(ops);
        runner.run('listxattr', path, () => listxattr(path), (names) => {
          this.#replySized(unique, size, Buffer.concat(names.map((entry) => Buffer.from(`${entry}\0`))));
        }, fail);
        return false;
      }
      case Opcode.REMOVEXATTR: {
        const name = body.name();
        const path = pathOf(nodeId);
        if (path === undefined) return noPath();
        if (ops.removexattr === undefined) return unsupported();
        const removexattr = ops.removexattr.bind(ops);
        runner.run('removexattr', path, () => removexattr(path, name), ok, fail);
        return false;
      }
      case Opcode.ACCESS: {
        const mask = body.u32();
        const path = pathOf(nodeId);
        if (path === undefined) return noPath();
        if (ops.access === undefined) return unsupported();
        const access = ops.access.bind(ops);
        runner.run('access', path, () => access(path, mask), ok, fail);
        return false;
      }
      case Opcode.OPENDIR: {
        const path = pathOf(nodeId);
        if (path === undefined) return noPath();
        runner.run('readdir', path, () => ops.readdir(path), (names) => {
          const handle = this.#nextDirectoryHandle++;
          this.#directories.set(handle, { path, served: false, names: listing(names) });
          const out = Buffer.allocUnsafe(openOutBytes);
          encodeOpenOut(out, 0, handle, 0);
          if (!this.#send(unique, 0, [out])) this.#directories.delete(handle);
        }, fail);
        return false;
      }
      case Opcode.READDIR: {
        const read = decodeRead(body);
        const directory = this.#directories.get(read.fh);
        if (directory === undefined) throw new ProtocolError(`directory handle ${read.fh} is not open`);
        if (read.offset === 0 && directory.served) {
          runner.run('readdir', directory.path, () => ops.readdir(directory.path), (names) => {
            directory.names = listing(names);
            this.#readdirPage(unique, directory, read.offset, read.size);
          }, fail);
          return false;
        }
        this.#readdirPage(unique, directory, read.offset, read.size);
        return false;
      }
      case Opcode.RELEASEDIR: {
        this.#directories.delete(body.u64Big());
        this.#send(unique, 0);
        return false;
      }
      case Opcode.FSYNCDIR: {
        this.#send(unique, 0);
        return false;
      }
      default:
        this.#send(unique, ENOSYS);
        return false;
    }
  }

  #init(unique: bigint, init: { major: number; minor: number; maxReadahead: number; flags: number }): void {
    if (init.major !== protocolMajor || init.minor < kernelMinorMin) {
      this.#options.onProtocolError?.(new ProtocolError(`the kernel speaks FUSE ${init.major}.${init.minor}; this server needs ${protocolMajor}.${kernelMinorMin} or later`));
      this.#send(unique, EPROTO);
      this.stop('protocol version');
      return;
    }
    const wanted = InitFlag.ASYNC_READ | InitFlag.BIG_WRITES | InitFlag.MAX_PAGES | InitFlag.PARALLEL_DIROPS | InitFlag.AUTO_INVAL_DATA;
    const reply = encodeInitOut({
      minor: Math.min(protocolMinor, init.minor),
      maxReadahead: init.maxReadahead,
      flags: init.flags & wanted,
      maxBackground,
      congestionThreshold,
      maxWriteBytes: this.#options.maxWriteBytes,
      maxPages: Math.ceil(this.#options.maxWriteBytes / pageBytes),
    });
    this.#initialized = true;
    if (this.#send(unique, 0, [reply])) this.#resolveInitialized();
  }

  #setattr(header: RequestHeader, request: ReturnType<typeof decodeSetattr>): void {
    const { unique, nodeId } = header;
    const path = this.table.path(nodeId);
    const handleGiven = (request.valid & SetattrValid.FH) !== 0 ? handleOf(request.fh) : undefined;
    const anyHandle = this.table.anyHandle(nodeId);
    const handle = handleGiven ?? (path === undefined && anyHandle !== undefined ? Number(anyHandle) : undefined);
    if (path === undefined && handle === undefined) {
      this.#send(unique, ENOENT);
      return;
    }
    const target = path ?? this.table.pathForHandle(nodeId) ?? '';
    const ops = this.#ops;
    const valid = request.valid;
    const pathOnly = (valid & (SetattrValid.MODE | SetattrValid.UID | SetattrValid.GID | SetattrValid.ATIME | SetattrValid.MTIME)) !== 0;
    // chmod, chown and utimens of an unlinked open file go by a handle, when the file system can.
    const byHandle = path === undefined && pathOnly;
    if (byHandle && (handle === undefined || ops.fsetattr === undefined)) {
      this.#send(unique, ENOENT);
      return;
    }
    this.#runner.run('setattr', target, async () => {
      if ((valid & SetattrValid.SIZE) !== 0) {
        if (handle !== undefined) await ops.ftruncate(target, handle, request.size);
        else await ops.truncate(target, request.size);
      }
      const now = msToNs(Date.now());
      const atime = (valid & SetattrValid.ATIME_NOW) !== 0 ? now : (valid & SetattrValid.ATIME) !== 0 ? request.atimeNs : undefined;
      const mtime = (valid & SetattrValid.MTIME_NOW) !== 0 ? now : (valid & SetattrValid.MTIME) !== 0 ? request.mtimeNs : undefined;
      if (byHandle) {
        await ops.fsetattr!(target, handle!, {
          ...((valid & SetattrValid.MODE) !== 0 ? { mode: request.mode } : {}),
          ...((valid & SetattrValid.UID) !== 0 ? { uid: request.uid } : {}),
          ...((valid & SetattrValid.GID) !== 0 ? { gid: request.gid } : {}),
          ...(atime !== undefined ? { atimeNs: atime } : {}),
          ...(mtime !== undefined ? { mtimeNs: mtime } : {}),
        });
      } else {
        if ((valid & SetattrValid.MODE) !== 0) await ops.chmod(target, request.mode);
        if ((valid & (SetattrValid.UID | SetattrValid.GID)) !== 0) {
          await ops.chown(target, (valid & SetattrValid.UID) !== 0 ? request.uid : -1, (valid & SetattrValid.GID) !== 0 ? request.gid : -1);
        }
        if (atime !== undefined || mtime !== undefined) await ops.utimens(target, atime, mtime);
      }
      return handle !== undefined ? ops.fgetattr(target, handle) : ops.getattr(target);
    }, (stat) => this.#replyAttr(unique, stat, nodeId), this.#fail(unique));
  }

  /** An answer to a size-probing request (getxattr, listxattr): the size, the data or ERANGE. */
  #replySized(unique: bigint, size: number, data: Buffer): void {
    if (size === 0) this.#send(unique, 0, [encodeSizeOut(data.length)]);
    else if (data.length > size) this.#send(unique, ERANGE);
    else this.#send(unique, 0, [data]);
  }

  #readdirPage(unique: bigint, directory: DirectoryListing, offset: number, size: number): void {
    if (offset === 0) directory.served = true;
    const out = Buffer.allocUnsafe(size);
    let used = 0;
    for (let index = offset; index < directory.names.length; index++) {
      const name = directory.names[index]!;
      if (used + direntBytes(name.length) > size) break;
      used += encodeDirent(out, used, unknownIno, index + 1, name, 0);
    }
    this.#send(unique, 0, [out.subarray(0, used)]);
  }

  /** A handle the kernel never got (its open was interrupted): closed at once. */
  #releaseUnwanted(nodeId: number, path: string, fh: bigint): void {
    this.table.released(nodeId, fh);
    this.#runner.run('release', path, () => this.#ops.release(path, Number(fh)), () => undefined, () => undefined);
  }
}

const emptyAttr: KernelAttr = { ino: 0, size: 0, blocks: 0, atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n, mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: 0 };

function listing(names: readonly string[]): Buffer[] {
  return ['.', '..', ...names].map((name) => Buffer.from(name));
}

/** statfs in 4 KiB blocks (the kernel's counts are 64-bit). */
function kernelStatfs(stats: FileSystemStats): Buffer {
  const blocks = (bytes: number): number => Math.floor(Math.max(0, bytes) / statfsBlockBytes);
  return encodeStatfsOut({
    blocks: blocks(stats.totalBytes),
    blocksFree: blocks(stats.freeBytes),
    blocksAvailable: blocks(stats.availableBytes),
    files: stats.totalFiles,
    filesFree: stats.freeFiles,
    blockBytes: statfsBlockBytes,
    nameBytesMax: stats.nameBytesMax ?? 255,
  });
}
