// The Raft transport over the RPC layer: heartbeat batches to a peer's heartbeat port,
// everything else to its replica port, snapshots in checksummed chunks to the replica
// port. Addresses come from the group's peer records only.
import { crc32 } from '../checksum/index.js';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { RaftTransport as RaftTransportService, type RaftMessageBatch, type RaftMessageBatchAck, type SnapshotChunk } from '../proto/generated/raft.js';
import { MessageType, type NodeId } from '../raft/index.js';
import type { MethodDescriptor, RpcClient, RpcServer } from '../rpc/index.js';
import { messageFromWire, messageToWire } from './message-codec.js';
import type { RaftHost } from './raft-host.js';
import type { GroupMessage, PeerAddress, RaftTransport } from './types.js';

export const snapshotChunkBytesDefault = 1024 * 1024;
// Snapshots being received at once, and their bytes, are bounded: a peer cannot make this
// node buffer without limit. The counts are per instance (`snapshot-receives-max`,
// `snapshot-sends-max` of a metanode or datanode); these are the defaults.
export const snapshotReceivesMaxDefault = 16;
export const snapshotSendsMaxDefault = 8;
export const snapshotBytesMax = 4 * 1024 * 1024 * 1024;

export interface RpcRaftTransportOptions {
  readonly localNodeId: NodeId;
  // This instance's own record, sent with every batch.
  readonly localAddress: PeerAddress;
  readonly client: RpcClient;
  // Called when a peer could not be reached, for every group in the lost batch.
  readonly onUnreachable: (groupId: number, nodeId: NodeId) => void;
  readonly deadlineMs?: number;
  readonly snapshotChunkBytes?: number;
  // Snapshots sent at once; one more is not sent but reported as failed, and Raft tries
  // again later (a snapshot is a whole partition: a few at a time keep the network and
  // disks for the foreground work of a node that many groups lean on at once).
  readonly snapshotSendsMax?: number;
}

export class RpcRaftTransport implements RaftTransport {
  #snapshotsSending = 0;

  constructor(private readonly options: RpcRaftTransportOptions) {
    const sendsMax = options.snapshotSendsMax ?? snapshotSendsMaxDefault;
    if (!Number.isSafeInteger(sendsMax) || sendsMax < 1) throw new Error(`snapshotSendsMax must be a positive integer: ${sendsMax}`);
  }

  /** Snapshots being sent now. */
  get snapshotsSending(): number {
    return this.#snapshotsSending;
  }

  sendHeartbeats(to: PeerAddress, messages: readonly GroupMessage[]): void {
    this.sendBatch(`${to.host}:${to.heartbeatPort}`, RaftTransportService.heartbeat, to, messages);
  }

  send(to: PeerAddress, messages: readonly GroupMessage[]): void {
    this.sendBatch(`${to.host}:${to.replicaPort}`, RaftTransportService.send, to, messages);
  }

