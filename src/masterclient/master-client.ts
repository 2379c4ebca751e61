// The client of the master group, shared by nodes, the SDK and the CLI. It holds the
// configured master addresses, learns which one leads (from periodic ClusterInfo health
// checks and from the hints of NOT_LEADER and STALE_VIEW answers), and runs every call
// through one bounded retry loop: redirects are followed at once, other retryable
// failures move to the next master after an exponential backoff with jitter, and the
// whole call gives up with its last error once its attempts or its time budget run out.
//
// Time, timers and jitter come from the injected Clock, Timers and Random, so a test can
// drive them; the only I/O is through the shared RpcClient.
import { randomInt } from 'node:crypto';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { AdminRequest, Master, type AdminResponse, type ClusterInfoResponse, type VolumeView } from '../proto/generated/master.js';
import { createRandom, type Random } from '../random/index.js';
import { parseAddress, silentRpcLogger, type MethodDescriptor, type RpcClient, type RpcLogger } from '../rpc/index.js';
import { SystemTimers, systemClock, type Clock, type TimerHandle, type Timers } from '../time/index.js';
import { masterClientLimits, type MasterClientLimits } from './limits.js';

export type MasterClientLogger = RpcLogger;

export interface MasterClientOptions {
  // Service addresses (host:port) of the masters, from `masters = [...]` or repeated -p.
  readonly masters: readonly string[];
  // The shared RPC client (it holds the cluster secret); not closed by stop().
  readonly rpc: RpcClient;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: Random;
  readonly limits?: Partial<MasterClientLimits>;
  readonly logger?: MasterClientLogger;
  // Admin API token sent with every admin() call that does not give its own.
  readonly adminToken?: string;
}

export interface MasterCallOptions {
  // Deadline of each attempt; default limits.callDeadlineMs. Cut to the budget left.
  readonly deadlineMs?: number;
  // Time all attempts and backoffs of this call may take; default limits.retryTotalMs.
  readonly retryTotalMs?: number;
}

export interface AdminCallOptions extends MasterCallOptions {
  // Overrides the client's adminToken for this call.
  readonly adminToken?: string;
}

export interface AdminResult {
  // The HTTP status the admin API answered with (200, 201, 404, 503...).
  readonly status: number;
  // The parsed JSON body; null when the body was empty.
  readonly body: unknown;
  // Service address of the master that handled the request.
  readonly handledBy: string;
}

export interface MasterState {
  readonly address: string;
  // Whether the last health check or call reached it (false until first checked).
  readonly healthy: boolean;
  readonly lastCheckedMsAgo: number | null;
  readonly lastError: string | null;
  readonly isLeader: boolean;
  // The term it reported at its last successful health check (0 before one).
  readonly term: number;
}

export interface MasterClientState {
  readonly masters: MasterState[];
  // The leader's service address as this client believes it, or null.
  readonly leader: string | null;
}

interface MasterHealth {
  readonly address: string;
  // null: never heard of yet (neither checked nor called).
  healthy: boolean | null;
  checkedAtMs: number | null;
  lastError: string | null;
  term: number;
  checking: Promise<void> | null;
}

type Routing = 'leader' | 'follower' | 'admin';

// An answer that arrived but counts as a failure (an older view than one seen, an admin
// 503 during an election); kept so that admin() can hand back the last one on give-up.
class RejectedAnswer<Response> extends AtollError {
  constructor(
    status: StatusCode,
    message: string,
    readonly answer: Response,
    leaderHint = '',
  ) {
    super(status, message, { leaderHint });
  }
}

interface RetryPlan<Response> {
  readonly label: string;
  readonly routing: Routing;
  readonly options: MasterCallOptions | undefined;
  attempt(address: string, deadlineMs: number): Promise<Response>;
  // An error to retry with instead of accepting the answer, or null to accept it.
  judge?(answer: Response, address: string): RejectedAnswer<Response> | null;
  retryable(error: AtollError): boolean;
}

const idempotentAdminMethods = new Set(['GET', 'HEAD']);

