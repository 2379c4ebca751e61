// A file system held in memory, on the same adapter as AtollFS's mount: files,
// directories, symlinks, hard links, xattrs, POSIX unlink-while-open. It does as little
// as it can, so a benchmark through it measures the FUSE binding's own ceiling
// (`bench:fs`); tests use it to check the adapter against real shell commands.
// Every answer is synchronous (no promise per operation).
import { constants } from 'node:fs';
import type { FileHandle, FileStat, FileSystemStats, FuseOperations, HandleAttrs, RequestContext } from './binding.js';
import { nsToMs } from './times.js';
import { fuseError } from './errno.js';

const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK } = constants;
const permissionBits = 0o7777;
const xattrCreate = 1;
const xattrReplace = 2;
const handleMax = 0x7fff_ffff;

export const memoryFsLimits = Object.freeze({
  chunkBytes: 1024 * 1024,
  nameBytesMax: 255,
  xattrValueBytesMax: 64 * 1024,
  directoryBytes: 4096,
});

export interface MemoryFsOptions {
  /** Capacity that statfs reports and writes may fill; past it ENOSPC. Default 8 GiB. */
  readonly bytesMax?: number;
  /** Inodes at most; past it ENOSPC. Default 4 Mi. */
  readonly inodesMax?: number;
  /** Owner of new inodes (fuse-native does not tell the caller's ids). Default this process's. */
  readonly uid?: number;
  readonly gid?: number;
  readonly now?: () => number;
}

interface Inode {
  readonly ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  openCount: number;
  // Regular files: fixed-size chunks, undefined for holes (read as zeros).
  chunks?: (Buffer | undefined)[];
  entries?: Map<string, Inode>;
  target?: string;
  xattrs?: Map<string, Buffer>;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((part) => part.length > 0);
}

export class MemoryFileSystem implements FuseOperations {
  private readonly bytesMax: number;
  private readonly inodesMax: number;
  private readonly uid: number;
  private readonly gid: number;
  private readonly now: () => number;
  private readonly root: Inode;
  private readonly handles = new Map<FileHandle, Inode>();
  private nextIno = 1;
  private nextHandle = 1;
  private inodeCount = 0;
  private usedBytes = 0;

  constructor(options: MemoryFsOptions = {}) {
    this.bytesMax = options.bytesMax ?? 8 * 1024 ** 3;
    this.inodesMax = options.inodesMax ?? 4 * 1024 * 1024;
    this.uid = options.uid ?? process.getuid?.() ?? 0;
    this.gid = options.gid ?? process.getgid?.() ?? 0;
    this.now = options.now ?? Date.now;
    this.root = this.newInode(S_IFDIR | 0o755);
    this.root.nlink = 2;
    this.root.entries = new Map();
  }

  /** Open handles and inodes, for tests that check nothing leaks. */
  counts(): { handles: number; inodes: number; usedBytes: number } {
    return { handles: this.handles.size, inodes: this.inodeCount, usedBytes: this.usedBytes };
  }

  // ------------------------------------------------------------ lookups

  /** A new inode, owned by the caller when the binding says who it is (else the mounter). */
  private newInode(mode: number, context?: RequestContext): Inode {
    if (this.inodeCount >= this.inodesMax) throw fuseError('ENOSPC', `memory fs: ${this.inodesMax} inodes in use`);
    const time = this.now();
    this.inodeCount++;
    return { ino: this.nextIno++, mode, uid: context?.uid ?? this.uid, gid: context?.gid ?? this.gid, nlink: 1, size: 0, atimeMs: time, mtimeMs: time, ctimeMs: time, openCount: 0 };
  }

  private lookup(path: string): Inode {
    let node = this.root;
    for (const name of splitPath(path)) {
      if (node.entries === undefined) throw fuseError('ENOTDIR', path);
      const child = node.entries.get(name);
      if (child === undefined) throw fuseError('ENOENT', path);
      node = child;
    }
    return node;
  }

  /** The parent directory of `path` and the last name, checked. */
  private parentOf(path: string): { parent: Inode; name: string } {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw fuseError('EBUSY', 'the root has no parent');
    if (Buffer.byteLength(name) > memoryFsLimits.nameBytesMax) throw fuseError('ENAMETOOLONG', path);
    const parent = this.lookup(`/${parts.join('/')}`);
    if (parent.entries === undefined) throw fuseError('ENOTDIR', path);
    return { parent, name };
  }

