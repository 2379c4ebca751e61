// The master's admin API (docs/api.md): one set of routes served over HTTP and over the
// Master.Admin RPC. Only the leader executes: a follower forwards every request to the
// leader except the two it answers itself (cluster info, from its own view of the group,
// and volume views, from its leader-fed cache). On the leader, reads wait for a read
// index (a deposed leader cannot answer from a stale state) and writes are proposals.
import { createHash, timingSafeEqual } from 'node:crypto';
import { AtollError } from '../errors/atoll-error.js';
import { httpErrorOf } from '../errors/http-status.js';
import { StatusCode } from '../proto/generated/common.js';
import { Router, type RouteMethod } from '../observability/router.js';
import type { ClusterInfoResponse, VolumeView } from '../proto/generated/master.js';
import type { MasterCommand } from './commands.js';
import { choosePeers, choosePeersForPartitions } from './placement.js';
import { decommissionProgress, splitInodeEnd } from './planner.js';
import {
  integerField,
  invalid,
  optionalObject,
  parseId,
  rejectUnknownFields,
  required,
  requireObject,
  stringField,
  type JsonObject,
} from './request-fields.js';
import { settingBounds, settingNames } from './settings.js';
import type { ClusterSettings, MasterState, NodeRoleName, PartitionRecord } from './state.js';
import { nodeJson, partitionJson, partitionStatusName, partitionsOfVolume, peerAddressesJson, volumeJson } from './views.js';

export interface AdminRequest {
  readonly method: string;
  /** Path with its query string, as in an HTTP request line. */
  readonly path: string;
  readonly body: unknown;
  readonly adminToken: string | undefined;
  readonly forwardedHops: number;
}

export interface AdminReply {
  readonly status: number;
  readonly body: unknown;
  /** The service address of the master that executed the request, when it was forwarded. */
  readonly handledBy?: string;
}

/** What the admin API needs from the master it runs in. */
export interface AdminContext {
  readonly adminToken: string | undefined;
  state(): MasterState;
  isLeader(): boolean;
  /** Resolves once this leader has confirmed its leadership and applied all it committed. */
  leaderRead(): Promise<void>;
  propose(command: MasterCommand): Promise<unknown>;
  /** Sends the request to the leader; throws NOT_LEADER/UNAVAILABLE when there is none. */
  forwardToLeader(request: AdminRequest): Promise<AdminReply>;
  clusterInfo(): ClusterInfoResponse;
  /** The view a client may have (leader: current state; follower: cache or STALE_VIEW). */
  volumeView(volume: string, knownVersion: number): Promise<VolumeView>;
  nowMs(): number;
  randomHex(bytes: number): string;
  log(fields: Record<string, unknown>, message: string): void;
}

interface RouteInput {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: unknown;
}

interface RouteSpec {
  /** Answered by whichever master receives it, never forwarded. */
  readonly local?: boolean;
  readonly mutates: boolean;
  readonly handler: (input: RouteInput) => Promise<AdminReply> | AdminReply;
}

/** Forwarding goes to the leader once; a second hop means two masters disagree about who leads. */
export const adminForwardHopsMax = 1;
const routesMax = 64;

export const volumeNamePattern = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const volumeNameText = '3 to 63 lower-case letters, digits or "-", starting and ending with a letter or digit';
const ownerPattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const replicaCountMax = 5;
const volumeCapacityBytesMax = 2 ** 53 - 1;
const trashRetentionHoursMax = 24 * 365;
const descriptionLengthMax = 1_024;
const partitionsPerRequestMax = 64;

export class AdminApi {
  readonly #context: AdminContext;
  readonly #router = new Router<RouteSpec>(routesMax);

  constructor(context: AdminContext) {
    this.#context = context;
    this.#routes();
  }

