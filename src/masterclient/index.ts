// Public face of the master client: the one way nodes, the SDK and the CLI reach the
// master group.
export {
  MasterClient,
  type AdminCallOptions,
  type AdminResult,
  type MasterCallOptions,
  type MasterClientLogger,
  type MasterClientOptions,
  type MasterClientState,
  type MasterState,
} from './master-client.js';
export { defaultMasterClientLimits, masterClientLimits, type MasterClientLimits } from './limits.js';
export { PartitionRouter, addressOfNode, neverDelivered, toAtollError, type PartitionKindName, type RouteLimits, type RouteOptions } from './partition-router.js';
