// What a metanode needs to know of each volume it holds partitions of (today its trash
// retention), from the masters' volume views, refreshed in the background. Until the
// first answer the retention is unknown: removals then skip the trash only if the view
// never arrives, and housekeeping does not expire trash it cannot judge.
import type { MasterClient } from '../masterclient/index.js';

export interface VolumeSettingsLimits {
  readonly refreshIntervalMs: number;
}

export const volumeSettingsLimitsDefault: VolumeSettingsLimits = Object.freeze({ refreshIntervalMs: 10_000 });

export class VolumeSettings {
  readonly #retentionSec = new Map<string, number>();
  readonly #fetchedAtMs = new Map<string, number>();
  readonly #inFlight = new Set<string>();

  constructor(
    private readonly masterClient: () => MasterClient | null,
    private readonly limits: VolumeSettingsLimits = volumeSettingsLimitsDefault,
  ) {}

  /** The volume's trash retention in seconds, or undefined before the masters answered. */
  trashRetentionSec(volume: string, nowMs = Date.now()): number | undefined {
    const fetchedAt = this.#fetchedAtMs.get(volume) ?? 0;
    if (nowMs - fetchedAt >= this.limits.refreshIntervalMs) this.#refresh(volume, nowMs);
    return this.#retentionSec.get(volume);
  }

  #refresh(volume: string, nowMs: number): void {
    const client = this.masterClient();
    if (client === null || this.#inFlight.has(volume)) return;
    this.#inFlight.add(volume);
    client.getVolumeView(volume).then(
      (view) => {
        this.#retentionSec.set(volume, view.trashRetentionHours * 3600);
        this.#fetchedAtMs.set(volume, nowMs);
      },
      () => undefined,
    ).finally(() => this.#inFlight.delete(volume));
  }
}
