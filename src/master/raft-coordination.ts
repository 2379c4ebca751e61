// The master on its own Raft group (the default backend): every master holds a replica
// of the log and the state; the Raft leader proposes, every replica applies the same
// commands (state-machine.ts). Leadership, terms and read indexes are Raft's.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { NodeDisk } from '../disk/index.js';
import { AtollError } from '../errors/atoll-error.js';
import type { ServerInstance } from '../instance/index.js';
import { logError, type Logger } from '../observability/index.js';
import { StatusCode } from '../proto/generated/common.js';
import { Role, type NodeId } from '../raft/index.js';
import { RaftHost, RpcRaftTransport, openWalPersistence, registerRaftTransport, type PeerAddress, type WalPersistence } from '../raftstore/index.js';
import { createRandom } from '../random/index.js';
import type { RpcClient } from '../rpc/index.js';
import { encodeCommand, type MasterCommand } from './commands.js';
import type { CoordinationStatus, MasterCoordination, Readiness } from './coordination.js';
import type { MasterLimits } from './limits.js';
import { MasterStateMachine } from './state-machine.js';
import type { MasterState } from './state.js';

export const masterGroupId = 1;

export interface RaftCoordinationOptions {
  readonly nodeId: number;
  /** Sorted service addresses; node id = position + 1. */
  readonly memberAddresses: readonly string[];
  readonly dataDir: string;
  readonly clusterName: string;
  readonly instance: ServerInstance;
  readonly client: RpcClient;
  readonly logger: Logger;
  readonly limits: MasterLimits;
  /** Resolves with every member's Raft address once all are known (the group's first configuration needs them). */
  readonly waitForMembers: () => Promise<ReadonlyMap<number, PeerAddress>>;
}

export class RaftCoordination implements MasterCoordination {
  readonly backend = 'raft';
  readonly #options: RaftCoordinationOptions;
  readonly #machine: MasterStateMachine;
  #host: RaftHost | null = null;
  #persistence: WalPersistence | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  onViewsChanged: ((volumes: ReadonlySet<string>) => void) | null = null;

  constructor(options: RaftCoordinationOptions) {
    this.#options = options;
    this.#machine = new MasterStateMachine(options.clusterName);
    this.#machine.onApplied = (_index, _command, changed) => {
      if (changed.size > 0) this.onViewsChanged?.(changed);
    };
  }

  get state(): MasterState {
    return this.#machine.state;
  }

  async start(): Promise<void> {
    const { nodeId, memberAddresses, dataDir, instance, client, logger, limits } = this.#options;
    const members = await this.#options.waitForMembers();
    if (this.#stopped) throw new AtollError(StatusCode.CANCELLED, 'master stopped while waiting for its peers');
    const peerAddress = (id: number): PeerAddress => {
      const member = members.get(id);
      if (member === undefined) throw new Error(`master member ${id} has no known ports`);
      return member;
    };
    const { persistence, recovered } = await openWalPersistence(new NodeDisk(), join(dataDir, 'raft'));
    this.#persistence = persistence;
    const transport = new RpcRaftTransport({
      localNodeId: nodeId as NodeId,
      localAddress: peerAddress(nodeId),
      client,
      onUnreachable: (groupId, peer) => this.#host?.reportUnreachable(groupId, peer),
    });
    const host = new RaftHost({
      nodeId: nodeId as NodeId,
      persistence,
      transport,
      random: createRandom(randomBytes(4).readUInt32LE(0)),
      defer: (work) => setImmediate(work),
      limits: { requestTimeoutTicks: limits.raftRequestTimeoutTicks, snapshotEntriesMin: limits.snapshotEntriesMin, entriesKeptAfterSnapshot: 500 },
      logger: logger.child({ component: 'raft' }),
      onFatalError: (error) => {
        logError(logger, error, 'master Raft group failed; exiting');
        process.exit(70);
      },
    });
    registerRaftTransport(host, instance.raftHeartbeatRpc, instance.raftReplicaRpc);
    const state = recovered.get(masterGroupId);
    host.createGroup({
      groupId: masterGroupId,
      peers: memberAddresses.map((_address, position) => peerAddress(position + 1)),
      stateMachine: this.#machine,
      bootstrap: state === undefined,
      recovered: state,
    });
    this.#host = host;
    logger.info({ nodeId, members: memberAddresses, recovered: state !== undefined }, 'master Raft group started');
    this.#timer = setInterval(() => {
      if (!this.#stopped) host.tick();
    }, limits.raftTickMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#host?.stop();
    await this.#persistence?.close();
  }

  status(): CoordinationStatus {
    if (this.#host === null || this.#stopped) return { role: 'loading', leaderNodeId: 0, leaderAddress: '', term: 0, appliedIndex: this.state.appliedIndex, commitIndex: 0 };
    const status = this.#host.status(masterGroupId);
    const role = status.role === Role.Leader ? 'leader' : status.role === Role.Follower ? 'follower' : 'candidate';
    return {
      role,
      leaderNodeId: status.leader,
      leaderAddress: status.leader === 0 ? '' : this.#options.memberAddresses[status.leader - 1] ?? '',
      term: status.term,
      appliedIndex: status.applied,
      commitIndex: status.commit,
    };
  }

  async propose(command: MasterCommand): Promise<unknown> {
    const host = this.#requireHost();
    try {
      return await host.propose(masterGroupId, encodeCommand(command));
    } catch (error) {
      throw this.#withServiceHint(error);
    }
  }

  async leaderRead(): Promise<void> {
    const host = this.#requireHost();
    try {
      await host.readIndex(masterGroupId);
    } catch (error) {
      throw this.#withServiceHint(error);
    }
  }

  readiness(): Readiness {
    if (this.#host === null) return { ready: false, reason: 'waiting for the other masters', details: { members: this.#options.memberAddresses.length } };
    const status = this.#host.status(masterGroupId);
    if (status.leader === 0) return { ready: false, reason: 'electing a leader', details: { term: status.term } };
    if (status.applied < status.commit) return { ready: false, reason: 'applying the log', details: { applied: status.applied, commit: status.commit } };
    return { ready: true, details: { leader: this.status().leaderAddress, term: status.term } };
  }

  // The Raft host names the leader as `node:<id>`; callers need its service address.
  #withServiceHint(error: unknown): unknown {
    if (error instanceof AtollError && error.status === StatusCode.NOT_LEADER) {
      const leader = Number(error.leaderHint.replace(/^node:/, ''));
      const address = leader > 0 ? this.#options.memberAddresses[leader - 1] ?? '' : '';
      return new AtollError(StatusCode.NOT_LEADER, address === '' ? 'not the master leader, and no leader is known yet' : `not the master leader; the leader is ${address}`, { leaderHint: address });
    }
    return error;
  }

  #requireHost(): RaftHost {
    if (this.#host === null || this.#stopped) throw new AtollError(StatusCode.UNAVAILABLE, 'master is starting: its Raft group is not running yet', { retryAfterMs: 500 });
    return this.#host;
  }
}
