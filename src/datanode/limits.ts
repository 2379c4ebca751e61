// Every bound of the datanode's service and repair, named with its unit last and checked
// against each other when built.
import { extentLimitsDefault } from './extent/index.js';

export interface DataNodeLimits {
  /** One append packet (the frame's payload); the extent store's packet limit. */
  readonly packetBytesMax: number;
  /** One read call. */
  readonly readBytesMax: number;
  /**
   * Reads whose blocks fit in this many bytes (a 1 MiB read and the partial blocks
   * around it) use a pooled buffer, given back once the answer is on the socket
   * (read-buffer-pool.ts); larger ones get a buffer of their own.
   */
  readonly readBufferBytes: number;
  /** Pooled read buffers kept for reuse at most (memory: this times readBufferBytes). */
  readonly readBuffersMax: number;
  /**
   * Append payloads joined from several socket chunks go into buffers of packetBytesMax
   * from a pool, given back once the packet is on disk here and, on a leader, every
   * follower answered (rpc/payload-pool.ts). Free buffers kept at most (memory: this
   * times packetBytesMax).
   */
  readonly appendBuffersFreeMax: number;
  /** A leader's forward of a packet, create, sync or delete to one follower. */
  readonly forwardDeadlineMs: number;
  /** The leader compares its extents with its followers this often. */
  readonly repairIntervalMs: number;
  /** An extent appended within this long is left alone by repair (its stream is live). */
  readonly repairIdleMs: number;
  /** Bytes one node copies for repair per second, over all its partitions. */
  readonly repairBytesPerSecondMax: number;
  /** Extents one repair round fixes per replica; the rest wait for the next round. */
  readonly repairExtentsPerRoundMax: number;
  /** How often the free space of each disk is read again (statfs). */
  readonly diskSpaceRefreshMs: number;
  /** Node id to service address, looked up in the volume view at most this often per miss. */
  readonly peerLookupIntervalMs: number;
}

export const dataNodeLimitsDefault: DataNodeLimits = Object.freeze({
  packetBytesMax: extentLimitsDefault.packetBytesMax,
  readBytesMax: 4 * 1024 * 1024,
  readBufferBytes: 1024 * 1024 + 2 * extentLimitsDefault.blockBytes,
  readBuffersMax: 32,
  appendBuffersFreeMax: 64,
  forwardDeadlineMs: 10_000,
  repairIntervalMs: 2_000,
  repairIdleMs: 3_000,
  repairBytesPerSecondMax: 128 * 1024 * 1024,
  repairExtentsPerRoundMax: 64,
  diskSpaceRefreshMs: 1_000,
  peerLookupIntervalMs: 500,
});

export function buildDataNodeLimits(overrides: Partial<DataNodeLimits> = {}): DataNodeLimits {
  const limits: DataNodeLimits = { ...dataNodeLimitsDefault, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`build datanode limits: ${name} must be a positive safe integer: ${value}`);
  }
  if (limits.packetBytesMax > extentLimitsDefault.packetBytesMax) throw new RangeError(`build datanode limits: packetBytesMax ${limits.packetBytesMax} is over the extent store's ${extentLimitsDefault.packetBytesMax}`);
  if (limits.readBytesMax > extentLimitsDefault.readBytesMax) throw new RangeError(`build datanode limits: readBytesMax ${limits.readBytesMax} is over the extent store's ${extentLimitsDefault.readBytesMax}`);
  if (limits.repairBytesPerSecondMax < limits.packetBytesMax) throw new RangeError('build datanode limits: repairBytesPerSecondMax must allow one packet per second');
  return Object.freeze(limits);
}
