// Public face of the write-ahead log and the snapshot store.
export { WriteAheadLog } from './write-ahead-log.js';
export type { WalOpenResult, WalRecoveryReport, WalStats } from './write-ahead-log.js';
export type { RecoveredGroup } from './log-replay.js';
export type { WalLimits } from './limits.js';
export { buildWalLimits, walLimitsDefault } from './limits.js';
export { SnapshotStore } from './snapshot-store.js';
export type { LoadedSnapshot } from './snapshot-store.js';
export type { StoredSnapshotMetadata } from './snapshot-file.js';
export type { SnapshotLimits } from './limits.js';
export { buildSnapshotLimits, snapshotLimitsDefault } from './limits.js';
