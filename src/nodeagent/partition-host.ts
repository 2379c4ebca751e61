// The partitions of one metanode or datanode process: one Raft host over the instance's
// shared write-ahead log and Raft ports, a registry of partitions on disk
// (`<data-dir>/partitions/<id>/spec.json`), staged start-up, the master's tasks and the
// heartbeat reports. The role supplies a PartitionFactory; everything else is here.
//
// Staged start-up: the instance binds its ports before the host exists, so nothing is
// ever refused at the socket. The host first lists the partitions on disk (a request for
// any of them gets PARTITION_NOT_READY, retryable), then opens the write-ahead log, then
// loads the partitions one at a time. Each Raft group starts with elections disabled and
// is released when its state is loaded and has applied everything committed at start.
// `loadProgress()` feeds /readyz.
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { NodeDisk } from '../disk/index.js';
import { AtollError } from '../errors/atoll-error.js';
import type { Logger } from '../observability/index.js';
import { StatusCode } from '../proto/generated/common.js';
import { NodeTaskKind, PartitionKind, PartitionReport, PartitionStatus, type NodeTask } from '../proto/generated/master.js';
import { ConfChangeType, Role, type NodeId, type RaftLimits } from '../raft/index.js';
import { RaftHost, RpcRaftTransport, openWalPersistence, registerRaftTransport, type PeerAddress, type RaftHostLimits, type RecoveredGroupState, type WalPersistence } from '../raftstore/index.js';
import { createRandom } from '../random/index.js';
import type { RpcClient, RpcServer } from '../rpc/index.js';
import type { HostedPartition, PartitionContext, PartitionFactory, PartitionSpec, PartitionStateHash, PartitionUsage } from './hosted-partition.js';

export interface PartitionHostLimits {
  readonly raftTickMs: number;
  /** How long a loading partition may take to apply what was committed at start. */
  readonly catchUpWaitMs: number;
  /** A client told PARTITION_NOT_READY retries after this long. */
  readonly notReadyRetryAfterMs: number;
}

export const partitionHostLimitsDefault: PartitionHostLimits = Object.freeze({
  raftTickMs: 100,
  catchUpWaitMs: 600_000,
  notReadyRetryAfterMs: 200,
});

export interface PartitionHostOptions {
  readonly dataDir: string;
  readonly factory: PartitionFactory;
  readonly logger: Logger;
  readonly rpcClient: RpcClient;
  readonly raftHeartbeatRpc: RpcServer;
  readonly raftReplicaRpc: RpcServer;
  /** This instance's Raft address parts (the node id comes at start). */
  readonly host: string;
  readonly raftHeartbeatPort: number;
  readonly raftReplicaPort: number;
  readonly limits?: Partial<PartitionHostLimits>;
  readonly raftHostLimits?: Partial<RaftHostLimits>;
  readonly raftLimits?: Partial<RaftLimits>;
  /** Raft snapshots this instance sends / receives at once (config `snapshot-sends-max`, `snapshot-receives-max`). */
  readonly snapshotSendsMax?: number;
  readonly snapshotReceivesMax?: number;
  /** TEST ONLY: awaited before each partition of a restart loads (staged start-up tests). */
  readonly loadGate?: (partitionId: number) => Promise<void>;
}

/** One loaded replica as GET /partitions shows it. */
export interface PartitionState extends Partial<PartitionStateHash> {
  readonly partitionId: number;
  readonly kind: 'meta' | 'data';
  readonly volume: string;
  readonly isLeader: boolean;
  readonly term: number;
  /** Node ids of the group's voters as this replica knows them. */
  readonly members: number[];
  /** Raft's applied index, read when the state's digest was taken. */
  readonly appliedIndex: number;
  readonly commitIndex: number;
  /** The digest failed (the replica was deleted meanwhile): no `hash`. */
  readonly hashError?: string;
}

interface Loaded {
  readonly spec: PartitionSpec;
  readonly partition: HostedPartition;
  readonly context: PartitionContext;
  leading: boolean;
  term: number;
  usage?: { value: PartitionUsage; reuseUntil: number };
}

