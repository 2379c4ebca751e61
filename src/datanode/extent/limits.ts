// Every bound of one data partition's extent store, named with its unit last and checked
// against each other when built: a bad configuration is refused at start.

export interface ExtentLimits {
  /** One CRC32 covers this many bytes of an extent (the last block may be partial). */
  readonly blockBytes: number;
  /** An extent never grows past this; an append beyond it is refused with TOO_LARGE. */
  readonly extentBytesMax: number;
  /** One append or overwrite call: a packet of the write protocol. */
  readonly packetBytesMax: number;
  /**
   * Appends to one extent queued back to back are joined into one write of at most this
   * many bytes (one system call instead of one per packet).
   */
  readonly appendBatchBytesMax: number;
  /** One read call: the bytes and the blocks around them are held in memory at once. */
  readonly readBytesMax: number;
  /** Shared tiny extents of the partition, ids 1..tinyExtentCount. */
  readonly tinyExtentCount: number;
  /** One small file written into a tiny extent. */
  readonly tinyWriteBytesMax: number;
  /** Every tiny write starts at a multiple of this (a page: what hole punching frees). */
  readonly tinyAlignmentBytes: number;
  /** Extent ids made durable in advance with one metadata write (see design.md). */
  readonly extentIdReserveCount: number;
}

const kibibyte = 1024;
const mebibyte = 1024 * kibibyte;

/** Normal extents get ids from here on; the ids below are for tiny extents. */
export const normalExtentIdFirst = 1024;

export const extentLimitsDefault: Readonly<ExtentLimits> = Object.freeze({
  blockBytes: 128 * kibibyte,
  extentBytesMax: 128 * mebibyte,
  packetBytesMax: 128 * kibibyte,
  appendBatchBytesMax: 4 * mebibyte,
  readBytesMax: 8 * mebibyte,
  tinyExtentCount: 8,
  tinyWriteBytesMax: 128 * kibibyte,
  tinyAlignmentBytes: 4 * kibibyte,
  extentIdReserveCount: 1024,
});

export function buildExtentLimits(overrides: Partial<ExtentLimits> = {}): ExtentLimits {
  const limits: ExtentLimits = { ...extentLimitsDefault, ...overrides };
  const refuse = (reason: string): never => {
    throw new RangeError(`build extent limits: ${reason}`);
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) refuse(`${name} must be a positive safe integer: ${value}`);
  }
  if (limits.extentBytesMax % limits.blockBytes !== 0) {
    refuse(`extentBytesMax must be a whole number of blocks: extentBytesMax=${limits.extentBytesMax} blockBytes=${limits.blockBytes}`);
  }
  if (limits.extentBytesMax / limits.blockBytes > 0xffff_ffff) refuse(`the block count must fit the u32 of the CRC table: ${limits.extentBytesMax / limits.blockBytes}`);
  if (limits.packetBytesMax > limits.extentBytesMax) refuse(`packetBytesMax must not exceed extentBytesMax: ${limits.packetBytesMax} > ${limits.extentBytesMax}`);
  if (limits.tinyWriteBytesMax > limits.packetBytesMax) refuse(`tinyWriteBytesMax must not exceed packetBytesMax: ${limits.tinyWriteBytesMax} > ${limits.packetBytesMax}`);
  if (limits.blockBytes % limits.tinyAlignmentBytes !== 0) {
    // Freed pages are tracked in a bitmap and zeroed; a page never straddles two blocks.
    refuse(`tinyAlignmentBytes must divide blockBytes: tinyAlignmentBytes=${limits.tinyAlignmentBytes} blockBytes=${limits.blockBytes}`);
  }
  if (limits.tinyExtentCount >= normalExtentIdFirst) refuse(`tinyExtentCount must stay below ${normalExtentIdFirst}: ${limits.tinyExtentCount}`);
  if (limits.appendBatchBytesMax < limits.packetBytesMax) refuse(`appendBatchBytesMax must be at least packetBytesMax: ${limits.appendBatchBytesMax} < ${limits.packetBytesMax}`);
  if (limits.readBytesMax < limits.packetBytesMax) refuse(`readBytesMax must be at least packetBytesMax: ${limits.readBytesMax} < ${limits.packetBytesMax}`);
  return Object.freeze(limits);
}
