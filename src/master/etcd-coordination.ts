// The master on etcd: leader election by lease and campaign, the state as one etcd key
// per record (etcd-state-records.ts), every write fenced by the leader's election key.
//
// Election. Each master grants a lease (TTL from `etcd-lease-ttl`), keeps it alive, and
// campaigns by putting `<prefix>/election/<lease id hex>` = {nodeId, address} with that
// lease. The key with the lowest create_revision leads; its create_revision is the term.
// Every master polls the election prefix and follows the leader it names.
//
// The leader's write window (lease-window.ts). A keep-alive sent at time t that succeeds
// keeps the lease alive on etcd's side until at least t + TTL (etcd resets the TTL when
// it handles it, after t). The leader accepts writes only until t + TTL - margin, on this
// process's monotonic clock: when etcd is unreachable or this process was frozen, it stops
// writing before etcd can have expired the lease and a new leader can have been elected.
// When keep-alive answers that the lease is gone, the master campaigns again.
//
// Fencing. Every write is an etcd txn whose compare includes
// create_revision(own election key) == own create revision: once the lease expired the
// key is gone and a deposed leader's late write (in flight while it was frozen) fails.
// The counters record is also compared on its mod_revision (compare-and-swap of the id
// counters). A write whose outcome is unknown (timeout) or refused marks the in-memory
// state stale: the next write or leader read reloads it from etcd first.
//
// State. A new leader loads the whole state prefix at one revision before serving. A
// proposal applies the command to a copy of the state with the one state machine
// (state-machine.ts), writes the changed and removed records in fenced txns, and only
// then makes the new state visible. A volume's view version is the revision of the txn
// that last wrote its record (its mod_revision), so versions only grow across leaders.
import { AtollError } from '../errors/atoll-error.js';
import type { Compare, EtcdClient, KeyValue, TxnOperation } from '../etcd/etcd-client.js';
import type { Logger } from '../observability/index.js';
import { StatusCode } from '../proto/generated/common.js';
import { systemClock, type Clock } from '../time/index.js';
import { encodeCommand, type MasterCommand } from './commands.js';
import type { CoordinationStatus, MasterCoordination, Readiness } from './coordination.js';
import { LeaseWindow } from './lease-window.js';
import { chunkWrites, countersRecordKey, loadState, stateRecords, stateWrites, type LoadedRecord, type StateWrite } from './etcd-state-records.js';
import { MasterStateMachine, emptyMasterState } from './state-machine.js';
import type { MasterState } from './state.js';

export interface EtcdCoordinationLimits {
  /** How often every master reads the election prefix. */
  readonly observeIntervalMs: number;
  /**
   * A follower reloads its copy of the state at most this often, when etcd's revision
   * moved (the copy serves status and metrics; a new leader loads afresh anyway).
   */
  readonly followerRefreshMs: number;
  /** Operations in one txn: etcd's --max-txn-ops default. */
  readonly txnOpsMax: number;
  /** Bytes of records in one txn, under etcd's 1.5 MiB request limit. */
  readonly txnBytesMax: number;
  /** Records read per range while loading the state. */
  readonly loadPageRecords: number;
  /** Pause before campaigning again after etcd refused or did not answer. */
  readonly campaignRetryMs: number;
}

export const etcdCoordinationLimitsDefault: EtcdCoordinationLimits = Object.freeze({
  observeIntervalMs: 200,
  followerRefreshMs: 5_000,
  txnOpsMax: 128,
  txnBytesMax: 1024 * 1024,
  loadPageRecords: 1_000,
  campaignRetryMs: 500,
});

export interface EtcdCoordinationOptions {
  readonly client: EtcdClient;
  /** No trailing slash, e.g. /atollfs/atoll. */
  readonly prefix: string;
  readonly leaseTtlMs: number;
  readonly nodeId: number;
  readonly selfAddress: string;
  readonly clusterName: string;
  readonly logger: Logger;
  readonly limits?: Partial<EtcdCoordinationLimits>;
  /** Monotonic; default the system clock. */
  readonly clock?: Clock;
}

interface Campaign {
  readonly leaseId: string;
  readonly key: string;
  /** create_revision of our election key: the term while we lead. */
  readonly revision: number;
}

