// A Disk that counts what passes through it, around any other Disk. Tests use it to
// prove group commit (one fdatasync for many records); benchmarks to report syncs.
import { byteLengthOf, type Disk, type DiskFile } from './disk.js';

export interface DiskOperationCounts {
  appends: number;
  bytesAppended: number;
  /** In-place writes (DiskFile.write). */
  writes: number;
  bytesWritten: number;
  fileSyncs: number;
  directorySyncs: number;
  opens: number;
  renames: number;
  removes: number;
}

function zeroCounts(): DiskOperationCounts {
  return { appends: 0, bytesAppended: 0, writes: 0, bytesWritten: 0, fileSyncs: 0, directorySyncs: 0, opens: 0, renames: 0, removes: 0 };
}

class CountingDiskFile implements DiskFile {
  constructor(
    private readonly inner: DiskFile,
    // The owner, not its counts object: takeCounts() replaces that object.
    private readonly owner: CountingDisk,
  ) {}

  get path(): string {
    return this.inner.path;
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  read(position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    return this.inner.read(position, length, into);
  }

  append(bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    this.owner.counts.appends += 1;
    this.owner.counts.bytesAppended += byteLengthOf(bytes);
    return this.inner.append(bytes);
  }

  write(position: number, bytes: Uint8Array): Promise<void> {
    this.owner.counts.writes += 1;
    this.owner.counts.bytesWritten += bytes.byteLength;
    return this.inner.write(position, bytes);
  }

  sync(): Promise<void> {
    this.owner.counts.fileSyncs += 1;
    return this.inner.sync();
  }

  truncate(length: number): Promise<void> {
    return this.inner.truncate(length);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export class CountingDisk implements Disk {
  counts: DiskOperationCounts = zeroCounts();

  constructor(private readonly inner: Disk) {}

  /** The counts so far, then starts again from zero. */
  takeCounts(): DiskOperationCounts {
    const counts = this.counts;
    this.counts = zeroCounts();
    return counts;
  }

  makeDirectory(path: string): Promise<void> {
    return this.inner.makeDirectory(path);
  }

  list(path: string): Promise<string[]> {
    return this.inner.list(path);
  }

  async openForAppend(path: string): Promise<DiskFile> {
    this.counts.opens += 1;
    return new CountingDiskFile(await this.inner.openForAppend(path), this);
  }

  async openForRead(path: string): Promise<DiskFile> {
    this.counts.opens += 1;
    return new CountingDiskFile(await this.inner.openForRead(path), this);
  }

  rename(from: string, to: string): Promise<void> {
    this.counts.renames += 1;
    return this.inner.rename(from, to);
  }

  remove(path: string): Promise<void> {
    this.counts.removes += 1;
    return this.inner.remove(path);
  }

  syncDirectory(path: string): Promise<void> {
    this.counts.directorySyncs += 1;
    return this.inner.syncDirectory(path);
  }
}
