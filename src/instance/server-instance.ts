// The runtime every server role (master, metanode, datanode) stands on: it takes the data
// directory's lock, checks and binds the instance's four ports, and runs the services
// every instance has: RPC on the service port, the Raft transport's two listeners on the
// heartbeat and replica ports, and the HTTP side (/healthz, /readyz, /status, /metrics).
// The role's own logic plugs in through `readiness`, `statusExtra` and the servers it
// registers methods and routes on.
//
// Start-up order is the staged start-up of the architecture: bind every port first (so
// /healthz answers at once), report the bound ports, and only then does the role load its
// state, with /readyz saying how far it got.
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import {
  acquireDataDirLock,
  checkPortsFree,
  configFileOf,
  listInstancePorts,
  type DataDirLock,
  type ServerConfigBase,
  type ServerRole,
} from '../config/index.js';
import {
  closeLogger,
  createLogger,
  createMetrics,
  InstanceHttpServer,
  type Logger,
  type Metrics,
  type Readiness,
  type StatusExtra,
} from '../observability/index.js';
import { PayloadPool, RpcServer, registerDiagnostics, type PayloadPoolLimits, type RpcLimits } from '../rpc/index.js';
import { StatusCode } from '../proto/generated/common.js';
import { AtollError } from '../errors/atoll-error.js';
import { atollVersion } from './version.js';

export interface InstancePortsBound {
  readonly service: number;
  readonly http: number;
  readonly raftHeartbeat: number;
  readonly raftReplica: number;
}

// Written to <data-dir>/instance.json once every port is bound, so launchers and tools
// find an instance that was started with port 0.
export interface InstanceRecord {
  readonly role: ServerRole;
  readonly instance: string;
  readonly version: string;
  readonly pid: number;
  readonly host: string;
  readonly ports: InstancePortsBound;
  readonly dataDir: string;
  /** The `--config` file the instance was started with, if any. */
  readonly configFile?: string;
  readonly startedAt: string;
}

export interface ServerInstanceOptions {
  readonly role: ServerRole;
  readonly config: ServerConfigBase;
  // The role's readiness; before the role sets one, the instance is ready once bound.
  readonly readiness?: () => Readiness | Promise<Readiness>;
  readonly statusExtra?: StatusExtra;
  readonly rpcLimits?: Partial<RpcLimits>;
  // A pool for the service listener's request payloads (RpcServerOptions.payloadPool):
  // for a role whose handlers give large payloads back (the datanode's appends).
  readonly servicePayloadPool?: PayloadPoolLimits;
  // For tests: a logger instead of one writing to stderr.
  readonly logger?: Logger;
  // Registers the role's RPC methods and HTTP routes before any port is bound, so the
  // first connection already finds them (answering "starting" until the role is loaded).
  readonly registerHandlers?: (instance: ServerInstance) => void;
}

export class ServerInstance {
  readonly role: ServerRole;
  readonly config: ServerConfigBase;
  readonly logger: Logger;
  readonly metrics: Metrics;
  // Client-facing and node-to-node RPC (the service port).
  readonly rpc: RpcServer;
  // The Raft transport's listeners; the multi-raft host registers its methods on them.
  readonly raftHeartbeatRpc: RpcServer;
  readonly raftReplicaRpc: RpcServer;
  readonly http: InstanceHttpServer;
  private lock: DataDirLock | null = null;
  private bound: InstancePortsBound | null = null;
  private readinessCheck: () => Readiness | Promise<Readiness>;
  private stopped = false;
  private readonly ownsLogger: boolean;