export class MasterClient {
  readonly limits: MasterClientLimits;
  private readonly masters: MasterHealth[];
  private readonly rpc: RpcClient;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly random: Random;
  private readonly logger: MasterClientLogger;
  private readonly adminToken: string;
  private leader: string | null = null;
  // Highest term any master reported in a health check; older reports do not move the leader.
  private leaderTerm = 0;
  private cursor = 0;
  private readonly viewVersions = new Map<string, number>();
  private started = false;
  private stopped = false;
  private healthTimer: TimerHandle | null = null;
  private healthRound: Promise<void> | null = null;
  // Backoff waits in progress, woken early by stop().
  private readonly sleepers = new Set<() => void>();

  constructor(options: MasterClientOptions) {
    this.limits = masterClientLimits(options.limits);
    if (options.masters.length === 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'master client: no master addresses given');
    const seen = new Set<string>();
    this.masters = options.masters.map((given) => {
      const address = given.trim();
      parseAddress(address);
      if (seen.has(address)) throw new AtollError(StatusCode.INVALID_ARGUMENT, `master client: master ${address} is listed twice`);
      seen.add(address);
      return { address, healthy: null, checkedAtMs: null, lastError: null, term: 0, checking: null };
    });
    this.rpc = options.rpc;
    this.clock = options.clock ?? systemClock;
    // Not unref'd: a backoff wait must keep a CLI process alive until the call ends.
    this.timers = options.timers ?? new SystemTimers();
    this.random = options.random ?? createRandom(randomInt(0x1_0000_0000));
    this.logger = options.logger ?? silentRpcLogger;
    this.adminToken = options.adminToken ?? '';
  }

  // ------------------------------------------------------------------ lifetime

  /** Starts the periodic health checks: one round now, then one every healthCheckIntervalMs. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.runHealthRound();
  }

  /** Ends the health checks and fails calls still waiting for a retry. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.healthTimer !== null) {
      this.timers.clearTimer(this.healthTimer);
      this.healthTimer = null;
    }
    for (const wake of [...this.sleepers]) wake();
    this.sleepers.clear();
    await Promise.all(this.masters.map((master) => master.checking ?? Promise.resolve()));
  }

  // ------------------------------------------------------------------ calls

  /**
   * A call only the leader serves: to the known leader (else any healthy master),
   * following NOT_LEADER hints and failing over on retryable errors.
   */
  call<Request, Response>(method: MethodDescriptor<Request, Response>, request: Request, options?: MasterCallOptions): Promise<Response> {
    return this.withRetries<Response>({
      label: method.name,
      routing: 'leader',
      options,
      attempt: async (address, deadlineMs) => {
        const response = await this.rpc.call(address, method, request, { deadlineMs });
        this.setLeader(address, 'answered a leader-only call');
        return response;
      },
      retryable: (error) => error.retryable,
    });
  }

  /**
   * A call any master may answer from its view cache (GetVolumeView): spread round-robin
   * over the healthy masters; STALE_VIEW goes to the hinted (or known) leader.
   */
  callFollowerReadable<Request, Response>(method: MethodDescriptor<Request, Response>, request: Request, options?: MasterCallOptions): Promise<Response> {
    return this.withRetries<Response>({
      label: method.name,
      routing: 'follower',
      options,
      attempt: (address, deadlineMs) => this.rpc.call(address, method, request, { deadlineMs }),
      retryable: (error) => error.retryable,
    });
  }

  /**
   * The volume's partition view, never older than one this client has seen: the highest
   * version seen goes out as known_version, and an older answer is retried at the leader.
   */
  async getVolumeView(volume: string, options?: MasterCallOptions): Promise<VolumeView> {
    const view = await this.withRetries<VolumeView>({
      label: Master.getVolumeView.name,
      routing: 'follower',
      options,
      attempt: (address, deadlineMs) =>
        this.rpc.call(address, Master.getVolumeView, { volume, knownVersion: this.knownViewVersion(volume) }, { deadlineMs }),
      judge: (answer, address) => {
        const known = this.knownViewVersion(volume);
        if (answer.version >= known) return null;
        return new RejectedAnswer(StatusCode.STALE_VIEW, `GetVolumeView: ${address} answered view version ${answer.version} of volume ${volume}, older than version ${known} already seen`, answer);
      },
      retryable: (error) => error.retryable,
    });
    this.rememberViewVersion(volume, view.version);
    return view;
  }

  /** The newest view version seen for a volume (0 when none). */
  knownViewVersion(volume: string): number {
    return this.viewVersions.get(volume) ?? 0;
  }

