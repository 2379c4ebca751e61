// Bounds of the low-level data client, units last, checked when built.
export interface DataClientLimits {
  /** Bytes per append packet (the datanode refuses more than 128 KiB). */
  readonly packetBytes: number;
  /** Packets of one writer in flight at once (as many more may wait queued behind them). */
  readonly windowPackets: number;
  /** A writer starts a new extent before an extent would pass this size. */
  readonly extentBytesMax: number;
  /** Bytes per read call. */
  readonly readChunkBytes: number;
  /** Read calls of one read in flight at once. */
  readonly readWindow: number;
  /** Attempts of one call across replicas, redirects and waits. */
  readonly attemptsMax: number;
  /** Time one call may spend retrying. */
  readonly retryTotalMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly callDeadlineMs: number;
  /** Extents one writer may abandon after failures before it gives up. */
  readonly extentFailuresMax: number;
  /** A partition that failed a write is not chosen again for this long. */
  readonly partitionExcludeMs: number;
  /** writeSmall puts a file of up to this many bytes into a shared tiny extent (one packet). */
  readonly tinyFileBytesMax: number;
  /** Partitions one small file tries before it goes to a normal extent. */
  readonly tinyPartitionsTriedMax: number;
  /** A partition that refused a small file is not asked for one again for this long. */
  readonly tinyPartitionExcludeMs: number;
}

export const dataClientLimitsDefault: DataClientLimits = Object.freeze({
  packetBytes: 128 * 1024,
  windowPackets: 32,
  extentBytesMax: 128 * 1024 * 1024,
  readChunkBytes: 1024 * 1024,
  readWindow: 8,
  attemptsMax: 40,
  retryTotalMs: 60_000,
  backoffInitialMs: 50,
  backoffMaxMs: 1_000,
  callDeadlineMs: 15_000,
  extentFailuresMax: 16,
  partitionExcludeMs: 30_000,
  tinyFileBytesMax: 128 * 1024,
  tinyPartitionsTriedMax: 3,
  tinyPartitionExcludeMs: 5_000,
});

export function buildDataClientLimits(overrides: Partial<DataClientLimits> = {}): DataClientLimits {
  const limits = { ...dataClientLimitsDefault, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`data client limits: ${name} must be a positive safe integer: ${value}`);
  }
  if (limits.packetBytes > 128 * 1024) throw new RangeError(`data client limits: packetBytes ${limits.packetBytes} is over the datanode's 128 KiB`);
  if (limits.extentBytesMax < limits.packetBytes) throw new RangeError('data client limits: extentBytesMax below packetBytes');
  if (limits.tinyFileBytesMax > 128 * 1024) throw new RangeError(`data client limits: tinyFileBytesMax ${limits.tinyFileBytesMax} is over the datanode's 128 KiB tiny write`);
  if (limits.backoffInitialMs > limits.backoffMaxMs) throw new RangeError('data client limits: backoffInitialMs above backoffMaxMs');
  return Object.freeze(limits);
}