interface KnownLeader {
  readonly nodeId: number;
  readonly address: string;
  readonly revision: number;
  readonly key: string;
}

function leaseHex(leaseId: string): string {
  return BigInt(leaseId).toString(16).padStart(16, '0');
}

export class EtcdCoordination implements MasterCoordination {
  readonly backend = 'etcd';
  readonly limits: EtcdCoordinationLimits;
  readonly #options: EtcdCoordinationOptions;
  readonly #client: EtcdClient;
  readonly #electionPrefix: string;
  readonly #statePrefix: string;
  readonly #ttlSeconds: number;
  readonly #clock: Clock;
  /** Until when the leader may write (lease-window.ts). */
  readonly #window: LeaseWindow;
  #state: MasterState;
  #records = new Map<string, string>();
  #countersModRevision = 0;
  /** Orphan records found at load, deleted with the next write. */
  #orphans: string[] = [];
  /** Set when etcd may hold writes our state lacks: reload before the next write. */
  #stale = true;
  /** The term whose state the leader loaded; 0 when it has not loaded it. */
  #loadedTerm = 0;
  #campaign: Campaign | null = null;
  #leader: KnownLeader | null = null;
  #leaderSeenAt = 0;
  #lastTerm = 0;
  #lastRefreshAt = -Infinity;
  #queue: Promise<unknown> = Promise.resolve();
  #running = false;
  #stopped = false;
  #loops: Promise<void>[] = [];
  readonly #wakers = new Set<() => void>();
  #lastEtcdError = '';
  onViewsChanged: ((volumes: ReadonlySet<string>) => void) | null = null;
  /** Test hook: awaited just before a state txn is sent (a test freezes a write in flight). Never set in production. */
  beforeStateTxn: (() => Promise<void>) | null = null;

  constructor(options: EtcdCoordinationOptions) {
    this.#options = options;
    this.#client = options.client;
    this.limits = { ...etcdCoordinationLimitsDefault, ...options.limits };
    this.#electionPrefix = `${options.prefix}/election/`;
    this.#statePrefix = `${options.prefix}/state/`;
    this.#ttlSeconds = Math.ceil(options.leaseTtlMs / 1000);
    this.#clock = options.clock ?? systemClock;
    this.#window = new LeaseWindow(this.#clock);
    this.#state = emptyMasterState(options.clusterName);
  }

  get state(): MasterState {
    return this.#state;
  }

