// Public face of the extent store of one data partition replica.
export { ExtentStore } from './extent-store.js';
export type { BadBlock, ExtentInfo, ExtentRecoveryReport, TinyLocation } from './extent-store.js';
export { buildExtentLimits, extentLimitsDefault, normalExtentIdFirst } from './limits.js';
export type { ExtentLimits } from './limits.js';