  private handle(handle: FileHandle): Inode {
    const node = this.handles.get(handle);
    if (node === undefined) throw fuseError('EBADF', `handle ${handle}`);
    return node;
  }

  private touchDirectory(directory: Inode): void {
    directory.mtimeMs = directory.ctimeMs = this.now();
  }

  private addEntry(directory: Inode, name: string, node: Inode): void {
    directory.entries!.set(name, node);
    if (node.entries !== undefined) directory.nlink++;
    this.touchDirectory(directory);
  }

  private unlinkEntry(directory: Inode, name: string, node: Inode): void {
    directory.entries!.delete(name);
    if (node.entries !== undefined) {
      directory.nlink--;
      node.nlink = 0;
    } else {
      node.nlink--;
    }
    node.ctimeMs = this.now();
    this.touchDirectory(directory);
    this.dropIfUnused(node);
  }

  private dropIfUnused(node: Inode): void {
    if (node.nlink > 0 || node.openCount > 0) return;
    this.usedBytes -= node.size;
    node.chunks = undefined;
    this.inodeCount--;
  }

  private openHandle(node: Inode): FileHandle {
    if (this.handles.size >= handleMax) throw fuseError('EMFILE', 'memory fs: no free handle');
    for (;;) {
      const handle = this.nextHandle;
      this.nextHandle = handle === handleMax ? 1 : handle + 1;
      if (this.handles.has(handle)) continue;
      this.handles.set(handle, node);
      node.openCount++;
      return handle;
    }
  }

  // ------------------------------------------------------------ attributes

  statfs(): FileSystemStats {
    const freeBytes = Math.max(0, this.bytesMax - this.usedBytes);
    return {
      totalBytes: this.bytesMax,
      freeBytes,
      availableBytes: freeBytes,
      totalFiles: this.inodesMax,
      freeFiles: this.inodesMax - this.inodeCount,
      nameBytesMax: memoryFsLimits.nameBytesMax,
    };
  }

  private statOf(node: Inode): FileStat {
    const isDirectory = node.entries !== undefined;
    return {
      mode: node.mode,
      uid: node.uid,
      gid: node.gid,
      size: isDirectory ? memoryFsLimits.directoryBytes : node.size,
      nlink: node.nlink,
      ino: node.ino,
      atimeMs: node.atimeMs,
      mtimeMs: node.mtimeMs,
      ctimeMs: node.ctimeMs,
    };
  }

  getattr(path: string): FileStat {
    return this.statOf(this.lookup(path));
  }

  fgetattr(_path: string, handle: FileHandle): FileStat {
    return this.statOf(this.handle(handle));
  }

  chmod(path: string, mode: number): void {
    const node = this.lookup(path);
    node.mode = (node.mode & S_IFMT) | (mode & permissionBits);
    node.ctimeMs = this.now();
  }

  chown(path: string, uid: number, gid: number): void {
    const node = this.lookup(path);
    if (uid !== -1) node.uid = uid;
    if (gid !== -1) node.gid = gid;
    node.ctimeMs = this.now();
  }

  utimens(path: string, atimeNs: bigint | undefined, mtimeNs: bigint | undefined): void {
    const node = this.lookup(path);
    if (atimeNs !== undefined) node.atimeMs = nsToMs(atimeNs);
    if (mtimeNs !== undefined) node.mtimeMs = nsToMs(mtimeNs);
    node.ctimeMs = this.now();
  }

  fsetattr(_path: string, handle: FileHandle, attrs: HandleAttrs): void {
    const node = this.handle(handle);
    if (attrs.mode !== undefined) node.mode = (node.mode & S_IFMT) | (attrs.mode & permissionBits);
    if (attrs.uid !== undefined) node.uid = attrs.uid;
    if (attrs.gid !== undefined) node.gid = attrs.gid;
    if (attrs.atimeNs !== undefined) node.atimeMs = nsToMs(attrs.atimeNs);
    if (attrs.mtimeNs !== undefined) node.mtimeMs = nsToMs(attrs.mtimeNs);
    node.ctimeMs = this.now();
  }

  // ------------------------------------------------------------ directories

  readdir(path: string): string[] {
    const node = this.lookup(path);
    if (node.entries === undefined) throw fuseError('ENOTDIR', path);
    return [...node.entries.keys()];
  }