  /** Every route, for the HTTP server to register. */
  static readonly routes: ReadonlyArray<readonly [RouteMethod, string]> = [
    ['GET', '/api/v1/cluster'],
    ['GET', '/api/v1/cluster/settings'],
    ['PATCH', '/api/v1/cluster/settings'],
    ['GET', '/api/v1/nodes'],
    ['GET', '/api/v1/nodes/:id'],
    ['POST', '/api/v1/nodes/:id/decommission'],
    ['DELETE', '/api/v1/nodes/:id/decommission'],
    ['GET', '/api/v1/volumes'],
    ['POST', '/api/v1/volumes'],
    ['GET', '/api/v1/volumes/:name'],
    ['PATCH', '/api/v1/volumes/:name'],
    ['DELETE', '/api/v1/volumes/:name'],
    ['GET', '/api/v1/volumes/:name/view'],
    ['POST', '/api/v1/volumes/:name/partitions'],
    ['GET', '/api/v1/partitions'],
    ['GET', '/api/v1/partitions/:id'],
    ['PATCH', '/api/v1/partitions/:id'],
    ['POST', '/api/v1/partitions/:id/replicas'],
    ['DELETE', '/api/v1/partitions/:id/replicas/:nodeId'],
    ['POST', '/api/v1/partitions/:id/replicas/:nodeId/decommission'],
    ['POST', '/api/v1/partitions/:id/transfer-leader'],
  ];

  /** Never throws: every failure becomes an error reply. */
  async handle(request: AdminRequest): Promise<AdminReply> {
    try {
      return await this.#handle(request);
    } catch (error) {
      return errorReply(error, this.#context);
    }
  }

  async #handle(request: AdminRequest): Promise<AdminReply> {
    const url = new URL(request.path, 'http://master.invalid');
    const match = this.#router.match(request.method, url.pathname);
    if (match.kind === 'not-found') throw new AtollError(StatusCode.NOT_FOUND, `no route for ${request.method} ${url.pathname}`);
    if (match.kind === 'method-not-allowed') {
      return { status: 405, body: { error: { code: 'METHOD_NOT_ALLOWED', message: `${request.method} is not allowed on ${match.pattern}; allowed: ${match.allowed.join(', ')}` } } };
    }
    const spec = match.value;
    // The token is checked where the request is carried out (the leader), against its
    // own configuration: a follower forwards without judging it.
    if (spec.local !== true && !this.#context.isLeader()) {
      if (request.forwardedHops >= adminForwardHopsMax) {
        throw new AtollError(StatusCode.UNAVAILABLE, 'the master this request was forwarded to is not the leader either; the group is electing, retry shortly', { retryAfterMs: 500 });
      }
      return this.#context.forwardToLeader(request);
    }
    const params: Record<string, string> = {};
    for (const [name, raw] of Object.entries(match.rawParams)) {
      try {
        params[name] = decodeURIComponent(raw);
      } catch {
        throw invalid(`path parameter ${name}: malformed percent-encoding`);
      }
    }
    if (spec.mutates) this.#checkToken(request.adminToken);
    if (spec.local !== true) await this.#context.leaderRead();
    try {
      return await spec.handler({ params, query: url.searchParams, body: request.body });
    } catch (error) {
      // A follower that cannot serve a view from its cache hands the request to the
      // leader: HTTP callers (curl) get the view, never an older one.
      if (error instanceof AtollError && error.status === StatusCode.STALE_VIEW && request.forwardedHops < adminForwardHopsMax && !this.#context.isLeader()) {
        return this.#context.forwardToLeader(request);
      }
      throw error;
    }
  }

