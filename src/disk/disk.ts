// The narrow file-system interface of everything durable in AtollFS (write-ahead log,
// snapshot store, extent store). Code that persists takes a Disk instead of importing node:fs, so the
// simulator can run it over SimulatedDisk, which loses unsynced data the way a crash does.
//
// Paths are absolute POSIX paths. Every failure is an AtollError: NOT_FOUND for a missing
// file or directory, NO_SPACE when the device is full, INTERNAL for other I/O errors.

/** An open file. Appends go to the end; reads are positional. */
export interface DiskFile {
  readonly path: string;
  /** Current size in bytes, including data not yet synced. */
  size(): Promise<number>;
  /**
   * Up to `length` bytes from `position`; fewer only where the file ends. Read into
   * `into` (at least `length` bytes; the answer is then a view of it) instead of a new
   * buffer when given.
   */
  read(position: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * Appends every byte of `bytes` (only on a file opened with openForAppend). A list of
   * pieces is appended in order, as one write where the platform has one (writev).
   */
  append(bytes: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /**
   * Overwrites bytes in place at `position` (only on a file opened with openForAppend).
   * The range must lie within the current size: files never get holes this way. Durable
   * after the next sync(); a crash before it may keep any subset of the written pages.
   */
  write(position: number, bytes: Uint8Array): Promise<void>;
  /** fdatasync: makes the data and size written so far durable. */
  sync(): Promise<void>;
  /** Cuts the file to `length` bytes (at most its size). Durable after the next sync(). */
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface Disk {
  /** mkdir -p: creates the directory and missing parents; an existing one is fine. */
  makeDirectory(path: string): Promise<void>;
  /** Names in a directory, sorted by code unit. */
  list(path: string): Promise<string[]>;
  /** Opens a file for appending and reading, creating it empty if it does not exist. */
  openForAppend(path: string): Promise<DiskFile>;
  /** Opens an existing file for reading. */
  openForRead(path: string): Promise<DiskFile>;
  /** Renames a file atomically, replacing `to` if it exists. Durable after syncDirectory. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file or an empty directory. Durable after syncDirectory of its parent. */
  remove(path: string): Promise<void>;
  /**
   * fsync of a directory: makes the creates, renames and removes of its entries durable.
   * A new file is only certain to exist after a crash once its directory is synced.
   */
  syncDirectory(path: string): Promise<void>;
}

/** The pieces of an append's argument, in order. */
export function piecesOf(bytes: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  return bytes instanceof Uint8Array ? [bytes] : bytes;
}

/** How many bytes an append's argument holds. */
export function byteLengthOf(bytes: Uint8Array | readonly Uint8Array[]): number {
  if (bytes instanceof Uint8Array) return bytes.byteLength;
  let total = 0;
  for (const piece of bytes) total += piece.byteLength;
  return total;
}
