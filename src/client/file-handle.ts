// An open file of the SDK, shaped as node:fs/promises' FileHandle: read and write at a
// position or at the handle's own offset, truncate, sync, stat, close. Handles of one
// inode in one Volume share its OpenFile (write-behind, read-ahead), so they see each
// other's writes at once.
import { constants } from 'node:fs';
import { AtollError, StatusCode } from '../errors/index.js';
import { asFs } from './fs-error.js';
import type { OpenFile } from './open-file.js';
import type { Stats } from './stats.js';
import type { Volume } from './volume.js';

export interface OpenFlags {
  readonly read: boolean;
  readonly write: boolean;
  readonly append: boolean;
  readonly create: boolean;
  readonly exclusive: boolean;
  readonly truncate: boolean;
}

const stringFlags: Record<string, number> = {
  r: constants.O_RDONLY,
  rs: constants.O_RDONLY | constants.O_SYNC,
  'sr': constants.O_RDONLY | constants.O_SYNC,
  'r+': constants.O_RDWR,
  'rs+': constants.O_RDWR | constants.O_SYNC,
  'sr+': constants.O_RDWR | constants.O_SYNC,
  w: constants.O_TRUNC | constants.O_CREAT | constants.O_WRONLY,
  wx: constants.O_TRUNC | constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL,
  xw: constants.O_TRUNC | constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL,
  'w+': constants.O_TRUNC | constants.O_CREAT | constants.O_RDWR,
  'wx+': constants.O_TRUNC | constants.O_CREAT | constants.O_RDWR | constants.O_EXCL,
  'xw+': constants.O_TRUNC | constants.O_CREAT | constants.O_RDWR | constants.O_EXCL,
  a: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY,
  ax: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL,
  xa: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL,
  as: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY | constants.O_SYNC,
  sa: constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY | constants.O_SYNC,
  'a+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR,
  'ax+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR | constants.O_EXCL,
  'xa+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR | constants.O_EXCL,
  'as+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR | constants.O_SYNC,
  'sa+': constants.O_APPEND | constants.O_CREAT | constants.O_RDWR | constants.O_SYNC,
};

/** node:fs open flags (a string such as 'r+' or O_* bits) as what they ask for. */
export function parseOpenFlags(flags: string | number): OpenFlags {
  const bits = typeof flags === 'number' ? flags : stringFlags[flags];
  if (bits === undefined || !Number.isInteger(bits) || bits < 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, `unknown open flags ${JSON.stringify(flags)}`);
  const access = bits & 3;
  if (access === 3) throw new AtollError(StatusCode.INVALID_ARGUMENT, `open flags ${flags}: O_ACCMODE 3 is not a valid access mode`);
  return {
    read: access === constants.O_RDONLY || access === constants.O_RDWR,
    write: access === constants.O_WRONLY || access === constants.O_RDWR,
    append: (bits & constants.O_APPEND) !== 0,
    create: (bits & constants.O_CREAT) !== 0,
    exclusive: (bits & constants.O_EXCL) !== 0,
    truncate: (bits & constants.O_TRUNC) !== 0 && access !== constants.O_RDONLY,
  };
}

export class FileHandle {
  #position = 0;
  #closed = false;

  constructor(
    private readonly volume: Volume,
    private readonly file: OpenFile,
    readonly flags: OpenFlags,
    readonly path: string,
  ) {}

  get ino(): number {
    return this.file.ino;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads into `buffer` at `offset` up to `length` bytes from `position` (null: the
   * handle's offset, which then moves). As node:fs: `{ bytesRead, buffer }`.
   */
  read<T extends Uint8Array>(buffer: T, offset = 0, length = buffer.byteLength - offset, position: number | null = null): Promise<{ bytesRead: number; buffer: T }> {
    return asFs('read', this.path, async () => {
      this.#check('read');
      if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > buffer.byteLength) {
        throw new AtollError(StatusCode.INVALID_ARGUMENT, `read of ${length} bytes at ${offset} into a buffer of ${buffer.byteLength}`);
      }
      const at = position ?? this.#position;
      const bytes = await this.file.read(at, length);
      buffer.set(bytes, offset);
      if (position === null) this.#position = at + bytes.byteLength;
      return { bytesRead: bytes.byteLength, buffer };
    });
  }

  /** Bytes [position, position + length) (fewer at the end of the file); the FUSE layer's read. */
  readAt(position: number, length: number): Promise<Uint8Array> {
    return asFs('read', this.path, async () => {
      this.#check('read');
      return this.file.read(position, length);
    });
  }

  /** The whole file from the start. */
  async readAll(): Promise<Buffer> {
    this.#check('read');
    const size = this.file.size;
    const bytes = await this.file.read(0, size);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Writes `length` bytes of `buffer` from `offset` at `position` (null: the handle's offset; append mode: the end). */
  write<T extends Uint8Array>(buffer: T | string, offset = 0, length?: number, position: number | null = null): Promise<{ bytesWritten: number; buffer: T | string }> {
    return asFs('write', this.path, async () => {
      this.#check('write');
      const bytes = typeof buffer === 'string' ? Buffer.from(buffer) : buffer;
      const size = length ?? bytes.byteLength - offset;
      if (!Number.isInteger(offset) || !Number.isInteger(size) || offset < 0 || size < 0 || offset + size > bytes.byteLength) {
        throw new AtollError(StatusCode.INVALID_ARGUMENT, `write of ${size} bytes at ${offset} from a buffer of ${bytes.byteLength}`);
      }
      const at = this.flags.append ? this.file.size : position ?? this.#position;
      await this.file.write(bytes.subarray(offset, offset + size), at);
      if (position === null || this.flags.append) this.#position = at + size;
      return { bytesWritten: size, buffer };
    });
  }

  /** The FUSE layer's write: `bytes` at `position` (append mode: at the end). */
  writeAt(bytes: Uint8Array, position: number): Promise<number> {
    return asFs('write', this.path, async () => {
      this.#check('write');
      await this.file.write(bytes, this.flags.append ? this.file.size : position);
      return bytes.byteLength;
    });
  }

  truncate(length = 0): Promise<void> {
    return asFs('ftruncate', this.path, async () => {
      this.#check('write');
      await this.file.truncate(length);
    });
  }

  /** Publishes buffered writes (FUSE flush). */
  flush(): Promise<void> {
    return asFs('flush', this.path, async () => {
      this.#check();
      await this.file.flush();
    });
  }

  sync(): Promise<void> {
    return asFs('fsync', this.path, async () => {
      this.#check();
      await this.file.sync();
    });
  }

  datasync(): Promise<void> {
    return this.sync();
  }

  stat(): Promise<Stats> {
    return asFs('fstat', this.path, async () => {
      this.#check();
      return this.volume.statsOf(this.file.inode());
    });
  }

  /** Flushes and lets go; the inode's open record goes with the last handle of this client. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return asFs('close', this.path, () => this.volume.closeHandle(this, this.file));
  }

  #check(access?: 'read' | 'write'): void {
    if (this.#closed) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'the file handle is closed (EBADF)');
    if (access === 'read' && !this.flags.read) throw new AtollError(StatusCode.PERMISSION_DENIED, 'the file is not open for reading (EBADF)');
    if (access === 'write' && !this.flags.write) throw new AtollError(StatusCode.PERMISSION_DENIED, 'the file is not open for writing (EBADF)');
  }
}
