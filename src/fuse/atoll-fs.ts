// AtollFS under a FUSE mount: the operations of binding.ts on a Volume of the SDK
// (src/client). Paths resolve through the SDK's name and attribute caches; open files are
// SDK file handles (write-behind, read-ahead, sessions), numbered for the kernel. An
// operation that carries a handle works by the handle, so an open file that was unlinked
// (its path is then its old path, or a libfuse hidden name) keeps reading and writing.
//
// The kernel applies the caller's umask before create and mkdir, so the Volume is opened
// with umask 0. Permissions are checked by the kernel (default_permissions) from what
// getattr answers; new files belong to the caller under the kernel session, to the
// mounting process under fuse-native (which does not pass the caller's uid and gid).
import { constants } from 'node:fs';
import { isAtollError, StatusCode } from '../errors/index.js';
import type { Owner, FileHandle as SdkHandle, Stats, Volume } from '../client/index.js';
import type { FileHandle, FileStat, FileSystemStats, FuseOperations, HandleAttrs, RequestContext } from './binding.js';
import { fuseError } from './errno.js';
import { nsToTimeSpec, timeSpecToNs } from './times.js';

const handleMax = 2 ** 31 - 1;

export class AtollFileSystem implements FuseOperations {
  readonly #handles = new Map<FileHandle, SdkHandle>();
  #nextHandle = 1;

  constructor(private readonly volume: Volume) {}

  /** Open handles (for status and tests). */
  get openHandles(): number {
    return this.#handles.size;
  }

