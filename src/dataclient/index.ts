// Public face of the low-level data client (extents of a volume's data partitions).
export { DataClient, type DataClientOptions, type KeyToDelete } from './data-client.js';
export { ExtentWriter, writerBufferBytesMax, type AbandonedExtent, type ExtentKey } from './extent-writer.js';
export { buildDataClientLimits, dataClientLimitsDefault, type DataClientLimits } from './limits.js';
export { PartitionRouter, addressOfNode, type RouteOptions } from '../masterclient/partition-router.js';