  mkdir(path: string, mode: number, context?: RequestContext): void {
    const { parent, name } = this.parentOf(path);
    if (parent.entries!.has(name)) throw fuseError('EEXIST', path);
    const node = this.newInode(S_IFDIR | (mode & permissionBits), context);
    node.nlink = 2;
    node.entries = new Map();
    this.addEntry(parent, name, node);
  }

  rmdir(path: string): void {
    const { parent, name } = this.parentOf(path);
    const node = parent.entries!.get(name);
    if (node === undefined) throw fuseError('ENOENT', path);
    if (node.entries === undefined) throw fuseError('ENOTDIR', path);
    if (node.entries.size > 0) throw fuseError('ENOTEMPTY', path);
    this.unlinkEntry(parent, name, node);
  }

  // ------------------------------------------------------------ names

  unlink(path: string): void {
    const { parent, name } = this.parentOf(path);
    const node = parent.entries!.get(name);
    if (node === undefined) throw fuseError('ENOENT', path);
    if (node.entries !== undefined) throw fuseError('EISDIR', path);
    this.unlinkEntry(parent, name, node);
  }

  rename(from: string, to: string): void {
    const source = this.parentOf(from);
    const node = source.parent.entries!.get(source.name);
    if (node === undefined) throw fuseError('ENOENT', from);
    const target = this.parentOf(to);
    const replaced = target.parent.entries!.get(target.name);
    if (replaced === node) return;
    if (node.entries !== undefined) {
      // A directory may not move below itself.
      const toParts = splitPath(to);
      const fromParts = splitPath(from);
      if (toParts.length > fromParts.length && fromParts.every((part, index) => toParts[index] === part)) throw fuseError('EINVAL', `${from} -> ${to}`);
    }
    if (replaced !== undefined) {
      if (replaced.entries !== undefined) {
        if (node.entries === undefined) throw fuseError('EISDIR', to);
        if (replaced.entries.size > 0) throw fuseError('ENOTEMPTY', to);
      } else if (node.entries !== undefined) {
        throw fuseError('ENOTDIR', to);
      }
      this.unlinkEntry(target.parent, target.name, replaced);
    }
    source.parent.entries!.delete(source.name);
    if (node.entries !== undefined) source.parent.nlink--;
    this.touchDirectory(source.parent);
    this.addEntry(target.parent, target.name, node);
    node.ctimeMs = this.now();
  }

  link(existingPath: string, newPath: string): void {
    const node = this.lookup(existingPath);
    if (node.entries !== undefined) throw fuseError('EPERM', `${existingPath}: a directory`);
    const { parent, name } = this.parentOf(newPath);
    if (parent.entries!.has(name)) throw fuseError('EEXIST', newPath);
    node.nlink++;
    node.ctimeMs = this.now();
    this.addEntry(parent, name, node);
  }

  symlink(target: string, linkPath: string, context?: RequestContext): void {
    const { parent, name } = this.parentOf(linkPath);
    if (parent.entries!.has(name)) throw fuseError('EEXIST', linkPath);
    const node = this.newInode(S_IFLNK | 0o777, context);
    node.target = target;
    node.size = Buffer.byteLength(target);
    this.addEntry(parent, name, node);
  }

  readlink(path: string): string {
    const node = this.lookup(path);
    if (node.target === undefined) throw fuseError('EINVAL', `${path}: not a symbolic link`);
    return node.target;
  }

  // ------------------------------------------------------------ files

  create(path: string, mode: number, context?: RequestContext): FileHandle {
    const { parent, name } = this.parentOf(path);
    const existing = parent.entries!.get(name);
    if (existing !== undefined) {
      if (existing.entries !== undefined) throw fuseError('EISDIR', path);
      return this.openHandle(existing);
    }
    const node = this.newInode(S_IFREG | (mode & permissionBits), context);
    node.chunks = [];
    this.addEntry(parent, name, node);
    return this.openHandle(node);
  }

  open(path: string): FileHandle {
    const node = this.lookup(path);
    if (node.entries !== undefined) throw fuseError('EISDIR', path);
    if (node.chunks === undefined) throw fuseError('EINVAL', `${path}: not a regular file`);
    return this.openHandle(node);
  }

  release(_path: string, handle: FileHandle): void {
    const node = this.handle(handle);
    this.handles.delete(handle);
    node.openCount--;
    this.dropIfUnused(node);
  }

  flush(_path: string, handle: FileHandle): void {
    this.handle(handle);
  }

  fsync(_path: string, handle: FileHandle): void {
    this.handle(handle);
  }