  async destroy(): Promise<void> {
    await Promise.allSettled([...this.#handles.values()].map((handle) => handle.close()));
    this.#handles.clear();
  }

  async statfs(): Promise<FileSystemStats> {
    const statfs = await this.volume.statfs();
    return {
      totalBytes: statfs.capacityBytes,
      freeBytes: Math.max(0, statfs.capacityBytes - statfs.usedBytes),
      availableBytes: Math.max(0, statfs.capacityBytes - statfs.usedBytes),
      totalFiles: statfs.files,
      freeFiles: statfs.ffree,
    };
  }

  async getattr(path: string): Promise<FileStat> {
    return fileStat(await this.volume.lstat(path));
  }

  async fgetattr(_path: string, handle: FileHandle): Promise<FileStat> {
    return fileStat(await this.#handle(handle).stat());
  }

  async readdir(path: string): Promise<readonly string[]> {
    // readdirplus fills the SDK's caches, so the getattr calls of `ls -l` that follow are local.
    return (await this.volume.readdirPlus(path)).map((entry) => entry.name);
  }

  async mkdir(path: string, mode: number, context?: RequestContext): Promise<void> {
    await this.volume.mkdir(path, { mode: mode & 0o7777, owner: ownerOf(context) });
  }

  async rmdir(path: string): Promise<void> {
    await this.volume.rmdir(path);
  }

  async create(path: string, mode: number, context?: RequestContext): Promise<FileHandle> {
    return this.#register(await this.volume.createFile(path, mode & 0o7777, ownerOf(context)));
  }

  async open(path: string, flags: number): Promise<FileHandle> {
    // libfuse 2 sends O_TRUNC as a truncate before the open, and O_CREAT as create.
    return this.#register(await this.volume.open(path, flags & ~(constants.O_CREAT | constants.O_EXCL | constants.O_TRUNC)));
  }

  read(_path: string, handle: FileHandle, length: number, position: number): Promise<Uint8Array> {
    return this.#handle(handle).readAt(position, length);
  }

  write(_path: string, handle: FileHandle, data: Buffer, position: number): Promise<number> {
    return this.#handle(handle).writeAt(data, position);
  }

  flush(_path: string, handle: FileHandle): Promise<void> {
    return this.#handle(handle).flush();
  }

  fsync(_path: string, handle: FileHandle): Promise<void> {
    return this.#handle(handle).sync();
  }

  async release(_path: string, handle: FileHandle): Promise<void> {
    const open = this.#handles.get(handle);
    if (open === undefined) return;
    this.#handles.delete(handle);
    await open.close();
  }

  async truncate(path: string, size: number): Promise<void> {
    await this.volume.truncate(path, size);
  }

  async ftruncate(_path: string, handle: FileHandle, size: number): Promise<void> {
    await this.volume.setattrInode(this.#handle(handle).ino, { size });
  }

  async unlink(path: string): Promise<void> {
    await this.volume.unlink(path);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.volume.rename(from, to);
  }

  async link(existingPath: string, newPath: string): Promise<void> {
    await this.volume.link(existingPath, newPath);
  }

  async symlink(target: string, linkPath: string, context?: RequestContext): Promise<void> {
    await this.volume.symlink(target, linkPath, ownerOf(context));
  }

  readlink(path: string): Promise<string> {
    return this.volume.readlink(path);
  }

  async chmod(path: string, mode: number): Promise<void> {
    await this.volume.chmod(path, mode & 0o7777);
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    await this.volume.lchown(path, uid, gid);
  }

  async utimens(path: string, atimeNs: bigint | undefined, mtimeNs: bigint | undefined): Promise<void> {
    // The node itself (a symbolic link is not followed): the kernel resolved the path.
    const ino = await this.volume.resolve(path, false);
    await this.volume.setattrInode(ino, { atime: atimeNs === undefined ? undefined : nsToTimeSpec(atimeNs), mtime: mtimeNs === undefined ? undefined : nsToTimeSpec(mtimeNs) });
  }

  async fsetattr(_path: string, handle: FileHandle, attrs: HandleAttrs): Promise<void> {
    // By the open handle's inode: an unlinked open file has no path, the inode lives on.
    await this.volume.setattrInode(this.#handle(handle).ino, {
      ...(attrs.mode !== undefined ? { mode: attrs.mode & 0o7777 } : {}),
      ...(attrs.uid !== undefined ? { uid: attrs.uid } : {}),
      ...(attrs.gid !== undefined ? { gid: attrs.gid } : {}),
      ...(attrs.atimeNs !== undefined ? { atime: nsToTimeSpec(attrs.atimeNs) } : {}),
      ...(attrs.mtimeNs !== undefined ? { mtime: nsToTimeSpec(attrs.mtimeNs) } : {}),
    });
  }

  async getxattr(path: string, name: string): Promise<Uint8Array> {
    await this.volume.resolve(path);
    return noData(this.volume.getxattr(path, name));
  }

  async setxattr(path: string, name: string, value: Buffer, flags: number): Promise<void> {
    await this.volume.resolve(path);
    await noData(this.volume.setxattr(path, name, value, flags === 1 ? 'create' : flags === 2 ? 'replace' : 'any'));
  }

  async listxattr(path: string): Promise<readonly string[]> {
    return this.volume.listxattr(path);
  }

  async removexattr(path: string, name: string): Promise<void> {
    await this.volume.resolve(path);
    await noData(this.volume.removexattr(path, name));
  }

  #register(handle: SdkHandle): FileHandle {
    // Bounded: the SDK caps open handles far below 2^31, so a free number is found.
    for (let tries = 0; tries <= this.#handles.size; tries++) {
      const number = this.#nextHandle;
      this.#nextHandle = number >= handleMax ? 1 : number + 1;
      if (!this.#handles.has(number)) {
        this.#handles.set(number, handle);
        return number;
      }
    }
    throw fuseError('EMFILE', 'no free file handle number');
  }

  #handle(handle: FileHandle): SdkHandle {
    const open = this.#handles.get(handle);
    if (open === undefined) throw fuseError('EBADF', `no open file with handle ${handle}`);
    return open;
  }
}

function fileStat(stats: Stats): FileStat {
  return {
    mode: stats.mode,
    uid: stats.uid,
    gid: stats.gid,
    size: stats.size,
    nlink: stats.nlink,
    ino: stats.ino,
    rdev: stats.rdev,
    blocks: stats.blocks,
    atimeMs: stats.atimeMs,
    mtimeMs: stats.mtimeMs,
    ctimeMs: stats.ctimeMs,
    atimeNs: timeSpecToNs(stats.atimeSpec),
    mtimeNs: timeSpecToNs(stats.mtimeSpec),
    ctimeNs: timeSpecToNs(stats.ctimeSpec),
  };
}

/** New inodes belong to the caller when the binding says who it is, else to the mounter. */
function ownerOf(context: RequestContext | undefined): Owner | undefined {
  return context === undefined ? undefined : { uid: context.uid, gid: context.gid };
}

/** An absent attribute is ENODATA for xattr calls (the path itself was just resolved). */
async function noData<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (isAtollError(error, StatusCode.NOT_FOUND)) throw fuseError('ENODATA', (error as Error).message);
    throw error;
  }
}