  /**
   * The admin API over RPC. Masters forward admin requests to their leader themselves,
   * so this goes to the known leader or else any healthy master, and retries only
   * transport failures and a 503 NOT_LEADER/UNAVAILABLE answer (an election). A GET is
   * also retried after a TIMEOUT; a mutation is not (it may have been applied). When the
   * budget runs out on 503 answers the last one is returned, not thrown.
   */
  async admin(method: string, path: string, body?: unknown, options?: AdminCallOptions): Promise<AdminResult> {
    const verb = method.toUpperCase();
    const request = AdminRequest.create({
      method: verb,
      path,
      bodyJson: body === undefined ? '' : JSON.stringify(body),
      adminToken: options?.adminToken ?? this.adminToken,
    });
    const label = `admin ${verb} ${path}`;
    const retryTimeouts = idempotentAdminMethods.has(verb);
    let answer: AdminResponse;
    try {
      answer = await this.withRetries<AdminResponse>({
        label,
        routing: 'admin',
        options,
        attempt: (address, deadlineMs) => this.rpc.call(address, Master.admin, request, { deadlineMs }),
        judge: (response, address) => {
          if (response.httpStatus !== 503) return null;
          const code = errorCodeOf(parseBody(response.bodyJson, label, address));
          if (code !== 'NOT_LEADER' && code !== 'UNAVAILABLE') return null;
          return new RejectedAnswer(StatusCode.UNAVAILABLE, `${label}: ${address} answered 503 ${code}`, response);
        },
        retryable: (error) => {
          if (error instanceof RejectedAnswer) return true;
          if (error.status === StatusCode.TIMEOUT) return retryTimeouts;
          return error.status === StatusCode.UNAVAILABLE || error.status === StatusCode.OVERLOADED || error.status === StatusCode.NOT_LEADER;
        },
      });
    } catch (error) {
      if (!(error instanceof RejectedAnswer)) throw error;
      answer = error.answer as AdminResponse;
    }
    return { status: answer.httpStatus, body: parseBody(answer.bodyJson, label, answer.handledBy), handledBy: answer.handledBy };
  }

  // ------------------------------------------------------------------ health

  /** Runs one health check of every master now and waits for all of them. */
  refreshHealth(): Promise<void> {
    return Promise.all(this.masters.map((master) => this.checkMaster(master))).then(() => undefined);
  }

  /** What `atoll cluster status` shows: each master's health and the leader. */
  state(): MasterClientState {
    const now = this.clock.nowMs();
    return {
      masters: this.masters.map((master) => ({
        address: master.address,
        healthy: master.healthy === true,
        lastCheckedMsAgo: master.checkedAtMs === null ? null : Math.max(0, Math.round(now - master.checkedAtMs)),
        lastError: master.lastError,
        isLeader: master.address === this.leader,
        term: master.term,
      })),
      leader: this.leader,
    };
  }

  private runHealthRound(): void {
    if (this.stopped || this.healthRound !== null) return;
    this.healthRound = this.refreshHealth().finally(() => {
      this.healthRound = null;
      if (this.stopped) return;
      this.healthTimer = this.timers.setTimer(this.limits.healthCheckIntervalMs, () => {
        this.healthTimer = null;
        this.runHealthRound();
      });
    });
  }

  private checkMaster(master: MasterHealth): Promise<void> {
    if (master.checking !== null) return master.checking;
    const check = this.rpc.call(master.address, Master.clusterInfo, {}, { deadlineMs: this.limits.healthCheckDeadlineMs }).then(
      (info) => this.recordHealthy(master, info),
      (error: unknown) => this.recordUnhealthy(master, messageOf(error), true),
    );
    master.checking = check.finally(() => {
      master.checking = null;
    });
    return master.checking;
  }

  private recordHealthy(master: MasterHealth, info: ClusterInfoResponse): void {
    if (master.healthy !== true) this.logger.info({ master: master.address, term: info.term, leader: info.leader }, 'master reachable');
    master.healthy = true;
    master.checkedAtMs = this.clock.nowMs();
    master.lastError = null;
    master.term = info.term;
    if (info.term > this.leaderTerm) {
      this.leaderTerm = info.term;
      this.setLeader(info.leader === '' ? null : info.leader, `health check of ${master.address} (term ${info.term})`);
    } else if (info.term === this.leaderTerm && info.leader !== '') {
      this.setLeader(info.leader, `health check of ${master.address} (term ${info.term})`);
    }
  }