  read(_path: string, handle: FileHandle, length: number, position: number): Uint8Array {
    const node = this.handle(handle);
    const end = Math.min(node.size, position + length);
    if (end <= position) return Buffer.alloc(0);
    const { chunkBytes } = memoryFsLimits;
    const first = Math.floor(position / chunkBytes);
    const last = Math.floor((end - 1) / chunkBytes);
    if (first === last) {
      const chunk = node.chunks![first];
      const offset = position - first * chunkBytes;
      return chunk === undefined ? Buffer.alloc(end - position) : chunk.subarray(offset, offset + end - position);
    }
    const out = Buffer.alloc(end - position);
    for (let index = first; index <= last; index++) {
      const chunk = node.chunks![index];
      if (chunk === undefined) continue;
      const chunkStart = index * chunkBytes;
      const from = Math.max(position, chunkStart);
      const to = Math.min(end, chunkStart + chunkBytes);
      chunk.copy(out, from - position, from - chunkStart, to - chunkStart);
    }
    return out;
  }

  write(_path: string, handle: FileHandle, data: Buffer, position: number): number {
    const node = this.handle(handle);
    const end = position + data.length;
    this.resize(node, Math.max(node.size, end));
    const { chunkBytes } = memoryFsLimits;
    let written = 0;
    while (written < data.length) {
      const at = position + written;
      const index = Math.floor(at / chunkBytes);
      const offset = at - index * chunkBytes;
      const count = Math.min(chunkBytes - offset, data.length - written);
      let chunk = node.chunks![index];
      if (chunk === undefined) chunk = node.chunks![index] = Buffer.alloc(chunkBytes);
      data.copy(chunk, offset, written, written + count);
      written += count;
    }
    node.mtimeMs = node.ctimeMs = this.now();
    return data.length;
  }

  truncate(path: string, size: number): void {
    const node = this.lookup(path);
    if (node.entries !== undefined) throw fuseError('EISDIR', path);
    this.resize(node, size);
    node.mtimeMs = node.ctimeMs = this.now();
  }

  ftruncate(_path: string, handle: FileHandle, size: number): void {
    const node = this.handle(handle);
    this.resize(node, size);
    node.mtimeMs = node.ctimeMs = this.now();
  }

  private resize(node: Inode, size: number): void {
    if (node.chunks === undefined) throw fuseError('EINVAL', 'not a regular file');
    if (size > node.size && this.usedBytes + (size - node.size) > this.bytesMax) throw fuseError('ENOSPC', `memory fs: ${this.bytesMax} bytes`);
    const { chunkBytes } = memoryFsLimits;
    if (size < node.size) {
      // Drop whole chunks past the end and zero the tail of the last one, so that a
      // later extension reads zeros.
      const keep = Math.ceil(size / chunkBytes);
      node.chunks.length = Math.min(node.chunks.length, keep);
      const tail = node.chunks[keep - 1];
      if (tail !== undefined && size % chunkBytes !== 0) tail.fill(0, size % chunkBytes);
    }
    this.usedBytes += size - node.size;
    node.size = size;
  }

  // ------------------------------------------------------------ extended attributes

  getxattr(path: string, name: string): Uint8Array {
    const value = this.lookup(path).xattrs?.get(name);
    if (value === undefined) throw fuseError('ENODATA', `${path}: ${name}`);
    return value;
  }

  setxattr(path: string, name: string, value: Buffer, flags: number): void {
    const node = this.lookup(path);
    if (value.length > memoryFsLimits.xattrValueBytesMax) throw fuseError('E2BIG', `${path}: ${name}`);
    const exists = node.xattrs?.has(name) ?? false;
    if ((flags & xattrCreate) !== 0 && exists) throw fuseError('EEXIST', `${path}: ${name}`);
    if ((flags & xattrReplace) !== 0 && !exists) throw fuseError('ENODATA', `${path}: ${name}`);
    node.xattrs ??= new Map();
    node.xattrs.set(name, Buffer.from(value));
    node.ctimeMs = this.now();
  }

  listxattr(path: string): string[] {
    return [...(this.lookup(path).xattrs?.keys() ?? [])];
  }

  removexattr(path: string, name: string): void {
    const node = this.lookup(path);
    if (node.xattrs?.delete(name) !== true) throw fuseError('ENODATA', `${path}: ${name}`);
    node.ctimeMs = this.now();
  }
}
