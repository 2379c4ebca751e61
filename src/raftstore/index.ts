export { RaftHost, type RaftHostOptions, type CreateGroupOptions, type GroupStatus, type RaftHostLogger } from './raft-host.js';
export type { RecoveredGroupState } from './raft-group.js';
export type { GroupId, GroupMessage, GroupStateMachine, PeerAddress, RaftPersistence, RaftTransport } from './types.js';
export { raftHostLimitsDefault, type RaftHostLimits } from './limits.js';
export { RpcRaftTransport, registerRaftTransport, type RpcRaftTransportOptions } from './rpc-transport.js';
export { WalPersistence, openWalPersistence } from './wal-persistence.js';
