// Wraps the simulated disk so every operation tells the scheduler that the simulated
// world moved. The scheduler settles async work between events by waiting for a run of
// quiet turns; a long chain of disk awaits (a WAL sync) must not look quiet half way.
import type { Disk, DiskFile } from '../disk/index.js';
import type { Scheduler } from '../sim/index.js';

async function noted<T>(scheduler: Scheduler, operation: Promise<T>): Promise<T> {
  scheduler.noteActivity();
  try {
    return await operation;
  } finally {
    scheduler.noteActivity();
  }
}

class ActivityFile implements DiskFile {
  constructor(
    private readonly inner: DiskFile,
    private readonly scheduler: Scheduler,
  ) {}

  get path(): string {
    return this.inner.path;
  }

  size(): Promise<number> {
    return noted(this.scheduler, this.inner.size());
  }

  read(position: number, length: number): Promise<Uint8Array> {
    return noted(this.scheduler, this.inner.read(position, length));
  }

  append(bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return noted(this.scheduler, this.inner.append(bytes));
  }

  write(position: number, bytes: Uint8Array): Promise<void> {
    return noted(this.scheduler, this.inner.write(position, bytes));
  }

  sync(): Promise<void> {
    return noted(this.scheduler, this.inner.sync());
  }

  truncate(length: number): Promise<void> {
    return noted(this.scheduler, this.inner.truncate(length));
  }

  close(): Promise<void> {
    return noted(this.scheduler, this.inner.close());
  }
}

export class ActivityDisk implements Disk {
  constructor(
    private readonly inner: Disk,
    private readonly scheduler: Scheduler,
  ) {}

  makeDirectory(path: string): Promise<void> {
    return noted(this.scheduler, this.inner.makeDirectory(path));
  }

  list(path: string): Promise<string[]> {
    return noted(this.scheduler, this.inner.list(path));
  }

  async openForAppend(path: string): Promise<DiskFile> {
    return new ActivityFile(await noted(this.scheduler, this.inner.openForAppend(path)), this.scheduler);
  }

  async openForRead(path: string): Promise<DiskFile> {
    return new ActivityFile(await noted(this.scheduler, this.inner.openForRead(path)), this.scheduler);
  }

  rename(from: string, to: string): Promise<void> {
    return noted(this.scheduler, this.inner.rename(from, to));
  }

  remove(path: string): Promise<void> {
    return noted(this.scheduler, this.inner.remove(path));
  }

  syncDirectory(path: string): Promise<void> {
    return noted(this.scheduler, this.inner.syncDirectory(path));
  }
}