  async start(): Promise<void> {
    this.#running = true;
    this.#loops = [this.#electionLoop(), this.#keepAliveLoop()];
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const wake of [...this.#wakers]) wake();
    await Promise.all(this.#loops);
    await this.#queue.catch(() => {});
    const campaign = this.#campaign;
    this.#campaign = null;
    this.#window.close();
    // Resigning lets the next master lead at once instead of after the TTL.
    if (campaign !== null) await this.#client.leaseRevoke(campaign.leaseId).catch(() => {});
    this.#client.close();
  }

  status(): CoordinationStatus {
    // A writing leader names itself even if its last look at the election is old.
    const leader = this.#isLeader() ? this.#leader : this.#currentLeader();
    const applied = this.#state.appliedIndex;
    if (!this.#running || this.#stopped) return { role: 'loading', leaderNodeId: 0, leaderAddress: '', term: this.#lastTerm, appliedIndex: applied, commitIndex: applied };
    const role = this.#isLeader() ? 'leader' : leader !== null && leader.revision !== this.#campaign?.revision ? 'follower' : 'candidate';
    return {
      role,
      leaderNodeId: leader?.nodeId ?? 0,
      leaderAddress: leader?.address ?? '',
      term: leader?.revision ?? this.#lastTerm,
      appliedIndex: applied,
      commitIndex: applied,
    };
  }

  readiness(): Readiness {
    if (!this.#running) return { ready: false, reason: 'starting' };
    const leader = this.#currentLeader();
    if (leader === null) return { ready: false, reason: this.#lastEtcdError === '' ? 'electing a leader' : `electing a leader; etcd: ${this.#lastEtcdError}` };
    if (leader.revision === this.#campaign?.revision && !this.#isLeader()) return { ready: false, reason: this.#notWritingReason() };
    return { ready: true, details: { leader: leader.address, term: leader.revision, backend: 'etcd' } };
  }

  propose(command: MasterCommand): Promise<unknown> {
    return this.#serialized(() => this.#propose(command));
  }

  leaderRead(): Promise<void> {
    return this.#serialized(async () => {
      const campaign = this.#requireWritable();
      // A linearizable read of our own election key: still there, still ours.
      const own = await this.#client.get(campaign.key);
      if (own === undefined || own.createRevision !== campaign.revision) {
        this.#lostLease('the election key is gone');
        this.#requireWritable();
      }
      if (this.#stale) await this.#loadAsLeader(campaign);
    });
  }

  // ------------------------------------------------------------------ writes

  async #propose(command: MasterCommand): Promise<unknown> {
    let campaign = this.#requireWritable();
    if (this.#stale) await this.#loadAsLeader(campaign);
    const before = this.#state;
    const scratch = new MasterStateMachine(this.#options.clusterName);
    scratch.restore(Buffer.from(JSON.stringify(before), 'utf8'), before.appliedIndex);
    let viewsChanged: ReadonlySet<string> = new Set();
    scratch.onApplied = (_index, _command, changed) => {
      viewsChanged = changed;
    };
    // A refused command throws its AtollError here: nothing is written.
    const result = scratch.apply(before.appliedIndex + 1, encodeCommand(command));
    const after = scratch.state;
    const afterRecords = stateRecords(after);
    const writes = stateWrites(this.#records, afterRecords, viewsChanged);
    for (const orphan of this.#orphans) writes.unshift({ key: orphan, value: undefined });
    if (writes.length === 0) return result;
    let revision = before.appliedIndex;
    const writtenAt = new Map<string, number>();
    for (const chunk of chunkWrites(writes, this.limits.txnOpsMax - 1, this.limits.txnBytesMax)) {
      campaign = this.#requireWritable();
      revision = await this.#fencedTxn(campaign, chunk);
      for (const write of chunk) writtenAt.set(write.key, revision);
    }
    this.#orphans = [];
    // Visible only now that etcd holds it; versions are the revisions that wrote them.
    const visible = scratch.state as { -readonly [Key in keyof MasterState]: MasterState[Key] };
    visible.appliedIndex = revision;
    for (const volume of Object.values(visible.volumes)) {
      const at = writtenAt.get(`volumes/${volume.name}`);
      if (at !== undefined) (volume as { viewVersion: number }).viewVersion = at;
      else (volume as { viewVersion: number }).viewVersion = before.volumes[volume.name]?.viewVersion ?? volume.viewVersion;
    }
    this.#state = visible;
    this.#records = afterRecords;
    if (viewsChanged.size > 0) this.onViewsChanged?.(viewsChanged);
    return result;
  }

  async #fencedTxn(campaign: Campaign, writes: readonly StateWrite[]): Promise<number> {
    const touchesCounters = writes.some((write) => write.key === countersRecordKey);
    const compare: Compare[] = [{ key: campaign.key, target: 'create', result: 'equal', number: campaign.revision }];
    if (touchesCounters) compare.push({ key: this.#statePrefix + countersRecordKey, target: 'mod', result: 'equal', number: this.#countersModRevision });
    const success: TxnOperation[] = writes.map((write) => write.value === undefined ? { deleteRange: { key: this.#statePrefix + write.key } } : { put: { key: this.#statePrefix + write.key, value: write.value } });
    if (this.beforeStateTxn !== null) await this.beforeStateTxn();
    let outcome;
    try {
      outcome = await this.#client.txn({ compare, success, failure: [{ range: { key: campaign.key } }] });
    } catch (error) {
      // Unknown outcome (or not sent): etcd may hold it; read everything again first.
      this.#stale = true;
      this.#noteEtcdError(error);
      throw error;
    }
    if (!outcome.succeeded) {
      this.#stale = true;
      const own = outcome.ranges[0]?.[0];
      if (own === undefined || own.createRevision !== campaign.revision) {
        this.#lostLease('a fenced write found the election key gone');
        throw new AtollError(StatusCode.NOT_LEADER, 'not the master leader any more: its election key in etcd expired, the write was refused', { leaderHint: '' });
      }
      throw new AtollError(StatusCode.CONFLICT, 'the id counters in etcd changed under this leader; the state is reloaded, retry', { retryAfterMs: 100 });
    }
    if (touchesCounters) this.#countersModRevision = outcome.revision;
    return outcome.revision;
  }

  #requireWritable(): Campaign {
    const campaign = this.#campaign;
    if (this.#isLeader() && campaign !== null) return campaign;
    const leader = this.#currentLeader();
    if (campaign !== null && leader !== null && leader.revision === campaign.revision) {
      // Ours by etcd's last answer, but the write window closed or the state is loading.
      throw new AtollError(StatusCode.UNAVAILABLE, `the master leader cannot write: ${this.#notWritingReason()}; retry shortly`, { retryAfterMs: 500 });
    }
    if (leader === null || leader.address === this.#options.selfAddress) {
      throw new AtollError(StatusCode.UNAVAILABLE, `no master leader is known yet (an election in etcd is in progress${this.#lastEtcdError === '' ? '' : `; etcd: ${this.#lastEtcdError}`}); retry shortly`, { retryAfterMs: 500 });
    }
    throw new AtollError(StatusCode.NOT_LEADER, `not the master leader; the leader is ${leader.address}`, { leaderHint: leader.address });
  }

  /** Why the master etcd names leader does not write. */
  #notWritingReason(): string {
    if (this.#window.open()) return 'it is loading the state from etcd';
    return `its etcd lease could not be renewed in time${this.#lastEtcdError === '' ? '' : ` (etcd: ${this.#lastEtcdError})`}`;
  }

  #isLeader(): boolean {
    const campaign = this.#campaign;
    return campaign !== null && !this.#stopped && this.#leader?.revision === campaign.revision && this.#loadedTerm === campaign.revision && this.#window.open();
  }

  #currentLeader(): KnownLeader | null {
    // Knowledge of another leader older than a TTL may be stale: say none is known.
    if (this.#leader === null || this.#clock.nowMs() - this.#leaderSeenAt > this.#ttlSeconds * 1000) return null;
    return this.#leader;
  }

  #serialized<Value>(work: () => Promise<Value>): Promise<Value> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }

  // ------------------------------------------------------------------ election

  async #electionLoop(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (this.#campaign === null) await this.#campaignOnce();
        if (this.#campaign !== null) await this.#observe();
        this.#lastEtcdError = '';
      } catch (error) {
        this.#noteEtcdError(error);
      }
      await this.#sleep(this.#campaign === null ? this.limits.campaignRetryMs : this.limits.observeIntervalMs);
    }
  }

  async #campaignOnce(): Promise<void> {
    const sentAt = this.#clock.nowMs();
    const lease = await this.#client.leaseGrant(this.#ttlSeconds);
    const key = `${this.#electionPrefix}${leaseHex(lease.id)}`;
    const value = JSON.stringify({ nodeId: this.#options.nodeId, address: this.#options.selfAddress });
    let revision: number;
    try {
      const put = await this.#client.txn({
        compare: [{ key, target: 'create', result: 'equal', number: 0 }],
        success: [{ put: { key, value, lease: lease.id } }],
      });
      if (!put.succeeded) throw new AtollError(StatusCode.CONFLICT, `election key ${key} exists already`);
      revision = put.revision;
    } catch (error) {
      await this.#client.leaseRevoke(lease.id).catch(() => {});
      throw error;
    }
    this.#campaign = { leaseId: lease.id, key, revision };
    this.#window.renewed(sentAt, lease.ttlSeconds);
    this.#options.logger.info({ key, revision, ttlSeconds: lease.ttlSeconds }, 'campaigning for master leader in etcd');
  }

  async #observe(): Promise<void> {
    const campaign = this.#campaign!;
    const range = await this.#client.range(this.#electionPrefix, { prefix: true, sortByCreate: true });
    const first = range.kvs[0];
    if (!range.kvs.some((kv) => kv.key === campaign.key)) {
      this.#lostLease('its election key is gone');
    }
    const leader = first === undefined ? null : leaderOf(first);
    const previous = this.#leader;
    this.#leader = leader;
    this.#leaderSeenAt = this.#clock.nowMs();
    if (leader !== null) this.#lastTerm = leader.revision;
    if (leader?.revision !== previous?.revision) {
      this.#options.logger.info({ leader: leader?.address ?? '', term: leader?.revision ?? 0, self: leader?.revision === this.#campaign?.revision }, 'master leader in etcd');
    }
    const ours = this.#campaign;
    if (ours !== null && leader?.revision === ours.revision) {
      if (this.#loadedTerm !== ours.revision) await this.#serialized(() => this.#loadAsLeader(ours));
    } else {
      this.#loadedTerm = 0;
      // Not awaited: a follower's copy is for status and metrics, and the election loop
      // must not wait behind a write that is finishing.
      if (this.#clock.nowMs() - this.#lastRefreshAt >= this.limits.followerRefreshMs && range.revision !== this.#state.appliedIndex) {
        this.#lastRefreshAt = this.#clock.nowMs();
        void this.#serialized(async () => {
          if (this.#loadedTerm === 0 && !this.#stopped) await this.#load();
        }).catch((error: unknown) => this.#noteEtcdError(error));
      }
    }
  }

  async #loadAsLeader(campaign: Campaign): Promise<void> {
    await this.#load();
    this.#loadedTerm = campaign.revision;
    this.#options.logger.info({ revision: this.#state.appliedIndex, volumes: Object.keys(this.#state.volumes).length, nodes: Object.keys(this.#state.nodes).length, orphans: this.#orphans.length }, 'master leader loaded the state from etcd');
  }

  async #load(): Promise<void> {
    const records: LoadedRecord[] = [];
    // Every page at the revision of the first: one consistent snapshot.
    let revision = 0;
    let startAfter: string | undefined;
    for (let page = 0; page < 1_000_000; page++) {
      const range = await this.#client.range(this.#statePrefix, { prefix: true, startAfter, revision, limit: this.limits.loadPageRecords });
      if (revision === 0) revision = range.revision;
      for (const kv of range.kvs) records.push({ key: kv.key.slice(this.#statePrefix.length), value: kv.value.toString('utf8'), modRevision: kv.modRevision });
      if (!range.more || range.kvs.length === 0) break;
      startAfter = range.kvs[range.kvs.length - 1]!.key;
    }
    const loaded = loadState(this.#options.clusterName, records, revision);
    this.#state = loaded.state;
    this.#records = loaded.records;
    this.#orphans = [...loaded.orphans];
    this.#countersModRevision = loaded.countersModRevision;
    this.#stale = false;
  }

  #lostLease(reason: string): void {
    const campaign = this.#campaign;
    if (campaign === null) return;
    this.#campaign = null;
    this.#window.close();
    this.#loadedTerm = 0;
    this.#stale = true;
    this.#options.logger.warn({ key: campaign.key, reason }, 'master lost its etcd lease; campaigning again');
    void this.#client.leaseRevoke(campaign.leaseId).catch(() => {});
  }

  async #keepAliveLoop(): Promise<void> {
    const intervalMs = Math.max(200, Math.floor(this.#ttlSeconds * 1000 / 4));
    while (!this.#stopped) {
      const campaign = this.#campaign;
      if (campaign !== null) {
        const sentAt = this.#clock.nowMs();
        try {
          const ttlSeconds = await this.#client.leaseKeepAlive(campaign.leaseId);
          if (this.#campaign === campaign) {
            if (ttlSeconds > 0) this.#window.renewed(sentAt, ttlSeconds);
            else this.#lostLease('etcd says the lease expired');
          }
        } catch (error) {
          this.#noteEtcdError(error);
        }
      }
      await this.#sleep(intervalMs);
    }
  }

  #noteEtcdError(error: unknown): void {
    const message = (error as Error).message;
    if (message !== this.#lastEtcdError) this.#options.logger.warn({ err: message }, 'etcd request failed');
    this.#lastEtcdError = message;
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }
}

function leaderOf(kv: KeyValue): KnownLeader | null {
  try {
    const value = JSON.parse(kv.value.toString('utf8')) as { nodeId?: unknown; address?: unknown };
    return { nodeId: Number(value.nodeId ?? 0), address: String(value.address ?? ''), revision: kv.createRevision, key: kv.key };
  } catch {
    return { nodeId: 0, address: '', revision: kv.createRevision, key: kv.key };
  }
}
