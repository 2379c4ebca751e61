// A metanode's or datanode's membership in the cluster: it registers with the master group
// (once, keeping its node id and registration token in its data directory so that a
// restart, or a retried first registration whose answer was lost, keeps the same id),
// then sends heartbeats with its capacity and its partition reports, and hands the tasks
// of each answer to the role. Everything goes through the master client, so it follows
// the leader and fails over like every other client of the masters.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AtollError } from '../errors/atoll-error.js';
import type { MasterClient } from '../masterclient/index.js';
import type { Logger } from '../observability/index.js';
import { StatusCode } from '../proto/generated/common.js';
import { Master, NodeRole, type NodeTask, type PartitionReport } from '../proto/generated/master.js';

export interface NodeIdentity {
  readonly nodeId: number;
  readonly registrationToken: string;
  readonly clusterName: string;
}

export interface NodeUsageReport {
  readonly capacityBytes: number;
  readonly usedBytes: number;
}

export interface NodeAgentOptions {
  readonly role: 'metanode' | 'datanode';
  readonly instance: string;
  readonly dataDir: string;
  readonly zone: string;
  readonly address: { readonly host: string; readonly servicePort: number; readonly httpPort: number; readonly raftHeartbeatPort: number; readonly raftReplicaPort: number };
  readonly masterClient: MasterClient;
  readonly logger: Logger;
  readonly usage: () => Promise<NodeUsageReport>;
  /** The role's partitions as it would report them; empty until the role holds any. */
  readonly reports: () => PartitionReport[];
  readonly onTasks: (tasks: readonly NodeTask[]) => void;
  /** How long to wait between registration attempts while no master answers. */
  readonly registerRetryMs?: number;
}

const identityFileName = 'node.json';
const fatalRegistrationStatuses: ReadonlySet<StatusCode> = new Set([StatusCode.NOT_FOUND, StatusCode.INVALID_ARGUMENT, StatusCode.PERMISSION_DENIED, StatusCode.UNAUTHENTICATED]);
const heartbeatIntervalMsMin = 100;

export class NodeAgent {
  readonly #options: NodeAgentOptions;
  #identity: NodeIdentity | null = null;
  #heartbeatIntervalMs = 1_000;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #heartbeating = false;
  #lastHeartbeatError: string | null = null;
  #heartbeatsSent = 0;

  constructor(options: NodeAgentOptions) {
    this.#options = options;
  }

  get identity(): NodeIdentity | null {
    return this.#identity;
  }

  get heartbeatsSent(): number {
    return this.#heartbeatsSent;
  }

  /** Registers (retrying until a master answers or stop() is called), then starts heartbeats. */
  async start(): Promise<NodeIdentity> {
    const options = this.#options;
    const path = join(options.dataDir, identityFileName);
    const saved = await readIdentity(path);
    // The token is saved before the first attempt: a retry after a lost answer sends the
    // same token and gets the same id.
    const token = saved?.registrationToken ?? randomBytes(16).toString('hex');
    if (saved === null) await writeIdentity(path, { nodeId: 0, registrationToken: token, clusterName: '' });
    let attempt = 0;
    for (;;) {
      if (this.#stopped) throw new AtollError(StatusCode.CANCELLED, 'node stopped before it registered with the masters');
      try {
        const answer = await options.masterClient.call(Master.registerNode, {
          role: options.role === 'metanode' ? NodeRole.ROLE_METANODE : NodeRole.ROLE_DATANODE,
          address: { ...options.address },
          zone: options.zone,
          instance: options.instance,
          capacityBytes: (await options.usage()).capacityBytes,
          nodeId: saved?.nodeId ?? 0,
          registrationToken: token,
        });
        const identity = { nodeId: answer.nodeId, registrationToken: token, clusterName: answer.clusterName };
        await writeIdentity(path, identity);
        this.#identity = identity;
        this.#heartbeatIntervalMs = Math.max(heartbeatIntervalMsMin, answer.heartbeatIntervalMs);
        options.logger.info({ nodeId: answer.nodeId, cluster: answer.clusterName }, 'registered with the masters');
        break;
      } catch (error) {
        // A node id the cluster does not know means this data directory belongs to
        // another cluster, and a refused argument is a configuration to fix: retrying
        // cannot help. Anything else (no leader yet, a master still starting, an address
        // that is not a master yet) may pass, so the node keeps trying and says why.
        if (error instanceof AtollError && fatalRegistrationStatuses.has(error.status)) throw error;
        attempt += 1;
        if (attempt === 1 || attempt % 10 === 0) options.logger.warn({ attempt, err: (error as Error).message }, 'no master accepted the registration yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, options.registerRetryMs ?? 1_000));
      }
    }
    this.#schedule();
    return this.#identity!;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.#heartbeat().finally(() => this.#schedule());
    }, this.#heartbeatIntervalMs);
  }

  async #heartbeat(): Promise<void> {
    const identity = this.#identity;
    if (identity === null || this.#heartbeating || this.#stopped) return;
    this.#heartbeating = true;
    try {
      const usage = await this.#options.usage();
      const reports = this.#options.reports();
      const answer = await this.#options.masterClient.call(Master.nodeHeartbeat, {
        nodeId: identity.nodeId,
        capacityBytes: usage.capacityBytes,
        usedBytes: usage.usedBytes,
        partitions: reports,
        partitionsLoaded: reports.filter((report) => report.loaded).length,
        partitionsTotal: reports.length,
      }, { retryTotalMs: this.#heartbeatIntervalMs * 3 });
      this.#heartbeatsSent += 1;
      if (answer.heartbeatIntervalMs > 0) this.#heartbeatIntervalMs = Math.max(heartbeatIntervalMsMin, answer.heartbeatIntervalMs);
      if (this.#lastHeartbeatError !== null) this.#options.logger.info({}, 'heartbeats reach the masters again');
      this.#lastHeartbeatError = null;
      if (answer.tasks.length > 0) this.#options.onTasks(answer.tasks);
    } catch (error) {
      const message = (error as Error).message;
      if (this.#lastHeartbeatError !== message) this.#options.logger.warn({ err: message }, 'heartbeat to the masters failed');
      this.#lastHeartbeatError = message;
    } finally {
      this.#heartbeating = false;
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** The node id this data directory registered with before (0: never registered). */
export async function savedNodeId(dataDir: string): Promise<number> {
  return (await readIdentity(join(dataDir, identityFileName)))?.nodeId ?? 0;
}

async function readIdentity(path: string): Promise<NodeIdentity | null> {
  if (!existsSync(path)) return null;
  const parsed = JSON.parse(await readFile(path, 'utf8')) as NodeIdentity;
  if (!Number.isSafeInteger(parsed.nodeId) || typeof parsed.registrationToken !== 'string' || parsed.registrationToken.length === 0) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, `${path}: not a node identity this version understands`);
  }
  return parsed;
}

async function writeIdentity(path: string, identity: NodeIdentity): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(identity, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}
