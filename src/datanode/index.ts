// Public face of the datanode: data partitions (extent store, primary-backup appends,
// Raft overwrites, repair) and the plug that puts them into a node process.
export { datanodePlug } from './plug.js';
export { DataPartition } from './data-partition.js';
export { buildDataNodeLimits, dataNodeLimitsDefault, type DataNodeLimits } from './limits.js';
export { chooseDisk, roomOf, DiskSpace } from './disk-space.js';
export { planRepair, type RepairPlan, type ReplicaReport } from './repair-plan.js';
