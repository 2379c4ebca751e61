// Stats and directory entries shaped like node:fs's, built from metanode inodes, so code
// written for node:fs reads them unchanged. The nanosecond parts of the times are kept
// beside the milliseconds (FUSE passes them through).
import { constants } from 'node:fs';
import { InodeType, type Inode } from '../proto/generated/metanode.js';

const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFBLK, S_IFCHR } = constants;
export const statBlockBytes = 4096;

export function typeBits(inode: Pick<Inode, 'type' | 'mode'>): number {
  switch (inode.type) {
    case InodeType.INODE_FILE:
      return S_IFREG;
    case InodeType.INODE_DIRECTORY:
      return S_IFDIR;
    case InodeType.INODE_SYMLINK:
      return S_IFLNK;
    default:
      // Special files keep their kind in the mode they were created with.
      return (inode.mode & S_IFMT) === 0 ? S_IFREG : inode.mode & S_IFMT;
  }
}

export class Stats {
  readonly dev: number;
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly size: number;
  readonly blksize = statBlockBytes;
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  readonly atime: Date;
  readonly mtime: Date;
  readonly ctime: Date;
  readonly birthtime: Date;
  /** Seconds and nanoseconds of the times, as stored. */
  readonly atimeSpec: { sec: number; nsec: number };
  readonly mtimeSpec: { sec: number; nsec: number };
  readonly ctimeSpec: { sec: number; nsec: number };

  constructor(inode: Inode, dev: number) {
    this.dev = dev;
    this.ino = inode.ino;
    this.mode = typeBits(inode) | (inode.mode & 0o7777);
    this.nlink = inode.nlink;
    this.uid = inode.uid;
    this.gid = inode.gid;
    this.rdev = inode.rdev;
    this.size = inode.type === InodeType.INODE_SYMLINK ? inode.symlinkTarget.byteLength : inode.size;
    this.blocks = Math.ceil(storedBytes(inode) / 512);
    this.atimeSpec = { sec: inode.atimeSec, nsec: inode.atimeNsec };
    this.mtimeSpec = { sec: inode.mtimeSec, nsec: inode.mtimeNsec };
    this.ctimeSpec = { sec: inode.ctimeSec, nsec: inode.ctimeNsec };
    this.atimeMs = inode.atimeSec * 1000 + inode.atimeNsec / 1e6;
    this.mtimeMs = inode.mtimeSec * 1000 + inode.mtimeNsec / 1e6;
    this.ctimeMs = inode.ctimeSec * 1000 + inode.ctimeNsec / 1e6;
    this.birthtimeMs = this.ctimeMs;
    this.atime = new Date(this.atimeMs);
    this.mtime = new Date(this.mtimeMs);
    this.ctime = new Date(this.ctimeMs);
    this.birthtime = new Date(this.birthtimeMs);
  }

  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }
  isFIFO(): boolean {
    return (this.mode & S_IFMT) === S_IFIFO;
  }
  isSocket(): boolean {
    return (this.mode & S_IFMT) === S_IFSOCK;
  }
  isBlockDevice(): boolean {
    return (this.mode & S_IFMT) === S_IFBLK;
  }
  isCharacterDevice(): boolean {
    return (this.mode & S_IFMT) === S_IFCHR;
  }
}

/** Bytes the file's extents hold (holes excluded). */
function storedBytes(inode: Inode): number {
  let bytes = 0;
  for (const extent of inode.extents) bytes += extent.size;
  return bytes;
}

export class Dirent {
  constructor(
    readonly name: string,
    readonly type: InodeType,
    /** The directory listed, as given. */
    readonly parentPath: string,
    readonly ino: number,
  ) {}

  get path(): string {
    return this.parentPath;
  }
  isFile(): boolean {
    return this.type === InodeType.INODE_FILE;
  }
  isDirectory(): boolean {
    return this.type === InodeType.INODE_DIRECTORY;
  }
  isSymbolicLink(): boolean {
    return this.type === InodeType.INODE_SYMLINK;
  }
  isFIFO(): boolean {
    return false;
  }
  isSocket(): boolean {
    return false;
  }
  isBlockDevice(): boolean {
    return false;
  }
  isCharacterDevice(): boolean {
    return false;
  }
}
