// Client side of the meta partitions: routing by inode range, leader caching, redirects.
export { MetaClient, metaClientLimitsDefault, type MetaCallOptions, type MetaClientLimits, type MetaClientOptions } from './meta-client.js';
export { renameAcrossPartitions, type CrossRename } from './rename-across.js';
