// Public face of the extent store of one data partition replica.
export { ExtentStore } from './extent-store.js';
export type { BadBlock, ExtentInfo, ExtentRecoveryReport, ExtentStoreOptions, TinyLocation } from './extent-store.js';
export { punchHoleWithFallocate, type HolePuncher } from './hole-punch.js';
export { buildExtentLimits, extentLimitsDefault, normalExtentIdFirst } from './limits.js';
export type { ExtentLimits } from './limits.js';
export { hashExtentState, type ExtentDigestInput, type ExtentStateHash } from './state-hash.js';