  private recordUnhealthy(master: MasterHealth, reason: string, fromHealthCheck: boolean): void {
    if (master.healthy !== false) this.logger.warn({ master: master.address, reason }, 'master unreachable');
    master.healthy = false;
    master.lastError = reason;
    if (fromHealthCheck) master.checkedAtMs = this.clock.nowMs();
    if (this.leader === master.address) this.setLeader(null, `${master.address} unreachable`);
  }

  private setLeader(address: string | null, why: string): void {
    if (address !== null && !isValidAddress(address)) return;
    if (this.leader === address) return;
    this.logger.info({ leader: address, previous: this.leader, why }, 'master leader changed');
    this.leader = address;
  }

  // ------------------------------------------------------------------ the retry loop

  private async withRetries<Response>(plan: RetryPlan<Response>): Promise<Response> {
    const budgetMs = plan.options?.retryTotalMs ?? this.limits.retryTotalMs;
    const attemptDeadlineMs = plan.options?.deadlineMs ?? this.limits.callDeadlineMs;
    const startedMs = this.clock.nowMs();
    const tried = new Set<string>();
    let redirect: string | null = null;
    let redirects = 0;
    let failures = 0;
    let lastError: AtollError | null = null;
    let lastRejected: RejectedAnswer<unknown> | null = null;
    for (let attempt = 1; attempt <= this.limits.retryAttemptsMax; attempt++) {
      if (this.stopped) throw lastError ?? new AtollError(StatusCode.UNAVAILABLE, `${plan.label}: master client is stopped`);
      const remainingMs = budgetMs - (this.clock.nowMs() - startedMs);
      if (attempt > 1 && remainingMs <= 0) break;
      const address = redirect ?? this.pickTarget(plan.routing, tried);
      redirect = null;
      let error: AtollError;
      try {
        const answer = await plan.attempt(address, Math.max(1, Math.min(attemptDeadlineMs, remainingMs)));
        const rejected = plan.judge?.(answer, address) ?? null;
        if (rejected === null) {
          this.recordReached(address);
          return answer;
        }
        error = rejected;
      } catch (thrown) {
        if (!(thrown instanceof AtollError)) throw thrown;
        error = thrown;
      }
      lastError = error;
      if (error instanceof RejectedAnswer) lastRejected = error;
      // A master that answered is reachable: a refused answer (a 503 during an election,
      // a view older than one seen) does not make it a failed choice for the next attempt.
      if (!(error instanceof RejectedAnswer)) tried.add(address);
      if (!plan.retryable(error)) throw error;
      this.recordFailure(address, error);
      const hint = this.hintAfter(error, address);
      if (hint !== null && redirects < this.limits.redirectsMax) {
        redirects += 1;
        redirect = hint;
        this.logger.debug({ call: plan.label, from: address, to: hint, status: error.statusName }, 'master call redirected');
        continue;
      }
      if (hint !== null) redirect = hint;
      failures += 1;
      const delayMs = this.backoffMs(failures);
      const leftMs = budgetMs - (this.clock.nowMs() - startedMs);
      if (delayMs >= leftMs) break;
      this.logger.debug({ call: plan.label, master: address, status: error.statusName, attempt, delayMs }, 'master call failed; retrying');
      await this.sleep(delayMs);
    }
    // A master's answer (a 503 during an election) says more than the timeout of a last
    // attempt that had only the budget's tail, or a master that could not be reached.
    // Only retryable errors get here (reads, or calls that reached no master), so handing
    // back the earlier answer hides no effect.
    const given: AtollError = lastRejected !== null && !(lastError instanceof RejectedAnswer) ? lastRejected : lastError ?? new AtollError(StatusCode.UNAVAILABLE, `${plan.label}: no attempt made`);
    this.logger.warn({ call: plan.label, status: given.statusName, error: given.message }, 'master call gave up');
    throw given;
  }