// A usage figure that took t ms to compute is reused for 100 t ms (see #usageOf).
const usageCountingShareInverse = 100;

const specFileName = 'spec.json';
const taskErrorsRememberedMax = 10_000;

export class PartitionHost {
  readonly #options: PartitionHostOptions;
  readonly #limits: PartitionHostLimits;
  readonly #partitionsDir: string;
  // Partitions on disk not loaded yet (PARTITION_NOT_READY), and loaded ones.
  readonly #pending = new Map<number, PartitionSpec>();
  readonly #loaded = new Map<number, Loaded>();
  readonly #failed = new Map<number, { spec: PartitionSpec; error: string }>();
  // Task work in progress, per partition: a task is never run twice at once.
  readonly #busy = new Set<number>();
  // The last failure of each task (kind:partition), so a repeated one is logged once.
  readonly #taskErrors = new Map<string, string>();
  #listed = false;
  #total = 0;
  #raft: RaftHost | null = null;
  #persistence: WalPersistence | null = null;
  #recovered = new Map<number, RecoveredGroupState>();
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #nodeId = 0;
  #stateListing: Promise<void> = Promise.resolve();

  constructor(options: PartitionHostOptions) {
    this.#options = options;
    this.#limits = { ...partitionHostLimitsDefault, ...options.limits };
    this.#partitionsDir = join(options.dataDir, 'partitions');
  }

  get nodeId(): number {
    return this.#nodeId;
  }

