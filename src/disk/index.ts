// Public face of the disk layer: the Disk interface and its two implementations.
export type { Disk, DiskFile } from './disk.js';
export { diskError } from './disk-error.js';
export { NodeDisk } from './node-disk.js';
export { SimulatedDisk } from './simulated-disk.js';
export type { CrashOptions, SimulatedDiskOptions } from './simulated-disk.js';
export { CountingDisk } from './counting-disk.js';
export type { DiskOperationCounts } from './counting-disk.js';
