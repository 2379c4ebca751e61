// One master instance: its coordination (the embedded Raft group or etcd, coordination.ts)
// on the instance runtime, the RPC methods of the Master service, the admin API on HTTP
// and RPC, and the leader's background loops. Nothing here depends on the backend.
//
// Who does what:
// - Every master: answers cluster info from its coordination status and its probes of the
//   other members; forwards admin requests to the leader; serves volume views from the
//   cache the leader fills (view-cache.ts), or redirects to the leader.
// - The leader only: changes state (proposals), answers node registrations and
//   heartbeats, gathers heartbeat facts and records them in batches, runs the planner,
//   and pushes view versions to followers.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MasterConfig } from '../config/index.js';
import { AtollError } from '../errors/atoll-error.js';
import { EtcdClient } from '../etcd/etcd-client.js';
import { ServerInstance } from '../instance/index.js';
import type { Logger } from '../observability/index.js';
import { StatusCode } from '../proto/generated/common.js';
import {
  Master,
  NodeRole,
  PartitionKind,
  type AdminRequest as AdminRpcRequest,
  type AdminResponse,
  type ClusterInfoResponse,
  type MasterPeerStatusResponse,
  type PushViewsRequest,
  type PushViewsResponse,
  type NodeHeartbeatRequest,
  type PartitionReport,
  type RegisterNodeRequest,
  type VolumeView,
} from '../proto/generated/master.js';
import type { NodeId } from '../raft/index.js';
import type { PeerAddress } from '../raftstore/index.js';
import { RpcClient } from '../rpc/index.js';
import { systemClock } from '../time/index.js';
import { AdminApi, type AdminReply, type AdminRequest } from './admin-api.js';
import type { MasterCommand, NodeUsage, PartitionUsage } from './commands.js';
import type { CoordinationStatus, MasterCoordination } from './coordination.js';
import { EtcdCoordination } from './etcd-coordination.js';
import { masterLimits, type MasterLimits } from './limits.js';
import { planBackgroundWork } from './planner.js';
import { RaftCoordination } from './raft-coordination.js';
import { tasksForNode } from './reconcile.js';
import type { MasterState } from './state.js';
import { FollowerViewCache } from './view-cache.js';
import { partitionStatusName, volumeView } from './views.js';

export { masterGroupId } from './raft-coordination.js';
export const clusterNameDefault = 'atoll';

export interface MasterServerOptions {
  readonly config: MasterConfig;
  readonly logger?: Logger;
  readonly limits?: Partial<MasterLimits>;
}

interface MemberProbe {
  readonly status: MasterPeerStatusResponse | null;
  /** Monotonic ms of the last answer. */
  readonly seenAtMs: number | null;
  readonly error: string | null;
}

interface MemberRecord {
  readonly nodeId: number;
  readonly address: string;
  readonly host: string;
  readonly httpPort: number;
  readonly raftHeartbeatPort: number;
  readonly raftReplicaPort: number;
}

// Test hooks: faults a test can switch on in a real master (never set in production).
export interface MasterFaults {
  /** The leader stops pushing views to this follower... set on the follower: it drops pushes. */
  dropViewPushes: boolean;
}

export class MasterServer {
  readonly instance: ServerInstance;
  readonly config: MasterConfig;
  readonly logger: Logger;
  readonly limits: MasterLimits;
  readonly faults: MasterFaults = { dropViewPushes: false };
  readonly coordination: MasterCoordination;
  readonly selfAddress: string;
  readonly nodeId: number;
  /** Sorted service addresses of every member; node id = position + 1. */
  readonly memberAddresses: readonly string[];
  readonly #viewCache = new FollowerViewCache(systemClock);
  readonly #client: RpcClient;
  readonly #adminApi: AdminApi;
  readonly #members = new Map<number, MemberRecord>();
  readonly #probes = new Map<number, MemberProbe>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #started = false;
  #stopped = false;
  // Leader-only memory.
  #leaderTerm = 0;
  #leaderSinceMs = 0;
  #leaderReadConfirmed = false;
  readonly #lastHeartbeatAtMs = new Map<number, number>();
  readonly #pendingNodeUsage = new Map<number, NodeUsage>();
  readonly #pendingPartitionUsage = new Map<number, PartitionUsage>();
  // Unknown partitions reported past the counter, for the next recordReports.
  readonly #pendingStrays = new Set<number>();
  #flushTimer: NodeJS.Timeout | null = null;
  #flushing = false;
  #planning = false;
  readonly #viewsHeldByFollower = new Map<number, Map<string, number>>();
  readonly #pushInFlight = new Set<number>();
  #pushSoonTimer: NodeJS.Timeout | null = null;
  readonly #notesLogged = new Set<string>();
  readonly #viewRequests;

