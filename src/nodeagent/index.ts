// A metanode's or datanode's membership in the cluster: registration and heartbeats.
export { NodeAgent, type NodeAgentOptions, type NodeIdentity, type NodeUsageReport } from './node-agent.js';
export { startNodeRole, type NodeRole } from './node-role.js';