  async sendSnapshot(to: PeerAddress, groupMessage: GroupMessage): Promise<boolean> {
    const snapshot = groupMessage.message.snapshot;
    if (snapshot === undefined) return false;
    const data = snapshot.data;
    const wire = messageToWire(groupMessage.groupId, groupMessage.message);
    const snapshotCrc = crc32(data);
    const address = `${to.host}:${to.replicaPort}`;
    const chunkBytes = this.options.snapshotChunkBytes ?? snapshotChunkBytesDefault;
    if (this.#snapshotsSending >= (this.options.snapshotSendsMax ?? snapshotSendsMaxDefault)) return false;
    this.#snapshotsSending++;
    try {
      let offset = 0;
      do {
        const end = Math.min(data.length, offset + chunkBytes);
        const chunk = data.subarray(offset, end);
        const chunkHeader: SnapshotChunk = {
          message: wire,
          offset,
          totalBytes: data.length,
          chunkCrc32: crc32(chunk),
          snapshotCrc32: snapshotCrc,
          last: end === data.length,
        };
        const ack = await this.options.client.call(address, RaftTransportService.installSnapshotChunk, chunkHeader, { payload: chunk, deadlineMs: this.options.deadlineMs ?? 30_000 });
        if (ack.nextOffset !== end) return false;
        offset = end;
      } while (offset < data.length);
      return true;
    } catch {
      return false;
    } finally {
      this.#snapshotsSending--;
    }
  }

  private sendBatch(address: string, method: MethodDescriptor<RaftMessageBatch, RaftMessageBatchAck>, to: PeerAddress, messages: readonly GroupMessage[]): void {
    const local = this.options.localAddress;
    const batch: RaftMessageBatch = {
      fromNodeId: this.options.localNodeId,
      toNodeId: to.nodeId,
      messages: messages.map(({ groupId, message }) => messageToWire(groupId, message)),
      fromAddress: { nodeId: local.nodeId, host: local.host, heartbeatPort: local.heartbeatPort, replicaPort: local.replicaPort },
    };
    // One-way: Raft tolerates lost messages and its responses travel as messages of their
    // own, so an acknowledgement frame would only cost a write and a wake-up on both
    // sides. A peer is reported unreachable when the batch cannot even be queued.
    this.options.client.notify(address, method, batch).catch(() => {
      for (const { groupId } of messages) this.options.onUnreachable(groupId, to.nodeId);
    });
  }
}

interface IncomingSnapshot {
  readonly key: string;
  readonly data: Buffer;
  received: number;
  lastChunkAtMs: number;
}

export interface RaftTransportServeOptions {
  // Snapshots received at once; the first chunk of one more is refused with OVERLOADED
  // and its sender tries again later.
  readonly snapshotReceivesMax?: number;
}

// Serves the RaftTransport methods: batches on the heartbeat and replica listeners go to
// the host; snapshot chunks are reassembled, checked, and handed over whole.
export function registerRaftTransport(host: RaftHost, heartbeatServer: RpcServer, replicaServer: RpcServer, options: RaftTransportServeOptions = {}): void {
  const receivesMax = options.snapshotReceivesMax ?? snapshotReceivesMaxDefault;
  if (!Number.isSafeInteger(receivesMax) || receivesMax < 1) throw new Error(`snapshotReceivesMax must be a positive integer: ${receivesMax}`);
  const receiveBatch = (batch: RaftMessageBatch) => {
    if (batch.toNodeId !== host.nodeId) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `raft batch for node ${batch.toNodeId} reached node ${host.nodeId}`);
    }
    const messages: GroupMessage[] = [];
    for (const wire of batch.messages) {
      if (wire.type === MessageType.Snapshot) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'snapshot messages travel as snapshot chunks');
      messages.push({ groupId: wire.groupId, message: messageFromWire(wire, host.nodeId) });
    }
    const from = batch.fromAddress;
    host.receive(
      messages,
      from === undefined || from.nodeId !== batch.fromNodeId ? undefined : { nodeId: from.nodeId as NodeId, host: from.host, heartbeatPort: from.heartbeatPort, replicaPort: from.replicaPort },
    );
    return {};
  };
  heartbeatServer.handle(RaftTransportService.heartbeat, receiveBatch);
  replicaServer.handle(RaftTransportService.send, receiveBatch);

  const incoming = new Map<string, IncomingSnapshot>();
  replicaServer.handle(RaftTransportService.installSnapshotChunk, (chunk, context) => {
    const wire = chunk.message;
    if (wire === undefined || wire.snapshot === undefined || wire.type !== MessageType.Snapshot) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, 'snapshot chunk without its snapshot message');
    }
    if (chunk.totalBytes > snapshotBytesMax) throw new AtollError(StatusCode.TOO_LARGE, `snapshot of ${chunk.totalBytes} bytes exceeds ${snapshotBytesMax}`);
    const key = `${wire.groupId}/${wire.from}/${wire.term}/${wire.snapshot.index}`;
    const payload = context.payload;
    if (crc32(payload) !== chunk.chunkCrc32) throw new AtollError(StatusCode.CHECKSUM_MISMATCH, `snapshot chunk at ${chunk.offset} of group ${wire.groupId}: checksum mismatch`);
    let state = incoming.get(key);
    if (chunk.offset === 0) {
      if (state === undefined && incoming.size >= receivesMax) throw new AtollError(StatusCode.OVERLOADED, `${incoming.size} snapshots are being received (snapshot-receives-max ${receivesMax})`);
      state = { key, data: Buffer.allocUnsafe(chunk.totalBytes), received: 0, lastChunkAtMs: Date.now() };
      incoming.set(key, state);
    }
    if (state === undefined || chunk.offset !== state.received || chunk.offset + payload.length > state.data.length) {
      incoming.delete(key);
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `snapshot chunk of group ${wire.groupId} at ${chunk.offset} is out of order; start again`);
    }
    payload.copy(state.data, chunk.offset);
    state.received += payload.length;
    state.lastChunkAtMs = Date.now();
    if (chunk.last) {
      incoming.delete(key);
      if (state.received !== state.data.length || crc32(state.data) !== chunk.snapshotCrc32) {
        throw new AtollError(StatusCode.CHECKSUM_MISMATCH, `snapshot of group ${wire.groupId} at index ${wire.snapshot.index}: checksum of the whole does not match`);
      }
      host.receive([{ groupId: wire.groupId, message: messageFromWire(wire, host.nodeId, state.data) }]);
    }
    // Snapshots abandoned by their sender are dropped after a while.
    const now = Date.now();
    for (const [other, pending] of incoming) if (now - pending.lastChunkAtMs > 60_000) incoming.delete(other);
    return { nextOffset: state.received };
  });
}