  // Where a NOT_LEADER or STALE_VIEW answer sends the next attempt: the hint, or for a
  // stale view the leader this client knows; null when there is nowhere new to go.
  private hintAfter(error: AtollError, address: string): string | null {
    if (error.status !== StatusCode.NOT_LEADER && error.status !== StatusCode.STALE_VIEW) return null;
    const hint = error.leaderHint;
    if (hint !== '' && hint !== address && isValidAddress(hint)) {
      this.setLeader(hint, `${error.statusName} hint from ${address}`);
      return hint;
    }
    if (error.status === StatusCode.NOT_LEADER && this.leader === address) this.setLeader(null, `${address} is not the leader`);
    if (error.status === StatusCode.STALE_VIEW && this.leader !== null && this.leader !== address) return this.leader;
    return null;
  }

  private recordFailure(address: string, error: AtollError): void {
    if (error.status !== StatusCode.UNAVAILABLE && error.status !== StatusCode.TIMEOUT) return;
    if (error instanceof RejectedAnswer) return;
    const master = this.masters.find((candidate) => candidate.address === address);
    if (master !== undefined) this.recordUnhealthy(master, error.message, false);
    else if (this.leader === address) this.setLeader(null, `${address} unreachable`);
  }

  private recordReached(address: string): void {
    const master = this.masters.find((candidate) => candidate.address === address);
    if (master === undefined || master.healthy === true) return;
    master.healthy = true;
    master.lastError = null;
  }

  // The next master to try. Leader and admin calls go to the known leader unless it
  // failed in this call; follower reads rotate. Among the rest: healthy ones first, then
  // ones never heard of, then unhealthy ones, each group in rotation; once all failed in
  // this call, a new round starts.
  private pickTarget(routing: Routing, tried: Set<string>): string {
    if (routing !== 'follower' && this.leader !== null && !tried.has(this.leader)) return this.leader;
    if (tried.size > 0 && this.masters.every((master) => tried.has(master.address))) tried.clear();
    const classOf = (master: MasterHealth): number => (master.healthy === true ? 2 : master.healthy === null ? 1 : 0);
    let best: MasterHealth | null = null;
    let bestOffset = 0;
    for (let offset = 0; offset < this.masters.length; offset++) {
      const master = this.masters[(this.cursor + offset) % this.masters.length]!;
      if (tried.has(master.address)) continue;
      if (best === null || classOf(master) > classOf(best)) {
        best = master;
        bestOffset = offset;
      }
    }
    // tried was cleared above when it held every master, so one is always left.
    const chosen = best ?? this.masters[this.cursor % this.masters.length]!;
    this.cursor = (this.cursor + bestOffset + 1) % this.masters.length;
    return chosen.address;
  }

  // Exponential, capped, with "equal jitter": half fixed, half random, so clients that
  // failed together do not retry together.
  private backoffMs(failures: number): number {
    const exponent = Math.min(30, failures - 1);
    const base = Math.min(this.limits.retryBackoffMaxMs, this.limits.retryBackoffInitialMs * 2 ** exponent);
    return Math.round(base / 2 + this.random.nextFloat() * (base / 2));
  }

  private sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      let handle: TimerHandle | null = null;
      const wake = (): void => {
        this.sleepers.delete(wake);
        if (handle !== null) this.timers.clearTimer(handle);
        resolve();
      };
      this.sleepers.add(wake);
      handle = this.timers.setTimer(delayMs, wake);
    });
  }

  private rememberViewVersion(volume: string, version: number): void {
    const known = this.viewVersions.get(volume);
    if (known !== undefined && known >= version) return;
    this.viewVersions.delete(volume);
    this.viewVersions.set(volume, version);
    if (this.viewVersions.size > this.limits.viewVersionsTrackedMax) {
      const oldest = this.viewVersions.keys().next().value as string;
      this.viewVersions.delete(oldest);
    }
  }
}

function isValidAddress(address: string): boolean {
  try {
    parseAddress(address);
    return true;
  } catch {
    return false;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function parseBody(bodyJson: string, label: string, address: string): unknown {
  if (bodyJson === '') return null;
  try {
    return JSON.parse(bodyJson) as unknown;
  } catch (error) {
    throw new AtollError(StatusCode.INTERNAL, `${label}: ${address} answered a body that is not JSON: ${messageOf(error)}`);
  }
}

// `error.code` of an admin API error body ({error: {code, message}}), if it has one.
function errorCodeOf(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return null;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : null;
}
