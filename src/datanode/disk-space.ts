// The disks of a datanode and the room left on each: where a new partition goes, and
// whether a packet still fits. Free space is the disk's own (statfs, refreshed now and
// then) and, when a capacity budget is configured, the budget less what the partitions
// on the disk hold; either way less the reserve.
import { statfs } from 'node:fs/promises';
import { AtollError, StatusCode } from '../errors/index.js';

export interface DiskRoom {
  readonly path: string;
  /** Bytes that may still be written, the reserve already taken off (may be negative). */
  readonly freeBytes: number;
}

/** The disk with the most room, or NO_SPACE naming every disk when none has `needBytes`. */
export function chooseDisk(disks: readonly DiskRoom[], needBytes: number): string {
  let best: DiskRoom | undefined;
  for (const disk of disks) if (disk.freeBytes >= needBytes && (best === undefined || disk.freeBytes > best.freeBytes)) best = disk;
  if (best === undefined) {
    const listed = disks.map((disk) => `${disk.path}: ${Math.max(0, disk.freeBytes)} bytes free`).join(', ');
    throw new AtollError(StatusCode.NO_SPACE, `no disk has ${needBytes} bytes free above its reserve (${listed})`);
  }
  return best.path;
}

/** Room left on one disk: the smaller of the device's and the budget's, less the reserve. */
export function roomOf(deviceAvailableBytes: number, capacityBytes: number, partitionsUsedBytes: number, reservedBytes: number): number {
  const device = deviceAvailableBytes - reservedBytes;
  if (capacityBytes === 0) return device;
  return Math.min(device, capacityBytes - reservedBytes - partitionsUsedBytes);
}

/**
 * What one disk adds to the node's capacity and usage in heartbeats: the device (or the
 * budget when it is smaller) less the reserve; used is that capacity less the room left,
 * so the master's placement and `df` see the same figures as the write path's NO_SPACE.
 */
export function diskUsage(deviceTotalBytes: number, deviceAvailableBytes: number, capacityBytes: number, partitionsUsedBytes: number, reservedBytes: number): { capacityBytes: number; usedBytes: number } {
  const capacity = Math.max(0, (capacityBytes === 0 ? deviceTotalBytes : Math.min(deviceTotalBytes, capacityBytes)) - reservedBytes);
  const room = roomOf(deviceAvailableBytes, capacityBytes, partitionsUsedBytes, reservedBytes);
  return { capacityBytes: capacity, usedBytes: Math.min(capacity, Math.max(0, capacity - room)) };
}

export interface DiskSpaceOptions {
  readonly disks: readonly string[];
  readonly reservedBytes: number;
  /** 0: the whole device. */
  readonly capacityBytes: number;
  readonly refreshMs: number;
}

export class DiskSpace {
  readonly #options: DiskSpaceOptions;
  readonly #available = new Map<string, number>();
  readonly #total = new Map<string, number>();
  readonly #usedBy = new Map<string, Set<() => number>>();
  #refreshedAt = 0;
  #refreshing: Promise<void> | null = null;

  constructor(options: DiskSpaceOptions) {
    this.#options = options;
    for (const disk of options.disks) this.#usedBy.set(disk, new Set());
  }

  get disks(): readonly string[] {
    return this.#options.disks;
  }

  /** Reads every disk's free space now (statfs); a disk that cannot be read has none. */
  async refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      for (const disk of this.#options.disks) {
        try {
          const stats = await statfs(disk);
          this.#available.set(disk, stats.bavail * stats.bsize);
          this.#total.set(disk, stats.blocks * stats.bsize);
        } catch {
          // A disk that cannot be read has no room and counts for no capacity.
          this.#available.set(disk, 0);
          this.#total.set(disk, 0);
        }
      }
      this.#refreshedAt = Date.now();
    })().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  /** Refreshes in the background when the figures are older than refreshMs. */
  refreshIfOld(nowMs: number): void {
    if (nowMs - this.#refreshedAt >= this.#options.refreshMs) void this.refresh();
  }

  /** A partition on `disk` whose held bytes `used()` tells; returns the unregister function. */
  track(disk: string, used: () => number): () => void {
    const set = this.#usedBy.get(disk);
    if (set === undefined) throw new AtollError(StatusCode.INVALID_ARGUMENT, `disk ${disk} is not one of this datanode's disks (${this.#options.disks.join(', ')})`);
    set.add(used);
    return () => set.delete(used);
  }

  roomOf(disk: string): number {
    return roomOf(this.#available.get(disk) ?? 0, this.#options.capacityBytes, this.#partitionsUsed(disk), this.#options.reservedBytes);
  }

  #partitionsUsed(disk: string): number {
    let used = 0;
    for (const usedOf of this.#usedBy.get(disk) ?? []) used += usedOf();
    return used;
  }

  /** The node's capacity and usage over its disks (diskUsage), from fresh statfs figures. */
  async usage(): Promise<{ capacityBytes: number; usedBytes: number }> {
    await this.refresh();
    let capacityBytes = 0;
    let usedBytes = 0;
    for (const disk of this.#options.disks) {
      const one = diskUsage(this.#total.get(disk) ?? 0, this.#available.get(disk) ?? 0, this.#options.capacityBytes, this.#partitionsUsed(disk), this.#options.reservedBytes);
      capacityBytes += one.capacityBytes;
      usedBytes += one.usedBytes;
    }
    return { capacityBytes, usedBytes };
  }

  rooms(): DiskRoom[] {
    return this.#options.disks.map((path) => ({ path, freeBytes: this.roomOf(path) }));
  }

  /** NO_SPACE with a message naming the disk unless `bytes` fit on it. */
  checkRoom(action: string, disk: string, bytes: number): void {
    const room = this.roomOf(disk);
    if (room >= bytes) return;
    const budget = this.#options.capacityBytes === 0 ? '' : ` and a budget of ${this.#options.capacityBytes} bytes`;
    throw new AtollError(StatusCode.NO_SPACE, `${action}: disk ${disk} is full: ${Math.max(0, room)} bytes free above the reserve of ${this.#options.reservedBytes} bytes${budget}, ${bytes} needed`);
  }
}