  private constructor(instance: ServerInstance, options: MasterServerOptions, memberAddresses: readonly string[], selfAddress: string) {
    this.instance = instance;
    this.config = options.config;
    this.logger = instance.logger;
    this.limits = masterLimits(options.limits);
    this.memberAddresses = memberAddresses;
    this.selfAddress = selfAddress;
    this.nodeId = memberAddresses.indexOf(selfAddress) + 1;
    this.#client = new RpcClient({ secret: options.config.clusterSecret!, instance: options.config.instance });
    this.coordination = this.#makeCoordination();
    this.coordination.onViewsChanged = () => {
      if (this.isLeader()) this.#pushViewsSoon();
    };
    this.#registerMetrics();
    this.#viewRequests = instance.metrics.counter({
      name: 'atoll_master_view_requests_total',
      help: 'Volume view requests, by how they were answered: leader, follower cache, or redirected to the leader.',
      labelNames: ['outcome'],
    });
    this.#adminApi = new AdminApi({
      adminToken: options.config.adminToken,
      state: () => this.state,
      isLeader: () => this.isLeader(),
      leaderRead: () => this.#leaderRead(),
      propose: (command) => this.propose(command),
      forwardToLeader: (request) => this.#forwardToLeader(request),
      clusterInfo: () => this.clusterInfo(),
      volumeView: (volume, knownVersion) => this.#volumeView(volume, knownVersion),
      nowMs: () => Date.now(),
      randomHex: (bytes) => randomBytes(bytes).toString('hex'),
      log: (fields, message) => this.logger.info(fields, message),
    });
  }

  static async start(options: MasterServerOptions): Promise<MasterServer> {
    const { config } = options;
    const configuredPeers = config.peers.map((peer) => `${peer.host}:${peer.port}`);
    if (configuredPeers.length > 0 && config.port === 0) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, 'config: port: a master in a group (peers given) needs a fixed port, the one its peers list names');
    }
    const configuredSelf = `${config.host}:${config.port}`;
    if (configuredPeers.length > 0 && !configuredPeers.includes(configuredSelf)) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `config: peers: must include this master's own address ${configuredSelf} (got ${configuredPeers.join(', ')})`);
    }
    let server: MasterServer | null = null;
    const instance = await ServerInstance.start({
      role: 'master',
      config,
      logger: options.logger,
      readiness: () => ({ ready: false, reason: 'starting' }),
      statusExtra: () => server?.statusExtra() ?? {},
      registerHandlers: (starting) => MasterServer.#registerHandlers(starting, () => server),
    });
    try {
      const selfAddress = `${config.host}:${instance.ports.service}`;
      const members = [...new Set(configuredPeers.length > 0 ? configuredPeers : [selfAddress])].sort();
      server = new MasterServer(instance, options, members, selfAddress);
      instance.setReadiness(() => server!.readiness());
      await server.#startCoordination();
      return server;
    } catch (error) {
      await server?.stop().catch(() => {});
      await instance.stop().catch(() => {});
      throw error;
    }
  }

  get state(): MasterState {
    return this.coordination.state;
  }

  #status(): CoordinationStatus {
    return this.coordination.status();
  }

  isLeader(): boolean {
    return this.#started && !this.#stopped && this.#status().role === 'leader';
  }

  /** The leader's service address as this master knows it, or '' when unknown. */
  leaderAddress(): string {
    return this.#started ? this.#status().leaderAddress : '';
  }

  async propose(command: MasterCommand): Promise<unknown> {
    this.#requireStarted();
    return this.coordination.propose(command);
  }

  clusterInfo(): ClusterInfoResponse {
    const nowMs = systemClock.nowMs();
    const status = this.#status();
    const members = this.memberAddresses.map((address, position) => {
      const nodeId = position + 1;
      if (nodeId === this.nodeId) {
        return { address, nodeId, state: this.#ownState(), httpPort: this.instance.ports.http, term: status.term, appliedIndex: status.appliedIndex, lastSeenMsAgo: 0 };
      }
      const probe = this.#probes.get(nodeId);
      const fresh = probe?.seenAtMs !== null && probe?.seenAtMs !== undefined && nowMs - probe.seenAtMs <= this.limits.memberDownAfterMs;
      const answer = probe?.status ?? null;
      return {
        address,
        nodeId,
        state: fresh && answer !== null ? answer.state : 'down',
        httpPort: answer?.httpPort ?? this.#members.get(nodeId)?.httpPort ?? 0,
        term: answer?.term ?? 0,
        appliedIndex: answer?.appliedIndex ?? 0,
        lastSeenMsAgo: probe?.seenAtMs === null || probe?.seenAtMs === undefined ? 0 : Math.round(nowMs - probe.seenAtMs),
      };
    });
    return { leader: this.leaderAddress(), term: status.term, appliedIndex: status.appliedIndex, members, clusterName: this.state.clusterName, answeredBy: this.selfAddress };
  }

  async readiness(): Promise<{ ready: boolean; reason?: string; details?: Record<string, unknown> }> {
    if (!this.#started) {
      return { ready: false, reason: 'waiting for the other masters', details: { membersKnown: this.#members.size, members: this.memberAddresses.length } };
    }
    return this.coordination.readiness();
  }

  statusExtra(): Record<string, unknown> {
    const status = this.#status();
    return {
      master: {
        nodeId: this.nodeId,
        address: this.selfAddress,
        backend: this.coordination.backend,
        state: this.#ownState(),
        leader: this.leaderAddress(),
        term: status.term,
        appliedIndex: status.appliedIndex,
        commitIndex: status.commitIndex,
        members: this.memberAddresses,
        nodes: Object.keys(this.state.nodes).length,
        volumes: Object.keys(this.state.volumes).length,
        partitions: Object.keys(this.state.partitions).length,
        cachedViews: this.#viewCache.size,
      },
    };
  }

  /** Equal on masters with equal state (tests compare replicas). */
  stateDigest(): string {
    return createHash('sha256').update(JSON.stringify(this.state)).digest('hex');
  }

  /** Runs an admin request as if it came over HTTP or RPC (tests, the RPC tunnel). */
  admin(request: AdminRequest): Promise<AdminReply> {
    return this.#adminApi.handle(request);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.clear();
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    if (this.#pushSoonTimer !== null) clearTimeout(this.#pushSoonTimer);
    await this.coordination.stop();
    await this.instance.stop();
    await this.#client.close();
  }

  #registerMetrics(): void {
    const metrics = this.instance.metrics;
    const server = this;
    metrics.gauge({
      name: 'atoll_master_leader',
      help: '1 on the master that leads the group, else 0.',
      collect() {
        this.set(server.isLeader() ? 1 : 0);
      },
    });
    metrics.gauge({
      name: 'atoll_master_applied_index',
      help: 'Index of the last log entry (Raft) or revision (etcd) applied to this master\'s state.',
      collect() {
        this.set(server.state.appliedIndex);
      },
    });
    metrics.gauge({
      name: 'atoll_master_nodes',
      help: 'Registered nodes, by role and state.',
      labelNames: ['node_role', 'state'],
      collect() {
        this.reset();
        for (const node of Object.values(server.state.nodes)) this.inc({ node_role: node.role, state: node.state });
      },
    });
    metrics.gauge({
      name: 'atoll_master_volumes',
      help: 'Volumes, by status.',
      labelNames: ['status'],
      collect() {
        this.reset();
        for (const volume of Object.values(server.state.volumes)) this.inc({ status: volume.status });
      },
    });
    metrics.gauge({
      name: 'atoll_master_partitions',
      help: 'Partitions, by kind and status.',
      labelNames: ['kind', 'status'],
      collect() {
        this.reset();
        for (const partition of Object.values(server.state.partitions)) this.inc({ kind: partition.kind, status: partition.status });
      },
    });
  }

  // ------------------------------------------------------------------ start-up

  #makeCoordination(): MasterCoordination {
    const config = this.config;
    if (config.backend === 'etcd') {
      return new EtcdCoordination({
        client: new EtcdClient({ endpoints: config.etcd.map((endpoint) => `${endpoint.host}:${endpoint.port}`) }),
        prefix: config.etcdPrefix.replace(/\/+$/, ''),
        leaseTtlMs: config.etcdLeaseTtl,
        nodeId: this.nodeId,
        selfAddress: this.selfAddress,
        clusterName: clusterNameDefault,
        logger: this.logger.child({ component: 'etcd' }),
      });
    }
    return new RaftCoordination({
      nodeId: this.nodeId,
      memberAddresses: this.memberAddresses,
      dataDir: config.dataDir,
      clusterName: clusterNameDefault,
      instance: this.instance,
      client: this.#client,
      logger: this.logger,
      limits: this.limits,
      waitForMembers: () => this.#waitForMembers(),
    });
  }

  async #startCoordination(): Promise<void> {
    const ports = this.instance.ports;
    this.#members.set(this.nodeId, { nodeId: this.nodeId, address: this.selfAddress, host: this.config.host, httpPort: ports.http, raftHeartbeatPort: ports.raftHeartbeat, raftReplicaPort: ports.raftReplica });
    this.#startTimer(() => void this.#probeMembers(), this.limits.memberProbeIntervalMs);
    await this.coordination.start();
    this.#started = true;
    this.logger.info({ backend: this.coordination.backend, nodeId: this.nodeId, members: this.memberAddresses }, 'master coordination started');
    this.#startTimer(() => this.#observeLeadership(), this.limits.raftTickMs);
    this.#startTimer(() => void this.#plan(), this.limits.plannerIntervalMs);
    this.#startTimer(() => void this.#flushReports(), this.limits.reportFlushIntervalMs);
    this.#startTimer(() => this.#pushViews(), this.limits.viewPushIntervalMs);
  }

  // The Raft group's first configuration needs every member's Raft ports: wait for them
  // (kept in master-members.json so a restart does not wait for members that are down).
  async #waitForMembers(): Promise<ReadonlyMap<number, PeerAddress>> {
    const membersFile = join(this.config.dataDir, 'master-members.json');
    const saved = await readSavedMembers(membersFile, this.memberAddresses);
    if (saved !== null) {
      for (const member of saved) if (member.nodeId !== this.nodeId) this.#members.set(member.nodeId, member);
    }
    await this.#probeMembers();
    let waitedMs = 0;
    while (this.#members.size < this.memberAddresses.length) {
      if (this.#stopped) throw new AtollError(StatusCode.CANCELLED, 'master stopped while waiting for its peers');
      if (waitedMs % 10_000 === 0) {
        const missing = this.memberAddresses.filter((_address, position) => !this.#members.has(position + 1));
        this.logger.info({ missing }, 'waiting for the other masters to answer');
      }
      await new Promise((resolve) => setTimeout(resolve, this.limits.memberProbeIntervalMs));
      waitedMs += this.limits.memberProbeIntervalMs;
    }
    await writeSavedMembers(membersFile, [...this.#members.values()]);
    const addresses = new Map<number, PeerAddress>();
    for (const member of this.#members.values()) {
      addresses.set(member.nodeId, { nodeId: member.nodeId as NodeId, host: member.host, heartbeatPort: member.raftHeartbeatPort, replicaPort: member.raftReplicaPort });
    }
    return addresses;
  }

  #startTimer(work: () => void, intervalMs: number): void {
    const timer = setInterval(work, intervalMs);
    timer.unref();
    this.#timers.add(timer);
  }

  // ------------------------------------------------------------------ members

  async #probeMembers(): Promise<void> {
    await Promise.all(this.memberAddresses.map(async (address, position) => {
      const nodeId = position + 1;
      if (nodeId === this.nodeId || this.#stopped) return;
      try {
        const answer = await this.#client.call(address, Master.masterPeerStatus, { peers: [...this.memberAddresses] }, { deadlineMs: this.limits.memberProbeDeadlineMs });
        if (answer.nodeId !== nodeId) {
          this.#probes.set(nodeId, { status: null, seenAtMs: null, error: `answers as member ${answer.nodeId}, expected ${nodeId}` });
          return;
        }
        this.#probes.set(nodeId, { status: answer, seenAtMs: systemClock.nowMs(), error: null });
        const host = address.slice(0, address.lastIndexOf(':'));
        this.#members.set(nodeId, { nodeId, address, host, httpPort: answer.httpPort, raftHeartbeatPort: answer.raftHeartbeatPort, raftReplicaPort: answer.raftReplicaPort });
      } catch (error) {
        const previous = this.#probes.get(nodeId);
        this.#probes.set(nodeId, { status: previous?.status ?? null, seenAtMs: previous?.seenAtMs ?? null, error: (error as Error).message });
        if (error instanceof AtollError && error.status === StatusCode.INVALID_ARGUMENT) {
          this.logger.error({ member: address, err: error.message }, 'master member refuses this group: its peers list differs');
        }
      }
    }));
  }

  #ownState(): string {
    return this.#started ? this.#status().role : 'loading';
  }

  // ------------------------------------------------------------------ ticks and leadership

  #observeLeadership(): void {
    if (!this.#started || this.#stopped) return;
    const status = this.#status();
    const leading = status.role === 'leader';
    if (leading && this.#leaderTerm !== status.term) {
      this.#leaderTerm = status.term;
      this.#leaderSinceMs = Date.now();
      this.#leaderReadConfirmed = false;
      this.#viewCache.clear();
      this.#viewsHeldByFollower.clear();
      this.logger.info({ term: status.term }, 'became master leader');
    } else if (!leading && this.#leaderTerm !== 0) {
      this.logger.info({ term: status.term, leader: this.leaderAddress() }, 'no longer master leader');
      this.#leaderTerm = 0;
      this.#lastHeartbeatAtMs.clear();
      this.#pendingNodeUsage.clear();
      this.#pendingPartitionUsage.clear();
    }
  }

  async #leaderRead(): Promise<void> {
    this.#requireStarted();
    await this.coordination.leaderRead();
  }

  #requireStarted(): void {
    if (!this.#started || this.#stopped) throw new AtollError(StatusCode.UNAVAILABLE, `master is starting: its ${this.coordination.backend} coordination is not running yet`, { retryAfterMs: 500 });
  }

  #requireLeader(): void {
    this.#requireStarted();
    if (!this.isLeader()) {
      const leader = this.leaderAddress();
      throw new AtollError(StatusCode.NOT_LEADER, leader === '' ? 'not the master leader, and no leader is known yet' : `not the master leader; the leader is ${leader}`, { leaderHint: leader });
    }
  }

  // ------------------------------------------------------------------ RPC and HTTP

  // Every method and route exists from the first connection; until the server object is
  // made they answer UNAVAILABLE (retryable), as a starting master should.
  static #registerHandlers(instance: ServerInstance, current: () => MasterServer | null): void {
    const rpc = instance.rpc;
    const started = (): MasterServer => {
      const server = current();
      if (server === null) throw new AtollError(StatusCode.UNAVAILABLE, 'master is starting', { retryAfterMs: 200 });
      return server;
    };
    rpc.handle(Master.masterPeerStatus, (request) => started().#peerStatus(request.peers));
    rpc.handle(Master.clusterInfo, () => started().clusterInfo());
    rpc.handle(Master.admin, (request) => started().#adminOverRpc(request));
    rpc.handle(Master.getVolumeView, (request) => started().#volumeView(request.volume, request.knownVersion));
    rpc.handle(Master.registerNode, (request) => started().#registerNode(request));
    rpc.handle(Master.nodeHeartbeat, (request) => started().#nodeHeartbeat(request));
    rpc.handle(Master.pushViews, (request) => started().#acceptViews(request));
    for (const [method, path] of AdminApi.routes) {
      instance.http.route(method, path, async (request) => {
        const server = current();
        if (server === null) return { status: 503, body: { error: { code: 'UNAVAILABLE', message: 'master is starting' } } };
        const authorization = request.headers.authorization;
        const token = typeof authorization === 'string' && authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : undefined;
        const reply = await server.#adminApi.handle({ method, path: request.request.url ?? path, body: request.body, adminToken: token, forwardedHops: 0 });
        return { status: reply.status, body: reply.body };
      });
    }
  }

  #peerStatus(peers: readonly string[]): MasterPeerStatusResponse {
    const theirs = [...peers].sort();
    if (theirs.join(',') !== this.memberAddresses.join(',')) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `master group mismatch: this master's peers are ${this.memberAddresses.join(', ')}, the caller's are ${theirs.join(', ')}`);
    }
    const status = this.#started ? this.#status() : null;
    const ports = this.instance.ports;
    return {
      nodeId: this.nodeId,
      address: this.selfAddress,
      httpPort: ports.http,
      raftHeartbeatPort: ports.raftHeartbeat,
      raftReplicaPort: ports.raftReplica,
      state: this.#ownState(),
      term: status?.term ?? 0,
      appliedIndex: status?.appliedIndex ?? 0,
      leaderNodeId: status?.leaderNodeId ?? 0,
    };
  }

  async #adminOverRpc(request: AdminRpcRequest): Promise<AdminResponse> {
    let body: unknown;
    if (request.bodyJson.length > 0) {
      try {
        body = JSON.parse(request.bodyJson);
      } catch (error) {
        return { httpStatus: 400, bodyJson: JSON.stringify({ error: { code: 'INVALID_JSON', message: `request body is not JSON: ${(error as Error).message}` } }), handledBy: this.selfAddress };
      }
    }
    const reply = await this.#adminApi.handle({ method: request.method, path: request.path, body, adminToken: request.adminToken, forwardedHops: request.forwardedHops });
    return { httpStatus: reply.status, bodyJson: JSON.stringify(reply.body ?? null), handledBy: reply.handledBy ?? this.selfAddress };
  }

  #acceptViews(request: PushViewsRequest): PushViewsResponse {
    this.#requireStarted();
    const status = this.#status();
    if (status.role === 'leader' || request.term !== status.term || request.leaderNodeId !== status.leaderNodeId) {
      throw new AtollError(StatusCode.NOT_LEADER, `view push from member ${request.leaderNodeId} in term ${request.term} refused: this master knows leader ${status.leaderNodeId} in term ${status.term}`);
    }
    if (this.faults.dropViewPushes) throw new AtollError(StatusCode.UNAVAILABLE, 'view pushes dropped (test fault)');
    return { held: this.#viewCache.accept(request) };
  }

  async #forwardToLeader(request: AdminRequest): Promise<AdminReply> {
    const leader = this.leaderAddress();
    if (leader === '' || leader === this.selfAddress) {
      // The backend says why (an election; on etcd, also etcd being unreachable).
      const reason = this.#started ? this.coordination.readiness().reason : undefined;
      throw new AtollError(StatusCode.UNAVAILABLE, `no master leader is known yet (${reason ?? 'an election is in progress'}); retry shortly`, { retryAfterMs: 500 });
    }
    const reply = await this.#client.call(leader, Master.admin, {
      method: request.method,
      path: request.path,
      bodyJson: request.body === undefined ? '' : JSON.stringify(request.body),
      adminToken: request.adminToken ?? '',
      forwardedHops: request.forwardedHops + 1,
    }, { deadlineMs: this.limits.forwardDeadlineMs }).catch((error: unknown) => {
      // No answer in time: the leader may have carried the request out; say so rather
      // than invite a blind retry.
      if (error instanceof AtollError && error.status === StatusCode.TIMEOUT) {
        throw new AtollError(StatusCode.TIMEOUT, `the master leader ${leader} did not answer in ${this.limits.forwardDeadlineMs} ms; the request may or may not have taken effect: read before retrying`, { leaderHint: leader });
      }
      throw new AtollError(StatusCode.UNAVAILABLE, `forwarding to the master leader ${leader} failed: ${(error as Error).message}`, { leaderHint: leader, retryAfterMs: 200 });
    });
    return { status: reply.httpStatus, body: reply.bodyJson.length > 0 ? JSON.parse(reply.bodyJson) : undefined, handledBy: reply.handledBy };
  }

  async #volumeView(volume: string, knownVersion: number): Promise<VolumeView> {
    this.#requireStarted();
    if (this.isLeader()) {
      await this.#leaderRead();
      const view = volumeView(this.state, volume);
      if (view === undefined) throw new AtollError(StatusCode.NOT_FOUND, `volume ${volume} does not exist`);
      this.#viewRequests.inc({ outcome: 'leader' });
      return view;
    }
    const lookup = this.#viewCache.lookup(volume, knownVersion, this.state.settings.viewStalenessMs);
    if (lookup.kind === 'hit') {
      this.#viewRequests.inc({ outcome: 'follower_cache' });
      return lookup.view;
    }
    this.#viewRequests.inc({ outcome: 'redirected' });
    const leader = this.leaderAddress();
    throw new AtollError(StatusCode.STALE_VIEW, `this master cannot serve the view of ${volume}: ${lookup.reason}; ask the leader${leader === '' ? '' : ` ${leader}`}`, { leaderHint: leader });
  }

  // ------------------------------------------------------------------ nodes

  async #registerNode(request: RegisterNodeRequest): Promise<{ nodeId: number; clusterName: string; heartbeatIntervalMs: number }> {
    this.#requireLeader();
    const role = request.role === NodeRole.ROLE_METANODE ? 'metanode' : request.role === NodeRole.ROLE_DATANODE ? 'datanode' : null;
    if (role === null) throw new AtollError(StatusCode.INVALID_ARGUMENT, `register node: role must be metanode or datanode, got ${NodeRole[request.role] ?? request.role}`);
    const address = request.address;
    if (address === undefined || address.host.length === 0 || address.host.length > 253) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'register node: address.host is required (at most 253 characters)');
    for (const [name, port] of [['service_port', address.servicePort], ['http_port', address.httpPort], ['raft_heartbeat_port', address.raftHeartbeatPort], ['raft_replica_port', address.raftReplicaPort]] as const) {
      if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new AtollError(StatusCode.INVALID_ARGUMENT, `register node: address.${name} must be a port from 1 to 65535, got ${port}`);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(request.instance)) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'register node: instance must be 1 to 64 letters, digits, ".", "_" or "-"');
    if (request.registrationToken.length > 128) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'register node: registration_token is at most 128 characters');
    const zone = request.zone.length === 0 ? 'default' : request.zone;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(zone)) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'register node: zone must be 1 to 64 letters, digits, ".", "_" or "-"');
    const nowMs = Date.now();
    const result = await this.propose({
      type: 'registerNode',
      nowMs,
      nodeId: request.nodeId,
      registrationToken: request.registrationToken,
      role,
      instance: request.instance,
      host: address.host,
      servicePort: address.servicePort,
      httpPort: address.httpPort,
      raftHeartbeatPort: address.raftHeartbeatPort,
      raftReplicaPort: address.raftReplicaPort,
      zone,
      capacityBytes: request.capacityBytes,
    }) as { nodeId: number; created: boolean };
    this.#lastHeartbeatAtMs.set(result.nodeId, nowMs);
    this.logger.info({ nodeId: result.nodeId, role, instance: request.instance, address: `${address.host}:${address.servicePort}`, created: result.created }, result.created ? 'node registered' : 'node registered again');
    return { nodeId: result.nodeId, clusterName: this.state.clusterName, heartbeatIntervalMs: this.limits.nodeHeartbeatIntervalMs };
  }

  #nodeHeartbeat(request: NodeHeartbeatRequest): { tasks: ReturnType<typeof tasksForNode>; heartbeatIntervalMs: number } {
    this.#requireLeader();
    const node = this.state.nodes[request.nodeId];
    if (node === undefined) throw new AtollError(StatusCode.NOT_FOUND, `node ${request.nodeId} is not registered with this cluster; register first`);
    if (request.partitions.length > this.limits.heartbeatPartitionsMax) {
      throw new AtollError(StatusCode.TOO_LARGE, `heartbeat reports ${request.partitions.length} partitions; at most ${this.limits.heartbeatPartitionsMax}`);
    }
    const nowMs = Date.now();
    this.#lastHeartbeatAtMs.set(node.id, nowMs);
    this.#pendingNodeUsage.set(node.id, { nodeId: node.id, capacityBytes: request.capacityBytes, usedBytes: request.usedBytes, lastHeartbeatAtMs: nowMs });
    let urgent = false;
    for (const report of request.partitions) {
      const partition = this.state.partitions[report.partitionId];
      if (partition === undefined && report.partitionId >= this.state.nextPartitionId) {
        // Unknown and past the counter: this state is older than the cluster (a restored backup).
        this.#pendingStrays.add(report.partitionId);
        urgent = true;
      }
      if (!report.isLeader || partition === undefined) continue;
      const usage = partitionUsageOf(node.id, report);
      this.#pendingPartitionUsage.set(report.partitionId, usage);
      if (partition.leaderNodeId !== node.id || partition.status !== usage.status || partition.reportedMembers.join(',') !== usage.members.join(',')) urgent = true;
    }
    if (urgent) this.#flushReportsSoon();
    return { tasks: tasksForNode(this.state, node.id, request.partitions), heartbeatIntervalMs: this.limits.nodeHeartbeatIntervalMs };
  }

  #flushReportsSoon(): void {
    if (this.#flushTimer !== null) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = null;
      void this.#flushReports();
    }, this.limits.reportFlushUrgentMs);
  }

  async #flushReports(): Promise<void> {
    if (this.#flushing || !this.isLeader()) return;
    if (this.#pendingNodeUsage.size === 0 && this.#pendingPartitionUsage.size === 0 && this.#pendingStrays.size === 0) return;
    this.#flushing = true;
    const nodes = [...this.#pendingNodeUsage.values()];
    const partitions = [...this.#pendingPartitionUsage.values()];
    const strayPartitionIds = [...this.#pendingStrays].sort((left, right) => left - right);
    this.#pendingNodeUsage.clear();
    this.#pendingPartitionUsage.clear();
    this.#pendingStrays.clear();
    if (strayPartitionIds.length > 0) this.logger.warn({ strayPartitionIds }, 'nodes report partitions this state never created (restored from an older copy?): their ids are kept out of use and the partitions left on their nodes');
    try {
      await this.propose({ type: 'recordReports', nowMs: Date.now(), nodes, partitions, ...(strayPartitionIds.length > 0 ? { strayPartitionIds } : {}) });
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'recording heartbeat reports failed; the next heartbeats carry them again');
    } finally {
      this.#flushing = false;
    }
  }

  // ------------------------------------------------------------------ background work

  async #plan(): Promise<void> {
    if (this.#planning || !this.isLeader()) return;
    this.#planning = true;
    try {
      // Decide only on a state that has everything earlier leaders committed.
      if (!this.#leaderReadConfirmed) {
        await this.#leaderRead();
        this.#leaderReadConfirmed = true;
      }
      const work = planBackgroundWork({ state: this.state, nowMs: Date.now(), leaderSinceMs: this.#leaderSinceMs, lastHeartbeatAtMs: this.#lastHeartbeatAtMs });
      for (const note of work.notes) {
        if (this.#notesLogged.has(note)) continue;
        if (this.#notesLogged.size > 1_000) this.#notesLogged.clear();
        this.#notesLogged.add(note);
        this.logger.warn({ note }, 'background work');
      }
      for (const command of work.commands) {
        if (!this.isLeader()) return;
        try {
          const result = await this.propose(command);
          this.logger.info({ command: command.type, result }, 'background work applied');
        } catch (error) {
          this.logger.warn({ command: command.type, err: (error as Error).message }, 'background work refused');
        }
      }
    } catch (error) {
      this.logger.debug({ err: (error as Error).message }, 'background work skipped');
    } finally {
      this.#planning = false;
    }
  }

  // ------------------------------------------------------------------ view pushes

  #pushViewsSoon(): void {
    if (this.#pushSoonTimer !== null) return;
    this.#pushSoonTimer = setTimeout(() => {
      this.#pushSoonTimer = null;
      this.#pushViews();
    }, 10);
  }

  #pushViews(): void {
    if (!this.isLeader()) return;
    const status = this.#status();
    const state = this.state;
    const versions = Object.values(state.volumes).map((volume) => ({ volume: volume.name, version: volume.viewVersion }));
    for (let position = 0; position < this.memberAddresses.length; position++) {
      const nodeId = position + 1;
      if (nodeId === this.nodeId || this.#pushInFlight.has(nodeId)) continue;
      const held = this.#viewsHeldByFollower.get(nodeId) ?? new Map<string, number>();
      const views: VolumeView[] = [];
      for (const { volume, version } of versions) {
        if (held.get(volume) === version) continue;
        const view = volumeView(state, volume);
        if (view !== undefined) views.push(view);
      }
      this.#pushInFlight.add(nodeId);
      this.#client
        .call(this.memberAddresses[position]!, Master.pushViews, { leaderNodeId: this.nodeId, term: status.term, appliedIndex: state.appliedIndex, versions, views }, { deadlineMs: this.limits.viewPushDeadlineMs })
        .then((response) => {
          this.#viewsHeldByFollower.set(nodeId, new Map(response.held.map((entry) => [entry.volume, entry.version])));
        })
        .catch(() => {
          this.#viewsHeldByFollower.delete(nodeId);
        })
        .finally(() => this.#pushInFlight.delete(nodeId));
    }
  }
}

function partitionUsageOf(nodeId: number, report: PartitionReport): PartitionUsage {
  return {
    partitionId: report.partitionId,
    leaderNodeId: nodeId,
    leaderTerm: report.term,
    members: [...report.members].sort((a, b) => a - b),
    status: partitionStatusName(report.status),
    usedBytes: report.usedBytes,
    extentCount: report.extentCount,
    inodeCursor: report.kind === PartitionKind.PARTITION_META ? report.inodeCursor : 0,
    inodeCount: report.inodeCount,
    dentryCount: report.dentryCount,
  };
}

async function readSavedMembers(path: string, memberAddresses: readonly string[]): Promise<MemberRecord[] | null> {
  if (!existsSync(path)) return null;
  try {
    const saved = JSON.parse(await readFile(path, 'utf8')) as { members: MemberRecord[] };
    const addresses = saved.members.map((member) => member.address).sort();
    return addresses.join(',') === memberAddresses.join(',') ? saved.members : null;
  } catch {
    return null;
  }
}

async function writeSavedMembers(path: string, members: readonly MemberRecord[]): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify({ members: [...members].sort((a, b) => a.nodeId - b.nodeId) }, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}
