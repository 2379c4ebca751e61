// Public face of the Raft core. Internals (Raft, RaftLog, Progress...) stay private so
// they can change without breaking the multi-raft host.
export type { ConfChange } from './conf-change.js';
export { ConfChangeType, decodeConfChange, encodeConfChange } from './conf-change.js';
export type { RaftConfig, RaftSimulationFaults } from './config.js';
export { RaftError, RaftErrorCode } from './errors.js';
export { RaftAssertionError } from './assert.js';
export type { RaftLimits } from './limits.js';
export { buildRaftLimits, raftLimitsDefault } from './limits.js';
export { MemoryStorage } from './memory-storage.js';
export type { MemoryStorageOptions } from './memory-storage.js';
export type { Message } from './messages.js';
export { MessageType, campaignTransferContext, makeMessage } from './messages.js';
export { ProgressState } from './progress.js';
export { ReadOnlyOption } from './read-only.js';
export type { ProgressStatus, Ready, Status } from './raw-node.js';
export { RawNode } from './raw-node.js';
export type { InitialState, Storage } from './storage.js';
export { StorageError, StorageErrorCode } from './storage.js';
export type { ConfState, Entry, HardState, LogIndex, NodeId, ReadState, Snapshot, SnapshotMetadata, SoftState, Term } from './types.js';
export { EntryType, Role, emptyHardState, isEmptySnapshot, logIndex, noNode, nodeId, term } from './types.js';