  /** Lists the partitions on disk; from now on requests for them get PARTITION_NOT_READY. */
  async list(): Promise<void> {
    await mkdir(this.#partitionsDir, { recursive: true });
    for (const name of await readdir(this.#partitionsDir)) {
      if (!/^[0-9]+$/.test(name)) continue;
      const file = join(this.#partitionsDir, name, specFileName);
      if (!existsSync(file)) continue;
      const spec = JSON.parse(await readFile(file, 'utf8')) as PartitionSpec;
      if (spec.kind !== this.#options.factory.kind) {
        throw new AtollError(StatusCode.INVALID_ARGUMENT, `${file} holds a ${PartitionKind[spec.kind]} partition; this node holds ${PartitionKind[this.#options.factory.kind]} partitions`);
      }
      this.#pending.set(spec.partitionId, spec);
    }
    this.#total = this.#pending.size;
    this.#listed = true;
  }

  /** Opens the log, starts Raft and loads every listed partition, one at a time. */
  async start(nodeId: number): Promise<void> {
    if (!this.#listed) await this.list();
    this.#nodeId = nodeId;
    const { logger } = this.#options;
    const { persistence, recovered } = await openWalPersistence(new NodeDisk(), join(this.#options.dataDir, 'raft'));
    this.#persistence = persistence;
    this.#recovered = recovered;
    const transport = new RpcRaftTransport({
      localNodeId: nodeId as NodeId,
      localAddress: this.#selfAddress(),
      client: this.#options.rpcClient,
      onUnreachable: (groupId, peer) => this.#raft?.reportUnreachable(groupId, peer),
      ...(this.#options.snapshotSendsMax === undefined ? {} : { snapshotSendsMax: this.#options.snapshotSendsMax }),
    });
    const raft = new RaftHost({
      nodeId: nodeId as NodeId,
      persistence,
      transport,
      random: createRandom(randomBytes(4).readUInt32LE(0)),
      defer: (work) => setImmediate(work),
      limits: { snapshotEntriesMin: 50_000, entriesKeptAfterSnapshot: 2_000, ...this.#options.raftHostLimits },
      raftLimits: this.#options.raftLimits,
      // Reads from the leader's lease while its ticks keep up with the monotonic clock
      // (src/raftstore/README.md, "Lease reads"); a heartbeat round per read otherwise.
      leaseReads: { nowMs: () => performance.now(), tickMs: this.#limits.raftTickMs },
      logger: logger.child({ subsystem: 'raft' }),
      onFatalError: (error) => {
        logger.fatal({ err: (error as Error).message }, 'a partition Raft group failed; exiting');
        process.exit(70);
      },
    });
    this.#raft = raft;
    registerRaftTransport(raft, this.#options.raftHeartbeatRpc, this.#options.raftReplicaRpc, { snapshotReceivesMax: this.#options.snapshotReceivesMax });
    this.#timer = setInterval(() => this.#tick(), this.#limits.raftTickMs);
    this.#timer.unref();
    for (const spec of [...this.#pending.values()].sort((a, b) => a.partitionId - b.partitionId)) {
      if (this.#stopped) return;
      const bootstrap = !recovered.has(spec.partitionId) && (spec as PartitionSpec & { bootstrap?: boolean }).bootstrap === true;
      try {
        await this.#options.loadGate?.(spec.partitionId);
        await this.#load(spec, bootstrap, true);
      } catch (error) {
        // One broken partition must not keep the others from serving: it is reported
        // unavailable (the master replaces it after its grace period) and its files stay
        // for an operator to look at.
        this.#pending.delete(spec.partitionId);
        this.#failed.set(spec.partitionId, { spec, error: (error as Error).message });
        logger.error({ partitionId: spec.partitionId, err: (error as Error).message }, 'partition failed to load');
      }
    }
    // Groups in the log whose partition directory is gone (deleted before a crash).
    for (const groupId of recovered.keys()) {
      if (!this.#loaded.has(groupId)) persistence.removeGroup(groupId);
    }
    this.#recovered.clear();
    logger.info({ partitions: this.#loaded.size }, 'partitions loaded');
  }

  loadProgress(): { partitionsLoaded: number; partitionsTotal: number; partitionsFailed: number; listed: boolean } {
    const counted = this.#loaded.size + this.#pending.size + this.#failed.size;
    // While the listing runs the count is partial: report no total until it is complete.
    return { partitionsLoaded: this.#loaded.size, partitionsTotal: this.#listed ? Math.max(this.#total, counted) : 0, partitionsFailed: this.#failed.size, listed: this.#listed };
  }

  allLoaded(): boolean {
    return this.#listed && this.#raft !== null && this.#pending.size === 0;
  }

  /** The loaded partition, or PARTITION_NOT_READY / STALE_VIEW (not on this node). */
  get(partitionId: number): { partition: HostedPartition; context: PartitionContext } {
    const loaded = this.#loaded.get(partitionId);
    if (loaded !== undefined) return loaded;
    const failed = this.#failed.get(partitionId);
    if (failed !== undefined) throw new AtollError(StatusCode.UNAVAILABLE, `partition ${partitionId} failed to load on node ${this.#nodeId}: ${failed.error}`);
    if (!this.#listed || this.#pending.has(partitionId) || this.#busy.has(partitionId)) {
      const { partitionsLoaded, partitionsTotal } = this.loadProgress();
      throw new AtollError(StatusCode.PARTITION_NOT_READY, `partition ${partitionId} is loading on node ${this.#nodeId} (${partitionsLoaded} of ${partitionsTotal} loaded)`, { retryAfterMs: this.#limits.notReadyRetryAfterMs });
    }
    throw new AtollError(StatusCode.STALE_VIEW, `partition ${partitionId} is not on this node (node ${this.#nodeId}); refresh the volume view`);
  }

  partitionIds(): number[] {
    return [...this.#loaded.keys()].sort((a, b) => a - b);
  }

  reports(): PartitionReport[] {
    const raft = this.#raft;
    const reports: PartitionReport[] = [];
    for (const { spec } of [...this.#pending.values()].map((spec) => ({ spec })).concat([...this.#failed.values()])) {
      reports.push(PartitionReport.create({ partitionId: spec.partitionId, kind: spec.kind, loaded: false, status: PartitionStatus.PARTITION_UNAVAILABLE, members: spec.peers.map((peer) => peer.nodeId) }));
    }
    if (raft === null) return reports;
    const now = performance.now();
    for (const [partitionId, loaded] of this.#loaded) {
      const status = raft.status(partitionId);
      const usage = this.#usageOf(loaded, now);
      reports.push(PartitionReport.create({
        partitionId,
        kind: loaded.spec.kind,
        loaded: true,
        isLeader: status.role === Role.Leader,
        term: status.term,
        members: [...status.confState.voters],
        appliedIndex: status.applied,
        status: usage.status ?? PartitionStatus.PARTITION_READ_WRITE,
        usedBytes: usage.usedBytes ?? 0,
        inodeCount: usage.inodeCount ?? 0,
        dentryCount: usage.dentryCount ?? 0,
        inodeCursor: usage.inodeCursor ?? 0,
        inodeEnd: usage.inodeEnd ?? 0,
        extentCount: usage.extentCount ?? 0,
      }));
    }
    return reports.sort((a, b) => a.partitionId - b.partitionId);
  }

  /**
   * Every loaded replica's Raft position and state digest (GET /partitions), one
   * partition at a time, and one listing at a time per node: a poller cannot pile hashes
   * up. Partitions loading or failed are left out.
   */
  partitionStates(): Promise<PartitionState[]> {
    const run = this.#stateListing.then(() => this.#listStates());
    this.#stateListing = run.then(() => undefined, () => undefined);
    return run;
  }

  async #listStates(): Promise<PartitionState[]> {
    const states: PartitionState[] = [];
    for (const partitionId of this.partitionIds()) {
      const raft = this.#raft;
      const loaded = this.#loaded.get(partitionId);
      if (raft === null || loaded === undefined || !raft.hasGroup(partitionId)) continue;
      // The Raft figures and the digest's view are taken in the same turn of the event
      // loop, so they describe the same applied state (a meta partition applies in step).
      const status = raft.status(partitionId);
      // A replica deleted while its digest runs (its engine closed under the view) is
      // reported without one rather than failing the whole listing.
      const digest = loaded.partition.stateHash?.().catch((error: unknown) => ({ hashError: (error as Error).message }));
      states.push({
        partitionId,
        kind: loaded.spec.kind === PartitionKind.PARTITION_META ? 'meta' : 'data',
        volume: loaded.spec.volume,
        isLeader: status.role === Role.Leader,
        term: status.term,
        members: [...status.confState.voters].sort((left, right) => left - right),
        appliedIndex: status.applied,
        commitIndex: status.commit,
        ...(digest === undefined ? {} : await digest),
      });
    }
    return states;
  }

  // A partition's usage for its report. Counting is O(entries) for some partitions (a
  // meta partition counts its inodes and dentries: about 20 ms at 100k of each), so a
  // figure that was slow to get is reused for a while: counting takes at most about 1%
  // of the time, and a small partition is counted afresh at every report.
  #usageOf(loaded: Loaded, now: number): PartitionUsage {
    const cached = loaded.usage;
    if (cached !== undefined && now < cached.reuseUntil) return cached.value;
    const value = loaded.partition.usage();
    const took = performance.now() - now;
    loaded.usage = { value, reuseUntil: now + took * usageCountingShareInverse };
    return value;
  }

  /** The tasks of one heartbeat answer; each runs in the background, one per partition. */
  onTasks(tasks: readonly NodeTask[]): void {
    if (this.#raft === null || this.#stopped) return;
    for (const task of tasks) {
      if (this.#busy.has(task.partitionId)) continue;
      this.#busy.add(task.partitionId);
      const key = `${task.kind}:${task.partitionId}`;
      this.#runTask(task)
        .then(() => this.#taskErrors.delete(key))
        .catch((error: unknown) => {
          // Level-triggered tasks come back every heartbeat: say each new failure once.
          const message = (error as Error).message;
          if (this.#taskErrors.get(key) === message) return;
          if (this.#taskErrors.size >= taskErrorsRememberedMax) this.#taskErrors.clear();
          this.#taskErrors.set(key, message);
          this.#options.logger.warn({ task: NodeTaskKind[task.kind], partitionId: task.partitionId, err: message }, 'task failed; the master sends it again');
        })
        .finally(() => this.#busy.delete(task.partitionId));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#raft !== null) await this.#raft.stop();
    for (const loaded of this.#loaded.values()) await loaded.partition.close();
    this.#loaded.clear();
    if (this.#persistence !== null) await this.#persistence.close();
  }

  /** Crash-like stop for tests: nothing more is written. */
  halt(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#raft?.halt();
  }

  get raft(): RaftHost | null {
    return this.#raft;
  }

  // ------------------------------------------------------------------ tasks

  async #runTask(task: NodeTask): Promise<void> {
    const raft = this.#raft!;
    const partitionId = task.partitionId;
    switch (task.kind) {
      case NodeTaskKind.TASK_CREATE_PARTITION: {
        if (this.#loaded.has(partitionId) || this.#pending.has(partitionId) || this.#failed.has(partitionId)) return;
        if (task.partitionKind !== this.#options.factory.kind) throw new AtollError(StatusCode.INVALID_ARGUMENT, `a ${PartitionKind[task.partitionKind]} partition cannot live on this node`);
        const spec: PartitionSpec & { bootstrap: boolean } = {
          kind: task.partitionKind,
          partitionId,
          volume: task.volume,
          inodeStart: task.inodeStart,
          inodeEnd: task.inodeEnd,
          capacityBytes: task.capacityBytes,
          peers: task.peers.map((peer) => ({ nodeId: peer.nodeId as NodeId, host: peer.host, heartbeatPort: peer.heartbeatPort, replicaPort: peer.replicaPort })),
          bootstrap: task.bootstrap,
        };
        const dir = this.#dirOf(partitionId);
        await mkdir(dir, { recursive: true });
        const temporary = join(dir, `${specFileName}.tmp`);
        await writeFile(temporary, JSON.stringify(spec, null, 2), { flush: true });
        await rename(temporary, join(dir, specFileName));
        this.#total += 1;
        this.#options.logger.info({ partitionId, volume: task.volume, bootstrap: task.bootstrap, peers: spec.peers.map((peer) => peer.nodeId) }, 'creating partition replica');
        try {
          await this.#load(spec, task.bootstrap, false);
        } catch (error) {
          // Nothing of a replica that could not open stays behind: the master asks again.
          this.#pending.delete(partitionId);
          this.#total = Math.max(0, this.#total - 1);
          if (this.#raft?.hasGroup(partitionId) === true) this.#raft.removeGroup(partitionId);
          await rm(dir, { recursive: true, force: true });
          throw error;
        }
        return;
      }
      case NodeTaskKind.TASK_DELETE_PARTITION: {
        const loaded = this.#loaded.get(partitionId);
        if (loaded === undefined && !existsSync(this.#dirOf(partitionId))) return;
        this.#failed.delete(partitionId);
        this.#options.logger.info({ partitionId }, 'deleting partition replica');
        this.#loaded.delete(partitionId);
        if (raft.hasGroup(partitionId)) raft.removeGroup(partitionId);
        await raft.settled();
        if (loaded !== undefined) {
          await loaded.partition.close();
          await loaded.partition.destroy?.();
        }
        await rm(this.#dirOf(partitionId), { recursive: true, force: true });
        this.#total = Math.max(0, this.#total - 1);
        return;
      }
      case NodeTaskKind.TASK_ADD_MEMBER:
      case NodeTaskKind.TASK_REMOVE_MEMBER: {
        const member = task.member;
        if (member === undefined || !raft.hasGroup(partitionId)) return;
        const status = raft.status(partitionId);
        if (status.role !== Role.Leader) return;
        const voters = new Set<number>(status.confState.voters);
        const adding = task.kind === NodeTaskKind.TASK_ADD_MEMBER;
        if (adding === voters.has(member.nodeId)) return;
        const peer: PeerAddress = { nodeId: member.nodeId as NodeId, host: member.host, heartbeatPort: member.heartbeatPort, replicaPort: member.replicaPort };
        this.#options.logger.info({ partitionId, member: member.nodeId, change: adding ? 'add' : 'remove' }, 'changing partition membership');
        await raft.proposeConfChange(partitionId, adding ? ConfChangeType.AddVoter : ConfChangeType.RemoveNode, peer);
        return;
      }
      case NodeTaskKind.TASK_TRANSFER_LEADER: {
        const member = task.member;
        if (member === undefined || !raft.hasGroup(partitionId)) return;
        const status = raft.status(partitionId);
        if (status.role !== Role.Leader || member.nodeId === this.#nodeId) return;
        raft.transferLeadership(partitionId, member.nodeId as NodeId);
        return;
      }
      default: {
        const loaded = this.#loaded.get(partitionId);
        if (loaded?.partition.handleTask === undefined) return;
        await loaded.partition.handleTask(task);
      }
    }
  }

  // ------------------------------------------------------------------ loading

  async #load(spec: PartitionSpec, bootstrap: boolean, restarting: boolean): Promise<void> {
    const raft = this.#raft!;
    const partitionId = spec.partitionId;
    this.#pending.set(partitionId, spec);
    const dir = this.#dirOf(partitionId);
    const partition = await this.#options.factory.open(spec, dir);
    if (this.#stopped) {
      await partition.close();
      return;
    }
    const recovered = this.#recovered.get(partitionId);
    const context = this.#contextOf(partitionId);
    partition.attach?.(context);
    raft.createGroup({ groupId: partitionId, peers: spec.peers, stateMachine: partition.stateMachine, bootstrap, campaignEnabled: !restarting, recovered });
    if (restarting && recovered !== undefined) {
      // Caught up: everything committed before the restart is applied again.
      const target = recovered.hardState.commit;
      const deadline = Date.now() + this.#limits.catchUpWaitMs;
      while (!this.#stopped && raft.hasGroup(partitionId) && raft.status(partitionId).applied < target && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (this.#stopped) return;
      raft.setCampaignEnabled(partitionId, true);
    } else if (restarting) {
      raft.setCampaignEnabled(partitionId, true);
    }
    this.#loaded.set(partitionId, { spec, partition, context, leading: false, term: 0 });
    this.#pending.delete(partitionId);
  }

  #contextOf(partitionId: number): PartitionContext {
    const raft = (): RaftHost => {
      // Refused before anything was proposed: NOT_LEADER (no hint) tells callers to go to
      // another replica, where UNAVAILABLE would leave a mutation's outcome in doubt.
      if (this.#raft === null || this.#stopped) throw new AtollError(StatusCode.NOT_LEADER, `partition ${partitionId}: node ${this.#nodeId} is stopping`, { leaderHint: '' });
      return this.#raft;
    };
    return {
      partitionId,
      nodeId: this.#nodeId,
      logger: this.#options.logger.child({ partitionId }),
      propose: (command) => raft().propose(partitionId, command),
      readIndex: () => raft().readIndex(partitionId),
      isLeader: () => raft().hasGroup(partitionId) && raft().status(partitionId).role === Role.Leader,
      leaderNodeId: () => (raft().hasGroup(partitionId) ? raft().status(partitionId).leader : 0),
      members: () => [...raft().status(partitionId).confState.voters],
      peers: () => raft().peersOf(partitionId),
      appliedIndex: () => (raft().hasGroup(partitionId) ? raft().status(partitionId).applied : 0),
    };
  }

  #tick(): void {
    const raft = this.#raft;
    if (raft === null || this.#stopped) return;
    raft.tick();
    const now = Date.now();
    for (const [partitionId, loaded] of this.#loaded) {
      if (!raft.hasGroup(partitionId)) continue;
      const status = raft.status(partitionId);
      const leading = status.role === Role.Leader;
      if (leading !== loaded.leading || (leading && status.term !== loaded.term)) {
        loaded.leading = leading;
        loaded.term = status.term;
        loaded.partition.onLeadershipChange?.(leading, status.term);
      }
      loaded.partition.tick?.(now);
    }
  }

  #dirOf(partitionId: number): string {
    return join(this.#partitionsDir, String(partitionId));
  }

  #selfAddress(): PeerAddress {
    return { nodeId: this.#nodeId as NodeId, host: this.#options.host, heartbeatPort: this.#options.raftHeartbeatPort, replicaPort: this.#options.raftReplicaPort };
  }
}
