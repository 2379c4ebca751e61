// Node streams over the SDK: createReadStream and createWriteStream of a Volume.
import { Readable, Writable } from 'node:stream';
import type { Volume } from './volume.js';
import type { FileHandle } from './file-handle.js';

export interface ReadStreamOptions {
  readonly start?: number;
  /** Inclusive, as node:fs. */
  readonly end?: number;
  readonly highWaterMark?: number;
}

export function createReadStream(volume: Volume, path: string, options: ReadStreamOptions = {}): Readable {
  const chunkBytes = options.highWaterMark ?? 1024 * 1024;
  let handle: FileHandle | null = null;
  let position = options.start ?? 0;
  const end = options.end === undefined ? Infinity : options.end + 1;
  return new Readable({
    highWaterMark: chunkBytes,
    async construct(callback) {
      try {
        handle = await volume.open(path, 'r');
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    async read(size) {
      try {
        const want = Math.min(Math.max(size, chunkBytes), end - position);
        if (want <= 0) return void this.push(null);
        const bytes = await handle!.readAt(position, want);
        position += bytes.byteLength;
        this.push(bytes.byteLength === 0 ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      } catch (error) {
        this.destroy(error as Error);
      }
    },
    destroy(error, callback) {
      if (handle === null) return callback(error);
      handle.close().then(() => callback(error), (closeError: unknown) => callback((error ?? closeError) as Error));
    },
  });
}

export interface WriteStreamOptions {
  readonly flags?: string;
  readonly mode?: number;
  readonly start?: number;
}

export function createWriteStream(volume: Volume, path: string, options: WriteStreamOptions = {}): Writable {
  let handle: FileHandle | null = null;
  let position = options.start ?? 0;
  return new Writable({
    async construct(callback) {
      try {
        handle = await volume.open(path, options.flags ?? 'w', options.mode ?? 0o666);
        if (options.flags?.startsWith('a') === true) position = (await handle.stat()).size;
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    async write(chunk: Buffer, _encoding, callback) {
      try {
        position += await handle!.writeAt(chunk, position);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    async final(callback) {
      try {
        await handle!.close();
        handle = null;
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    destroy(error, callback) {
      if (handle === null) return callback(error);
      const open = handle;
      handle = null;
      open.close().then(() => callback(error), (closeError: unknown) => callback((error ?? closeError) as Error));
    },
  });
}