  #checkToken(token: string | undefined): void {
    const expected = this.#context.adminToken;
    if (expected === undefined) {
      throw new AtollError(StatusCode.PERMISSION_DENIED, 'this master has no admin-token configured, so it refuses every change; start it with admin-token-file');
    }
    if (token === undefined || token.length === 0) throw new AtollError(StatusCode.UNAUTHENTICATED, 'admin token required: send Authorization: Bearer <token>');
    const digest = (text: string) => createHash('sha256').update(text).digest();
    if (!timingSafeEqual(digest(token), digest(expected))) throw new AtollError(StatusCode.PERMISSION_DENIED, 'admin token does not match');
  }

  #add(method: RouteMethod, pattern: string, spec: RouteSpec): void {
    this.#router.add(method, pattern, spec);
  }

  #routes(): void {
    const context = this.#context;
    const state = () => context.state();

    this.#add('GET', '/api/v1/cluster', { local: true, mutates: false, handler: () => ok(clusterInfoJson(context.clusterInfo(), state().clusterName)) });

    this.#add('GET', '/api/v1/cluster/settings', { mutates: false, handler: () => ok({ settings: state().settings }) });
    this.#add('PATCH', '/api/v1/cluster/settings', {
      mutates: true,
      handler: async ({ body }) => {
        const fields = requireObject(body);
        rejectUnknownFields(fields, settingNames);
        const settings: Partial<Record<keyof ClusterSettings, number>> = {};
        for (const name of settingNames) {
          const value = integerField(fields, name, settingBounds[name]);
          if (value !== undefined) settings[name] = value;
        }
        if (Object.keys(settings).length === 0) throw invalid(`request body: give at least one setting (${settingNames.join(', ')})`);
        const result = await context.propose({ type: 'updateSettings', settings });
        return ok(result);
      },
    });

    this.#add('GET', '/api/v1/nodes', {
      mutates: false,
      handler: ({ query }) => {
        const role = enumQuery(query, 'role', ['metanode', 'datanode'] as const);
        const nodeState = enumQuery(query, 'state', ['active', 'inactive', 'decommissioning', 'decommissioned'] as const);
        const current = state();
        const nodes = Object.values(current.nodes).filter((node) => (role === undefined || node.role === role) && (nodeState === undefined || node.state === nodeState));
        return ok({ nodes: nodes.map((node) => nodeJson(current, node)) });
      },
    });
    this.#add('GET', '/api/v1/nodes/:id', { mutates: false, handler: ({ params }) => ok(this.#nodeDetail(parseId(params.id!, 'node id'))) });
    this.#add('POST', '/api/v1/nodes/:id/decommission', {
      mutates: true,
      handler: async ({ params }) => {
        const nodeId = parseId(params.id!, 'node id');
        const node = this.#node(nodeId);
        if (node.state !== 'decommissioning' && node.state !== 'decommissioned') {
          await context.propose({ type: 'setNodeState', nowMs: context.nowMs(), nodeId, state: 'decommissioning' });
          context.log({ nodeId }, 'node decommission started');
        }
        return { status: 202, body: this.#nodeDetail(nodeId) };
      },
    });

    this.#add('DELETE', '/api/v1/nodes/:id/decommission', {
      mutates: true,
      handler: async ({ params }) => {
        const nodeId = parseId(params.id!, 'node id');
        const node = this.#node(nodeId);
        if (node.state !== 'decommissioning') {
          throw new AtollError(StatusCode.INVALID_ARGUMENT, `node ${nodeId} is ${node.state}; only a decommission in progress can be cancelled`);
        }
        await context.propose({ type: 'setNodeState', nowMs: context.nowMs(), nodeId, state: 'active' });
        context.log({ nodeId }, 'node decommission cancelled');
        return ok(this.#nodeDetail(nodeId));
      },
    });

    this.#add('GET', '/api/v1/volumes', {
      mutates: false,
      handler: () => {
        const current = state();
        const volumes = Object.values(current.volumes).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        return ok({ volumes: volumes.map((volume) => volumeJson(current, volume)) });
      },
    });
    this.#add('POST', '/api/v1/volumes', { mutates: true, handler: ({ body }) => this.#createVolume(body) });
    this.#add('GET', '/api/v1/volumes/:name', {
      mutates: false,
      handler: ({ params }) => {
        const current = state();
        const volume = this.#volume(params.name!);
        const partitions = partitionsOfVolume(current, volume.name);
        return ok({
          volume: volumeJson(current, volume),
          metaPartitions: partitions.filter((partition) => partition.kind === 'meta').map(partitionJson),
          dataPartitions: partitions.filter((partition) => partition.kind === 'data').map(partitionJson),
        });
      },
    });
    this.#add('PATCH', '/api/v1/volumes/:name', {
      mutates: true,
      handler: async ({ params, body }) => {
        const volume = this.#volume(params.name!);
        const fields = requireObject(body);
        rejectUnknownFields(fields, ['capacityBytes', 'trashRetentionHours', 'status', 'description']);
        const capacityBytes = integerField(fields, 'capacityBytes', { min: 1, max: volumeCapacityBytesMax, unit: 'bytes' });
        const trashRetentionHours = integerField(fields, 'trashRetentionHours', { min: 0, max: trashRetentionHoursMax, unit: 'hours' });
        const status = stringField(fields, 'status', { pattern: /^(active|read-only)$/, patternText: 'must be "active" or "read-only"' }) as 'active' | 'read-only' | undefined;
        const description = stringField(fields, 'description', { lengthMax: descriptionLengthMax });
        if (capacityBytes === undefined && trashRetentionHours === undefined && status === undefined && description === undefined) {
          throw invalid('request body: give at least one of capacityBytes, trashRetentionHours, status, description');
        }
        await context.propose({ type: 'updateVolume', name: volume.name, capacityBytes, trashRetentionHours, status, description });
        return ok({ volume: volumeJson(state(), this.#volume(volume.name)) });
      },
    });
    this.#add('DELETE', '/api/v1/volumes/:name', {
      mutates: true,
      handler: async ({ params }) => {
        const volume = this.#volume(params.name!);
        await context.propose({ type: 'deleteVolume', name: volume.name });
        context.log({ volume: volume.name }, 'volume deleted');
        return ok({ deleted: volume.name });
      },
    });
    this.#add('GET', '/api/v1/volumes/:name/view', {
      local: true,
      mutates: false,
      handler: async ({ params, query }) => {
        const knownText = query.get('knownVersion');
        const knownVersion = knownText === null ? 0 : knownText === '0' ? 0 : parseId(knownText, 'query knownVersion');
        const view = await context.volumeView(params.name!, knownVersion);
        return ok(viewJson(view));
      },
    });
    this.#add('POST', '/api/v1/volumes/:name/partitions', { mutates: true, handler: ({ params, body }) => this.#addPartitions(params.name!, body) });

    this.#add('GET', '/api/v1/partitions', {
      mutates: false,
      handler: ({ query }) => {
        const volume = query.get('volume');
        const kind = enumQuery(query, 'kind', ['meta', 'data'] as const);
        if (volume !== null) this.#volume(volume);
        const partitions = Object.values(state().partitions).filter((partition) => (volume === null || partition.volume === volume) && (kind === undefined || partition.kind === kind));
        return ok({ partitions: partitions.map(partitionJson) });
      },
    });
    this.#add('GET', '/api/v1/partitions/:id', {
      mutates: false,
      handler: ({ params }) => {
        const partition = this.#partition(parseId(params.id!, 'partition id'));
        return ok({ partition: partitionJson(partition), peerAddresses: peerAddressesJson(state(), partition) });
      },
    });
    this.#add('PATCH', '/api/v1/partitions/:id', {
      mutates: true,
      handler: async ({ params, body }) => {
        const partition = this.#partition(parseId(params.id!, 'partition id'));
        const fields = requireObject(body);
        rejectUnknownFields(fields, ['status']);
        const status = required(stringField(fields, 'status', { pattern: /^(read-write|read-only)$/, patternText: 'must be "read-write" or "read-only"' }), 'status') as 'read-write' | 'read-only';
        await context.propose({ type: 'setPartitionStatus', partitionId: partition.id, status });
        return ok({ partition: partitionJson(this.#partition(partition.id)) });
      },
    });
    this.#add('POST', '/api/v1/partitions/:id/replicas', {
      mutates: true,
      handler: async ({ params, body }) => {
        const partition = this.#partition(parseId(params.id!, 'partition id'));
        const fields = optionalObject(body);
        rejectUnknownFields(fields, ['nodeId']);
        let nodeId = integerField(fields, 'nodeId', { min: 1, max: Number.MAX_SAFE_INTEGER });
        if (nodeId === undefined) {
          nodeId = this.#place(partition, partition.peers, []);
        } else {
          const node = this.#node(nodeId);
          if (node.role !== roleOfPartition(partition)) throw invalid(`node ${nodeId} is a ${node.role}; partition ${partition.id} needs a ${roleOfPartition(partition)}`);
          if (node.state !== 'active') throw invalid(`node ${nodeId} is ${node.state}; only an active node takes a new replica`);
          if (partition.peers.includes(nodeId)) throw new AtollError(StatusCode.EXISTS, `node ${nodeId} already holds a replica of partition ${partition.id}`);
        }
        await context.propose({ type: 'setPartitionPeers', partitionId: partition.id, expectedPeers: partition.peers, peers: [...partition.peers, nodeId] });
        return { status: 202, body: { partition: partitionJson(this.#partition(partition.id)), addedNodeId: nodeId } };
      },
    });
    this.#add('DELETE', '/api/v1/partitions/:id/replicas/:nodeId', {
      mutates: true,
      handler: async ({ params }) => {
        const partition = this.#partition(parseId(params.id!, 'partition id'));
        const nodeId = parseId(params.nodeId!, 'node id');
        if (!partition.peers.includes(nodeId)) throw new AtollError(StatusCode.NOT_FOUND, `node ${nodeId} holds no replica of partition ${partition.id} (replicas: ${partition.peers.join(', ')})`);
        if (partition.peers.length === 1) throw invalid(`node ${nodeId} holds the last replica of partition ${partition.id}; add another replica first`);
        await context.propose({ type: 'setPartitionPeers', partitionId: partition.id, expectedPeers: partition.peers, peers: partition.peers.filter((peer) => peer !== nodeId) });
        return { status: 202, body: { partition: partitionJson(this.#partition(partition.id)), removedNodeId: nodeId } };
      },
    });
    this.#add('POST', '/api/v1/partitions/:id/replicas/:nodeId/decommission', {
      mutates: true,
      handler: async ({ params }) => {
        const partition = this.#partition(parseId(params.id!, 'partition id'));
        const nodeId = parseId(params.nodeId!, 'node id');
        if (!partition.peers.includes(nodeId)) throw new AtollError(StatusCode.NOT_FOUND, `node ${nodeId} holds no replica of partition ${partition.id} (replicas: ${partition.peers.join(', ')})`);
        const others = partition.peers.filter((peer) => peer !== nodeId);
        const replacement = this.#place(partition, others, [nodeId]);
        const peers = partition.peers.map((peer) => (peer === nodeId ? replacement : peer));
        await context.propose({ type: 'setPartitionPeers', partitionId: partition.id, expectedPeers: partition.peers, peers });
        context.log({ partitionId: partition.id, from: nodeId, to: replacement }, 'replica decommission started');
        return { status: 202, body: { partition: partitionJson(this.#partition(partition.id)), removedNodeId: nodeId, addedNodeId: replacement } };
      },
    });
    this.#add('POST', '/api/v1/partitions/:id/transfer-leader', {
      mutates: true,
      handler: async ({ params, body }) => {
        const partition = this.#partition(parseId(params.id!, 'partition id'));
        const fields = requireObject(body);
        rejectUnknownFields(fields, ['nodeId']);
        const nodeId = required(integerField(fields, 'nodeId', { min: 0, max: Number.MAX_SAFE_INTEGER }), 'nodeId');
        await context.propose({ type: 'setPreferredLeader', partitionId: partition.id, nodeId });
        return { status: 202, body: { partition: partitionJson(this.#partition(partition.id)) } };
      },
    });
  }

  async #createVolume(body: unknown): Promise<AdminReply> {
    const context = this.#context;
    const fields = requireObject(body);
    rejectUnknownFields(fields, ['name', 'owner', 'capacityBytes', 'replicaCount', 'trashRetentionHours', 'description']);
    const name = required(stringField(fields, 'name', { pattern: volumeNamePattern, patternText: volumeNameText, lengthMax: 63 }), 'name');
    const owner = stringField(fields, 'owner', { pattern: ownerPattern, patternText: 'up to 64 letters, digits, ".", "_", "@" or "-"' }) ?? 'root';
    const capacityBytes = required(integerField(fields, 'capacityBytes', { min: 1, max: volumeCapacityBytesMax, unit: 'bytes' }), 'capacityBytes');
    const replicaCount = integerField(fields, 'replicaCount', { min: 1, max: replicaCountMax, unit: 'replicas' }) ?? 3;
    const trashRetentionHours = integerField(fields, 'trashRetentionHours', { min: 0, max: trashRetentionHoursMax, unit: 'hours' }) ?? 0;
    const description = stringField(fields, 'description', { lengthMax: descriptionLengthMax }) ?? '';
    const current = context.state();
    if (current.volumes[name] !== undefined) throw new AtollError(StatusCode.EXISTS, `volume ${name} already exists`);
    const meta = choosePeersForPartitions(current, 'metanode', current.settings.initialMetaPartitions, replicaCount);
    const data = choosePeersForPartitions(current, 'datanode', current.settings.initialDataPartitions, replicaCount);
    for (const note of [...meta.notes, ...data.notes]) context.log({ volume: name }, note);
    await context.propose({
      type: 'createVolume',
      nowMs: context.nowMs(),
      name,
      owner,
      accessKey: context.randomHex(10),
      secretKey: context.randomHex(20),
      capacityBytes,
      replicaCount,
      trashRetentionHours,
      description,
      metaPartitions: meta.peers.map((peers) => ({ peers })),
      dataPartitions: data.peers.map((peers) => ({ peers })),
    });
    context.log({ volume: name, replicaCount, capacityBytes }, 'volume created');
    const after = context.state();
    const volume = this.#volume(name);
    const partitions = partitionsOfVolume(after, name);
    return {
      status: 201,
      body: {
        volume: volumeJson(after, volume, { withSecretKey: true }),
        metaPartitions: partitions.filter((partition) => partition.kind === 'meta').map(partitionJson),
        dataPartitions: partitions.filter((partition) => partition.kind === 'data').map(partitionJson),
      },
    };
  }

  async #addPartitions(volumeName: string, body: unknown): Promise<AdminReply> {
    const context = this.#context;
    const volume = this.#volume(volumeName);
    if (volume.status !== 'active') throw invalid(`volume ${volume.name} is ${volume.status}; partitions are added to active volumes only`);
    const fields = requireObject(body);
    rejectUnknownFields(fields, ['kind', 'count']);
    const kind = required(stringField(fields, 'kind', { pattern: /^(meta|data)$/, patternText: 'must be "meta" or "data"' }), 'kind');
    const count = integerField(fields, 'count', { min: 1, max: partitionsPerRequestMax, unit: 'partitions' }) ?? 1;
    const current = context.state();
    if (kind === 'meta') {
      if (count !== 1) throw invalid('field count: meta partitions are added one at a time (a split of the last one)');
      const last = partitionsOfVolume(current, volume.name).find((partition) => partition.kind === 'meta' && partition.inodeEnd === 0);
      if (last === undefined || last.kind !== 'meta') throw new AtollError(StatusCode.INTERNAL, `volume ${volume.name} has no unbounded meta partition`);
      const { inodeEnd, peers } = splitPlan(current, last, volume.replicaCount);
      const result = await context.propose({ type: 'splitMetaPartition', nowMs: context.nowMs(), partitionId: last.id, inodeEnd, peers });
      return { status: 201, body: result };
    }
    const placed = choosePeersForPartitions(current, 'datanode', count, volume.replicaCount);
    for (const note of placed.notes) context.log({ volume: volume.name }, note);
    const result = await context.propose({ type: 'createPartitions', nowMs: context.nowMs(), volume: volume.name, kind: 'data', partitions: placed.peers.map((peers) => ({ peers })) });
    return { status: 201, body: result };
  }

  #place(partition: PartitionRecord, keep: readonly number[], exclude: readonly number[]): number {
    const result = choosePeers(this.#context.state(), { role: roleOfPartition(partition), count: 1, keepNodeIds: keep, excludeNodeIds: [...exclude, ...partition.peers] });
    if (result.note !== '') this.#context.log({ partitionId: partition.id }, result.note);
    return result.nodeIds[0]!;
  }

  #nodeDetail(nodeId: number): Record<string, unknown> {
    const current = this.#context.state();
    const node = this.#node(nodeId);
    const partitions = Object.values(current.partitions)
      .filter((partition) => partition.peers.includes(nodeId) || partition.reportedMembers.includes(nodeId))
      .map((partition) => partition.id);
    const decommission = node.state === 'decommissioning' || node.state === 'decommissioned' ? decommissionProgress(current, nodeId) : null;
    return { node: nodeJson(current, node), partitions, decommission };
  }

  #node(nodeId: number) {
    const node = this.#context.state().nodes[nodeId];
    if (node === undefined) throw new AtollError(StatusCode.NOT_FOUND, `node ${nodeId} does not exist`);
    return node;
  }

  #volume(name: string) {
    const volume = this.#context.state().volumes[name];
    if (volume === undefined) throw new AtollError(StatusCode.NOT_FOUND, `volume ${name} does not exist`);
    return volume;
  }

  #partition(partitionId: number): PartitionRecord {
    const partition = this.#context.state().partitions[partitionId];
    if (partition === undefined) throw new AtollError(StatusCode.NOT_FOUND, `partition ${partitionId} does not exist`);
    return partition;
  }
}

