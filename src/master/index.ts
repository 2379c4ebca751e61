// The master: the replicated cluster manager (nodes, volumes, partitions, placement).
export { MasterServer, masterGroupId, type MasterServerOptions, type MasterFaults } from './master-server.js';
export { MasterStateMachine, emptyMasterState } from './state-machine.js';
export { AdminApi, type AdminReply, type AdminRequest } from './admin-api.js';
export { masterLimits, masterLimitsDefault, type MasterLimits } from './limits.js';
export type * from './state.js';
