// The metanode: meta partitions (a volume's namespace by inode range) replicated by Raft,
// their storage engines, and the MetaNode RPC service.
export { MetaPartition, rootIno, type MetaPartitionOptions } from './meta-partition.js';
export { registerMetaService } from './meta-service.js';
export { metaPartitionFactory, metanodePlug } from './metanode-plug.js';