/** Where an operator's split of the last meta partition puts the new boundary. */
export function splitPlan(state: MasterState, last: Extract<PartitionRecord, { kind: 'meta' }>, replicaCount: number): { inodeEnd: number; peers: number[] } {
  const inodeEnd = splitInodeEnd(state.settings, last);
  const placed = choosePeers(state, { role: 'metanode', count: replicaCount });
  return { inodeEnd, peers: placed.nodeIds };
}

function roleOfPartition(partition: PartitionRecord): NodeRoleName {
  return partition.kind === 'meta' ? 'metanode' : 'datanode';
}

// The view as JSON: partition statuses by name, like every other answer of the API.
function viewJson(view: VolumeView): Record<string, unknown> {
  return {
    ...view,
    metaPartitions: view.metaPartitions.map((partition) => ({ ...partition, status: partitionStatusName(partition.status) })),
    dataPartitions: view.dataPartitions.map((partition) => ({ ...partition, status: partitionStatusName(partition.status) })),
  };
}

function ok(body: unknown): AdminReply {
  return { status: 200, body };
}

function enumQuery<Value extends string>(query: URLSearchParams, name: string, values: readonly Value[]): Value | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  if (!(values as readonly string[]).includes(value)) throw invalid(`query ${name}: must be one of ${values.join(', ')}, got ${JSON.stringify(value.slice(0, 40))}`);
  return value as Value;
}

export function clusterInfoJson(info: ClusterInfoResponse, clusterName: string): JsonObject {
  return {
    clusterName,
    leader: info.leader,
    term: info.term,
    appliedIndex: info.appliedIndex,
    answeredBy: info.answeredBy,
    members: info.members.map((member) => ({
      address: member.address,
      nodeId: member.nodeId,
      state: member.state,
      httpPort: member.httpPort,
      term: member.term,
      appliedIndex: member.appliedIndex,
      lastSeenMsAgo: member.lastSeenMsAgo,
    })),
  };
}

function errorReply(error: unknown, context: AdminContext): AdminReply {
  if (error instanceof AtollError) {
    const { httpStatus, code, message, details } = httpErrorOf(error);
    return { status: httpStatus, body: { error: details === undefined ? { code, message } : { code, message, details } } };
  }
  context.log({ err: error }, 'admin API handler failed');
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error; the master log has the details' } } };
}

