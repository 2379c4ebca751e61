// Cluster settings: the bounds each one must stay in. Checked when an operator changes
// them (admin API) and again in apply, so a bad value never enters the state.
import type { ClusterSettings } from './state.js';

interface SettingBounds {
  readonly min: number;
  readonly max: number;
  readonly unit: string;
}

export const settingBounds: { readonly [Key in keyof ClusterSettings]: SettingBounds } = {
  nodeInactiveAfterMs: { min: 1_000, max: 3_600_000, unit: 'milliseconds' },
  replicaReplaceAfterMs: { min: 1_000, max: 30 * 86_400_000, unit: 'milliseconds' },
  metaPartitionInodeRange: { min: 1_024, max: 2 ** 40, unit: 'inodes' },
  metaPartitionSplitPercent: { min: 10, max: 95, unit: 'percent' },
  dataPartitionsWritableMin: { min: 1, max: 1_000, unit: 'partitions' },
  dataPartitionCapacityBytes: { min: 2 ** 20, max: 2 ** 40, unit: 'bytes' },
  initialMetaPartitions: { min: 1, max: 64, unit: 'partitions' },
  initialDataPartitions: { min: 1, max: 256, unit: 'partitions' },
  viewStalenessMs: { min: 100, max: 600_000, unit: 'milliseconds' },
};

export const settingNames = Object.keys(settingBounds) as Array<keyof ClusterSettings>;

/** The first problem with the settings, or null when all are in bounds. */
export function validateSettings(settings: ClusterSettings): string | null {
  for (const name of settingNames) {
    const value = settings[name];
    const bounds = settingBounds[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
      return `setting ${name}: must be an integer from ${bounds.min} to ${bounds.max} ${bounds.unit}, got ${JSON.stringify(value)}`;
    }
  }
  return null;
}
