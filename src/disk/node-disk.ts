// Disk over node:fs/promises: the one adapter in the storage path that touches the real
// file system. Data syncs are fdatasync (FileHandle.datasync): the size of an appended
// file is part of what fdatasync flushes, other metadata (mtime) is not needed.
import { mkdir, open, readdir, rename, rmdir, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { assert } from '../errors/index.js';
import { piecesOf, type Disk, type DiskFile } from './disk.js';
import { diskError } from './disk-error.js';

/** What is left of `pieces` once their first `bytes` bytes are written. */
function piecesAfter(pieces: readonly Uint8Array[], bytes: number): Uint8Array[] {
  let skip = bytes;
  let index = 0;
  while (index < pieces.length && skip >= pieces[index]!.byteLength) skip -= pieces[index++]!.byteLength;
  const rest = pieces.slice(index);
  if (rest.length > 0 && skip > 0) rest[0] = rest[0]!.subarray(skip);
  return rest;
}

class NodeDiskFile implements DiskFile {
  private closed = false;
  // Linux ignores the position of a write on an O_APPEND descriptor, so in-place writes
  // go through a second descriptor opened without it, on first use.
  private positional: FileHandle | undefined;
  // A lower bound of the file's size (this object's appends and truncates, the last
  // fstat): an in-place write below it needs no fstat to prove it makes no hole.
  private sizeAtLeast = 0;
  // Which descriptors wrote since the last sync: only those are fdatasynced.
  private appendedSinceSync = false;
  private writtenSinceSync = false;

  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly appendable: boolean,
  ) {}

  async size(): Promise<number> {
    this.checkOpen('size');
    try {
      const size = (await this.handle.stat()).size;
      this.sizeAtLeast = size;
      return size;
    } catch (error) {
      throw diskError('size of', this.path, error);
    }
  }

  async read(position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.checkOpen('read');
    assert(Number.isSafeInteger(position) && position >= 0, () => `read ${this.path}: bad position ${position}`);
    assert(Number.isSafeInteger(length) && length >= 0, () => `read ${this.path}: bad length ${length}`);
    assert(into === undefined || into.byteLength >= length, () => `read ${this.path}: a buffer of ${into!.byteLength} bytes for ${length}`);
    const buffer = into ?? Buffer.allocUnsafe(length);
    let filled = 0;
    try {
      // A read may return fewer bytes than asked before the end of the file; only 0 means the end.
      while (filled < length) {
        const { bytesRead } = await this.handle.read(buffer, filled, length - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
    } catch (error) {
      throw diskError('read', this.path, error);
    }
    return new Uint8Array(buffer.buffer, buffer.byteOffset, filled);
  }

  async append(bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    this.checkOpen('append');
    assert(this.appendable, () => `append to ${this.path}: opened for reading only`);
    let pieces = piecesOf(bytes).filter((piece) => piece.byteLength > 0);
    try {
      // The file is opened with O_APPEND, so every write lands at the end; a short write
      // (rare, for example when the device fills) is continued, not dropped. Bounded: each
      // turn writes at least one byte or throws.
      while (pieces.length > 0) {
        const written =
          pieces.length === 1
            ? (await this.handle.write(pieces[0]!, 0, pieces[0]!.byteLength, null)).bytesWritten
            : (await this.handle.writev(pieces as Uint8Array[])).bytesWritten;
        assert(written > 0, () => `append to ${this.path}: a write took no bytes`);
        this.sizeAtLeast += written;
        this.appendedSinceSync = true;
        pieces = piecesAfter(pieces, written);
      }
    } catch (error) {
      throw diskError('append to', this.path, error);
    }
  }

  async write(position: number, bytes: Uint8Array): Promise<void> {
    this.checkOpen('write');
    assert(this.appendable, () => `write to ${this.path}: opened for reading only`);
    const size = position + bytes.byteLength <= this.sizeAtLeast ? this.sizeAtLeast : await this.size();
    assert(
      Number.isSafeInteger(position) && position >= 0 && position + bytes.byteLength <= size,
      () => `write to ${this.path}: [${position}, ${position + bytes.byteLength}) is outside the size ${size}`,
    );
    let written = 0;
    try {
      this.positional ??= await open(this.path, 'r+');
      while (written < bytes.byteLength) {
        const result = await this.positional.write(bytes, written, bytes.byteLength - written, position + written);
        written += result.bytesWritten;
        this.writtenSinceSync = true;
      }
    } catch (error) {
      throw diskError('write to', this.path, error);
    }
  }

  async sync(): Promise<void> {
    this.checkOpen('sync');
    try {
      // Each descriptor that wrote since the last sync is synced (fdatasync flushes the
      // whole file on Linux, but the contract does not rest on that); the append one also
      // when neither did, for truncates and for a sync right after open.
      const written = this.writtenSinceSync;
      const appended = this.appendedSinceSync || !written;
      this.writtenSinceSync = false;
      this.appendedSinceSync = false;
      if (written) await this.positional!.datasync();
      if (appended) await this.handle.datasync();
    } catch (error) {
      throw diskError('fdatasync', this.path, error);
    }
  }

  async truncate(length: number): Promise<void> {
    this.checkOpen('truncate');
    assert(Number.isSafeInteger(length) && length >= 0, () => `truncate ${this.path}: bad length ${length}`);
    const size = await this.size();
    assert(length <= size, () => `truncate ${this.path}: ${length} is beyond the size ${size}`);
    try {
      await this.handle.truncate(length);
      this.sizeAtLeast = length;
      this.appendedSinceSync = true;
    } catch (error) {
      throw diskError('truncate', this.path, error);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.positional?.close();
      await this.handle.close();
    } catch (error) {
      throw diskError('close', this.path, error);
    }
  }

  private checkOpen(action: string): void {
    assert(!this.closed, () => `${action} ${this.path}: the file is closed`);
  }
}

export class NodeDisk implements Disk {
  async makeDirectory(path: string): Promise<void> {
    try {
      await mkdir(path, { recursive: true });
    } catch (error) {
      throw diskError('make directory', path, error);
    }
  }

  async list(path: string): Promise<string[]> {
    try {
      // Sorted by code unit, like SimulatedDisk, so callers see the same order on both.
      return (await readdir(path)).sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
    } catch (error) {
      throw diskError('list', path, error);
    }
  }

  async openForAppend(path: string): Promise<DiskFile> {
    try {
      return new NodeDiskFile(path, await open(path, 'a+'), true);
    } catch (error) {
      throw diskError('open for append', path, error);
    }
  }

  async openForRead(path: string): Promise<DiskFile> {
    try {
      return new NodeDiskFile(path, await open(path, 'r'), false);
    } catch (error) {
      throw diskError('open for read', path, error);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      await rename(from, to);
    } catch (error) {
      throw diskError(`rename to ${to}`, from, error);
    }
  }

  async remove(path: string): Promise<void> {
    try {
      await unlink(path);
    } catch (error) {
      // Linux answers EISDIR for unlink of a directory (other systems EPERM).
      const code = (error as { code?: string }).code;
      if (code !== 'EISDIR' && code !== 'EPERM') throw diskError('remove', path, error);
      try {
        await rmdir(path);
      } catch (directoryError) {
        throw diskError('remove', path, directoryError);
      }
    }
  }

  async syncDirectory(path: string): Promise<void> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, 'r');
      await handle.sync();
    } catch (error) {
      throw diskError('fsync directory', path, error);
    } finally {
      await handle?.close();
    }
  }
}
