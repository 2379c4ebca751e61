// A follower's cache of client views, filled only by pushes from the leader of the
// current term (the server checks the sender before calling accept). A view is served
// only while the leader confirmed it recently (viewStalenessMs) and only if it is at
// least as new as the view the client already has; otherwise the client is sent to the
// leader. This is what keeps a follower from handing out an older view than one the
// client has seen, the failure of followers that serve views from their own lagging copy.
import type { Clock } from '../time/index.js';
import type { VolumeView, VolumeViewVersion } from '../proto/generated/master.js';

export interface ViewPush {
  readonly term: number;
  readonly appliedIndex: number;
  /** Every volume's current view version at the leader. */
  readonly versions: readonly VolumeViewVersion[];
  readonly views: readonly VolumeView[];
}

export type ViewLookup =
  | { readonly kind: 'hit'; readonly view: VolumeView }
  | { readonly kind: 'miss'; readonly reason: string };

export class FollowerViewCache {
  readonly #clock: Clock;
  readonly #views = new Map<string, VolumeView>();
  #term = 0;
  #appliedIndex = 0;
  #confirmedAtMs: number | null = null;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Takes a push of the leader; returns every view version now held. */
  accept(push: ViewPush): VolumeViewVersion[] {
    if (push.term < this.#term) return this.held();
    if (push.term > this.#term) {
      // A new leader's applied index may be below the old one's: start over.
      this.#views.clear();
      this.#appliedIndex = 0;
    }
    this.#term = push.term;
    // Pushes of one leader may arrive out of order: an older one must not roll back.
    if (push.appliedIndex < this.#appliedIndex) return this.held();
    const current = new Map(push.versions.map((entry) => [entry.volume, entry.version]));
    for (const [volume, view] of this.#views) {
      if (current.get(volume) !== view.version) this.#views.delete(volume);
    }
    for (const view of push.views) {
      if (current.get(view.volume) === view.version) this.#views.set(view.volume, view);
    }
    this.#appliedIndex = push.appliedIndex;
    this.#confirmedAtMs = this.#clock.nowMs();
    return this.held();
  }

  lookup(volume: string, knownVersion: number, stalenessMs: number): ViewLookup {
    if (this.#confirmedAtMs === null) return { kind: 'miss', reason: 'no view from the leader yet' };
    const ageMs = this.#clock.nowMs() - this.#confirmedAtMs;
    if (ageMs > stalenessMs) return { kind: 'miss', reason: `the leader last confirmed this follower's views ${Math.round(ageMs)} ms ago (bound ${stalenessMs} ms)` };
    const view = this.#views.get(volume);
    if (view === undefined) return { kind: 'miss', reason: `no view of volume ${volume} from the leader` };
    if (view.version < knownVersion) return { kind: 'miss', reason: `cached view version ${view.version} is older than the caller's ${knownVersion}` };
    return { kind: 'hit', view };
  }

  held(): VolumeViewVersion[] {
    return [...this.#views.values()].map((view) => ({ volume: view.volume, version: view.version }));
  }

  /** Forget everything (this master became leader, or lost touch with the leader's term). */
  clear(): void {
    this.#views.clear();
    this.#confirmedAtMs = null;
    this.#appliedIndex = 0;
  }

  get size(): number {
    return this.#views.size;
  }
}
