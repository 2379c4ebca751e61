// A metanode's or datanode's membership in the cluster (registration, heartbeats) and the
// partitions it holds (Raft groups, staged start-up, the master's tasks).
export { NodeAgent, type NodeAgentOptions, type NodeIdentity, type NodeUsageReport } from './node-agent.js';
export { startNodeRole, type NodeRole, type NodeRoleOptions, type NodeRolePlug } from './node-role.js';
export { PartitionHost, partitionHostLimitsDefault, type PartitionHostLimits, type PartitionHostOptions } from './partition-host.js';
export type { HostedPartition, PartitionContext, PartitionFactory, PartitionSpec, PartitionStateHash, PartitionUsage } from './hosted-partition.js';
export type { PartitionState } from './partition-host.js';