  private constructor(options: ServerInstanceOptions, secret: string) {
    const { role, config } = options;
    this.role = role;
    this.config = config;
    this.ownsLogger = options.logger === undefined;
    this.logger = options.logger ?? createLogger({ role, instance: config.instance, level: config.logLevel });
    this.metrics = createMetrics({ role, instance: config.instance });
    this.readinessCheck = options.readiness ?? (() => ({ ready: true }));
    const callsTotal = this.metrics.counter({
      name: 'atoll_rpc_calls_total',
      help: 'RPC calls served, by listener, method and status.',
      labelNames: ['listener', 'method', 'status'],
    });
    const callSeconds = this.metrics.histogram({
      name: 'atoll_rpc_call_duration_seconds',
      help: 'Time from request to response of served RPC calls, by listener and method.',
      labelNames: ['listener', 'method'],
    });
    const makeRpc = (listener: string): RpcServer => {
      // Served calls are counted through children kept per method (and status): given a
      // label object, prom-client hashes it on every inc and observe, about 3% of a
      // metanode leader's main thread when it serves one create at a time.
      const perMethod = new Map<string, { seconds: ReturnType<typeof callSeconds.labels>; calls: Map<number, ReturnType<typeof callsTotal.labels>> }>();
      const childrenOf = (method: string) => {
        let children = perMethod.get(method);
        if (children === undefined) {
          children = { seconds: callSeconds.labels({ listener, method }), calls: new Map() };
          perMethod.set(method, children);
        }
        return children;
      };
      const server = new RpcServer({
        secret,
        instance: config.instance,
        logger: this.logger.child({ component: `rpc-${listener}` }),
        limits: options.rpcLimits,
        ...(listener === 'service' && options.servicePayloadPool !== undefined ? { payloadPool: new PayloadPool(options.servicePayloadPool) } : {}),
        onCallFinished: (method, status, durationMs) => {
          const children = childrenOf(method);
          let calls = children.calls.get(status);
          if (calls === undefined) {
            calls = callsTotal.labels({ listener, method, status: StatusCode[status] ?? String(status) });
            children.calls.set(status, calls);
          }
          calls.inc();
          children.seconds.observe(durationMs / 1000);
        },
      });
      registerDiagnostics(server);
      return server;
    };
    this.rpc = makeRpc('service');
    this.raftHeartbeatRpc = makeRpc('raft-heartbeat');
    this.raftReplicaRpc = makeRpc('raft-replica');
    this.http = new InstanceHttpServer({
      role,
      instance: config.instance,
      version: atollVersion,
      logger: this.logger,
      metrics: this.metrics,
      readiness: () => this.readiness(),
      statusExtra: async () => {
        const extra = (await options.statusExtra?.()) ?? {};
        const pool = this.rpc.payloadPool;
        return pool === null ? extra : { ...extra, rpcPayloadPool: pool.status() };
      },
    });
  }

  // Locks the data directory, checks every configured port, binds them all, and writes
  // instance.json. Fails at once, naming the port or the directory, when one is taken.
  static async start(options: ServerInstanceOptions): Promise<ServerInstance> {
    const { config } = options;
    const secret = config.clusterSecret;
    if (secret === undefined || secret.length === 0) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, 'config: cluster-secret: required (set cluster-secret or cluster-secret-file; every node and client of a cluster shares it)');
    }
    const self = { instance: config.instance, role: options.role, configFile: configFileOf(config) };
    const lock = await acquireDataDirLock(config.dataDir, self);
    let instance: ServerInstance | null = null;
    try {
      await checkPortsFree(config.host, listInstancePorts(config), self);
      instance = new ServerInstance(options, secret);
      instance.lock = lock;
      options.registerHandlers?.(instance);
      await instance.bind();
      return instance;
    } catch (error) {
      if (instance !== null) await instance.stop().catch(() => {});
      else await lock.release();
      throw error;
    }
  }

  get ports(): InstancePortsBound {
    if (this.bound === null) throw new Error('instance ports read before start');
    return this.bound;
  }

  // The role replaces the readiness check when it starts loading its state.
  setReadiness(check: () => Readiness | Promise<Readiness>): void {
    this.readinessCheck = check;
  }

  async readiness(): Promise<Readiness> {
    if (this.stopped) return { ready: false, reason: 'stopping' };
    return this.readinessCheck();
  }

  private async bind(): Promise<void> {
    const { config } = this;
    // Each listen names its port and purpose when the port is taken.
    const service = await this.rpc.listen(config.host, config.port);
    const raftHeartbeat = await this.raftHeartbeatRpc.listen(config.host, config.raftHeartbeatPort, 'raft-heartbeat-port', 'Raft heartbeats');
    const raftReplica = await this.raftReplicaRpc.listen(config.host, config.raftReplicaPort, 'raft-replica-port', 'Raft replication');
    const http = await this.http.start(config.host, config.httpPort);
    this.bound = { service, http, raftHeartbeat, raftReplica };
    this.http.setPorts(this.bound);
    const record: InstanceRecord = {
      role: this.role,
      instance: config.instance,
      version: atollVersion,
      pid: process.pid,
      host: config.host,
      ports: this.bound,
      dataDir: config.dataDir,
      ...(configFileOf(config) === undefined ? {} : { configFile: configFileOf(config) }),
      startedAt: new Date().toISOString(),
    };
    const path = join(config.dataDir, 'instance.json');
    await writeFile(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
    this.logger.info({ ports: this.bound, dataDir: config.dataDir, version: atollVersion }, 'instance listening');
  }

  // Graceful: HTTP reports not ready, RPC listeners drain in-flight calls, the lock goes.
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.logger.info({}, 'instance stopping');
    await Promise.allSettled([this.rpc.stop(), this.raftHeartbeatRpc.stop(), this.raftReplicaRpc.stop()]);
    await this.http.stop();
    await this.lock?.release();
    this.lock = null;
    this.logger.info({}, 'instance stopped');
    if (this.ownsLogger) await closeLogger(this.logger);
  }
}
