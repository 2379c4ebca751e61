// The DataNode RPC methods (proto/datanode.proto). Clients call the partition's leader;
// the leader checks a packet, writes it locally and forwards it to every follower in
// parallel, and answers once every replica has it. Bad input is refused with a status
// code before anything is written. design.md has the protocol.
import { crc32 } from '../checksum/index.js';
import { AtollError, StatusCode } from '../errors/index.js';
import type { PartitionHost } from '../nodeagent/index.js';
import { DataNode, type CreateExtentRequest, type DeleteExtentsRequest, type ExtentRange, type WritePacket } from '../proto/generated/datanode.js';
import { withPayload, type CallContext, type RpcClient, type RpcServer } from '../rpc/index.js';
import { DataPartition } from './data-partition.js';
import { normalExtentIdFirst } from './extent/index.js';
import type { DataNodeLimits } from './limits.js';
import { encodeOverwrite } from './overwrite-command.js';
import { ReadBufferPool } from './read-buffer-pool.js';
import type { PeerDirectory } from './peer-directory.js';
import { executeRepairs, summarize, type RepairDeps } from './repair-runner.js';

export interface DataNodeServiceDeps {
  readonly host: () => PartitionHost;
  readonly rpc: RpcClient;
  readonly peers: PeerDirectory;
  readonly limits: DataNodeLimits;
  readonly repair: () => RepairDeps;
}

function partitionOf(deps: DataNodeServiceDeps, partitionId: number): DataPartition {
  const { partition } = deps.host().get(partitionId);
  if (!(partition instanceof DataPartition)) throw new AtollError(StatusCode.INVALID_ARGUMENT, `partition ${partitionId} is not a data partition`);
  return partition;
}

/** NOT_LEADER naming the leader (`node:<id>`, as Raft does) unless this replica leads. */
function requireLeader(partition: DataPartition, action: string): void {
  const context = partition.context;
  if (context.isLeader()) return;
  const leader = context.leaderNodeId();
  throw new AtollError(StatusCode.NOT_LEADER, `${action} in data partition ${partition.partitionId}: node ${context.nodeId} is not the leader${leader !== 0 ? `; node ${leader} is` : ''}`, {
    leaderHint: leader !== 0 ? `node:${leader}` : '',
    retryAfterMs: leader !== 0 ? 0 : 200,
  });
}

/** The followers' service addresses; synchronous when known (keeps packets in order). */
function followersOf(deps: DataNodeServiceDeps, partition: DataPartition): string[] | Promise<string[]> {
  const context = partition.context;
  const followers = context.members().filter((nodeId) => nodeId !== context.nodeId);
  return deps.peers.known(followers) ?? deps.peers.resolve(partition.spec.volume, followers);
}

/** Runs the local part and the forwards together; the first failure wins, local first. */
async function everywhere(action: string, local: Promise<unknown>, forwards: readonly Promise<unknown>[], followers: readonly string[]): Promise<void> {
  const results = await Promise.allSettled([local, ...forwards]);
  const [own, ...others] = results;
  if (own!.status === 'rejected') throw own!.reason;
  others.forEach((result, index) => {
    if (result.status === 'fulfilled') return;
    const reason = result.reason as Error;
    const status = reason instanceof AtollError ? reason.status : StatusCode.INTERNAL;
    // Whatever the follower said, the client may retry elsewhere: this leader is fine.
    throw new AtollError(StatusCode.UNAVAILABLE, `${action}: replica ${followers[index]} failed: ${StatusCode[status]}: ${reason.message}`, { cause: reason, retryAfterMs: 100 });
  });
}

function checkPayload(action: string, size: number, crc: number, payload: Uint8Array, packetBytesMax: number): void {
  if (payload.byteLength !== size) throw new AtollError(StatusCode.INVALID_ARGUMENT, `${action}: the packet says ${size} bytes, the payload has ${payload.byteLength}`);
  if (size > packetBytesMax) throw new AtollError(StatusCode.TOO_LARGE, `${action}: ${size} bytes is over packetBytesMax=${packetBytesMax}`);
  if (size === 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, `${action}: empty packet`);
  const computed = crc32(payload);
  if (computed !== crc) throw new AtollError(StatusCode.CHECKSUM_MISMATCH, `${action}: payload CRC32 0x${computed.toString(16)} does not match the packet's 0x${crc.toString(16)}; nothing written`);
}

export function registerDataNodeService(server: RpcServer, deps: DataNodeServiceDeps): void {
  const { limits } = deps;
  const readBuffers = new ReadBufferPool(limits.readBufferBytes, limits.readBuffersMax);

  server.handle(DataNode.createExtent, async (request: CreateExtentRequest) => {
    const partition = partitionOf(deps, request.partitionId);
    const action = `create extent`;
    if (request.tiny) throw new AtollError(StatusCode.INVALID_ARGUMENT, `${action} in data partition ${request.partitionId}: tiny extents are made by every replica at open, not on request`);
    if (request.forwarded) {
      if (request.extentId < normalExtentIdFirst) throw new AtollError(StatusCode.INVALID_ARGUMENT, `${action}: a forwarded create needs the leader's extent id, got ${request.extentId}`);
      return { extentId: await partition.store.createExtent(request.extentId) };
    }
    requireLeader(partition, action);
    partition.checkRoom(action, limits.packetBytesMax);
    const followers = await followersOf(deps, partition);
    const extentId = await partition.store.createExtent();
    const forwards = followers.map((address) => deps.rpc.call(address, DataNode.createExtent, { partitionId: request.partitionId, tiny: false, extentId, forwarded: true }, { deadlineMs: limits.forwardDeadlineMs }));
    try {
      await everywhere(`${action} ${extentId} in data partition ${request.partitionId}`, Promise.resolve(), forwards, followers);
    } catch (error) {
      // Not on every replica: nobody gets to write to it. Repair deletes or completes it.
      partition.appendFailed(extentId, Date.now());
      throw error;
    }
    partition.extentCreated(extentId, Date.now());
    return { extentId };
  });

  server.handle(DataNode.write, (packet: WritePacket, context: CallContext) => {
    const action = `append ${packet.size} bytes at ${packet.offset} to extent ${packet.extentId} of data partition ${packet.partitionId}`;
    // Everything is checked before anything is written, and synchronously up to the
    // local append: packets of one stream reach the store (and the followers) in order.
    checkPayload(action, packet.size, packet.crc32, context.payload, limits.packetBytesMax);
    const partition = partitionOf(deps, packet.partitionId);
    if (packet.tiny) return writeTiny(deps, partition, packet, context.payload);
    if (packet.forwarded) {
      partition.checkRoom(action, packet.size);
      return partition.store.append(packet.extentId, packet.offset, context.payload, packet.crc32).then(() => {
        // On disk: the store holds none of the bytes any more. (After a failure the
        // payload is simply left to the garbage collector.)
        context.releasePayload();
        return { extentSize: packet.offset + packet.size, extentId: packet.extentId, extentOffset: packet.offset };
      });
    }
    try {
      requireLeader(partition, action);
      partition.checkRoom(action, packet.size);
    } catch (error) {
      // Refused for a reason that may pass (leadership moving away and back, room freed):
      // the packets behind this one, already on their way, must not be appended after its
      // gap. The extent closes, so they are refused as retryable and the client continues
      // on a new extent.
      if (packet.extentId >= normalExtentIdFirst && partition.store.hasExtent(packet.extentId)) partition.appendFailed(packet.extentId, Date.now());
      throw error;
    }
    partition.admitAppend(packet.extentId, packet.offset, packet.size);
    const send = (followers: string[]): Promise<{ extentSize: number }> => {
      const local = partition.store.append(packet.extentId, packet.offset, context.payload, packet.crc32);
      const forwards = followers.map((address) => deps.rpc.call(address, DataNode.write, { ...packet, forwarded: true }, { payload: context.payload, deadlineMs: limits.forwardDeadlineMs }));
      return everywhere(action, local, forwards, followers).then(
        () => {
          partition.appendDone(packet.extentId, Date.now());
          // On disk here and answered by every follower, so every forward's bytes left
          // their socket. Not after a failure: a forward that timed out may still have
          // its bytes queued in a socket.
          context.releasePayload();
          return { extentSize: packet.offset + packet.size, extentId: packet.extentId, extentOffset: packet.offset };
        },
        (error: unknown) => {
          partition.appendFailed(packet.extentId, Date.now());
          throw error;
        },
      );
    };
    const followers = followersOf(deps, partition);
    if (Array.isArray(followers)) return send(followers);
    return followers.then(send, (error: unknown) => {
      partition.appendFailed(packet.extentId, Date.now());
      throw error;
    });
  });

  server.handle(DataNode.read, async (request, context) => {
    const partition = partitionOf(deps, request.partitionId);
    const action = `read [${request.offset}, ${request.offset + request.size}) of extent ${request.extentId} in data partition ${request.partitionId}`;
    if (request.size > limits.readBytesMax) throw new AtollError(StatusCode.TOO_LARGE, `${action}: over readBytesMax=${limits.readBytesMax}`);
    const store = partition.store;
    if (!request.forRepair) {
      // Only the leader serves reads: a follower, even a complete one, may not have
      // applied an overwrite the leader already acknowledged (overwrites go through Raft),
      // so it sends the caller to the leader.
      requireLeader(partition, action);
      if (store.hasExtent(request.extentId) && request.offset + request.size > store.size(request.extentId) && !partition.caughtUp) {
        throw new AtollError(StatusCode.UNAVAILABLE, `${action}: this leader is being repaired (it holds ${store.size(request.extentId)} bytes)`, { retryAfterMs: 500 });
      }
    }
    if (context.signal.aborted) throw new AtollError(StatusCode.CANCELLED, `${action}: the caller gave up`);
    let read: { data: Uint8Array; crc32: number };
    // The blocks are read into a pooled buffer, given back once the answer has left it.
    let buffer: Buffer | undefined;
    try {
      read = await store.readWithCrc(request.extentId, request.offset, request.size, (bytes) => (buffer = readBuffers.take(bytes)));
    } catch (error) {
      // The read failed: nothing refers to its buffer.
      if (buffer !== undefined) readBuffers.give(buffer);
      if (error instanceof AtollError && error.status === StatusCode.CHECKSUM_MISMATCH) {
        // The store marked the block; the leader's next round copies it from a replica.
        partition.caughtUp = partition.context.isLeader() ? partition.caughtUp : false;
        partition.repairSoon();
        partition.context.logger.warn({ extentId: request.extentId, err: error.message }, 'read found a bad block; repair requested');
      }
      throw error;
    }
    const taken = buffer;
    return withPayload({ size: read.data.byteLength, crc32: read.crc32 }, read.data, taken === undefined ? undefined : () => readBuffers.give(taken));
  });

  server.handle(DataNode.sync, async (request) => {
    const partition = partitionOf(deps, request.partitionId);
    const action = `sync extent ${request.extentId} of data partition ${request.partitionId}`;
    if (request.forwarded) {
      await partition.store.sync();
      return {};
    }
    requireLeader(partition, action);
    const followers = await followersOf(deps, partition);
    const forwards = followers.map((address) => deps.rpc.call(address, DataNode.sync, { ...request, forwarded: true }, { deadlineMs: limits.forwardDeadlineMs }));
    await everywhere(action, partition.store.sync(), forwards, followers);
    return {};
  });

  server.handle(DataNode.deleteExtents, async (request: DeleteExtentsRequest) => {
    const partition = partitionOf(deps, request.partitionId);
    const action = `delete ${request.extents.length} extent range(s) of data partition ${request.partitionId}`;
    if (!request.forwarded) requireLeader(partition, action);
    const tinyExtents = request.extents.filter((range) => range.extentId < normalExtentIdFirst).map((range) => range.extentId);
    if (!request.forwarded) partition.markBusy(tinyExtents, Date.now());
    const freedBytes = await deleteLocally(partition, request.extents);
    if (!request.forwarded) {
      const followers = await followersOf(deps, partition);
      const forwards = followers.map((address) => deps.rpc.call(address, DataNode.deleteExtents, { ...request, forwarded: true }, { deadlineMs: limits.forwardDeadlineMs }));
      // Done here is enough: a follower that missed a deletion gets it from repair (the
      // deletion log is compared; a released tiny range by its blocks' majority), and
      // deleting again is harmless.
      await Promise.allSettled(forwards);
      partition.markBusy(tinyExtents, Date.now());
    }
    return { freedBytes };
  });

  server.handle(DataNode.overwrite, async (request, context) => {
    const action = `overwrite ${request.size} bytes at ${request.offset} of extent ${request.extentId} in data partition ${request.partitionId}`;
    checkPayload(action, request.size, request.crc32, context.payload, limits.packetBytesMax);
    const partition = partitionOf(deps, request.partitionId);
    requireLeader(partition, action);
    const store = partition.store;
    if (!store.hasExtent(request.extentId)) throw new AtollError(StatusCode.NOT_FOUND, `${action}: no such extent`);
    if (request.offset + request.size > store.size(request.extentId)) {
      throw new AtollError(StatusCode.INVALID_ARGUMENT, `${action}: beyond the extent's size ${store.size(request.extentId)}; append instead`);
    }
    partition.markBusy([request.extentId], Date.now());
    const result = (await partition.context.propose(encodeOverwrite({ extentId: request.extentId, offset: request.offset, bytes: new Uint8Array(context.payload) }))) as AtollError | null;
    if (result !== null) throw result;
    return {};
  });

  server.handle(DataNode.extentInfo, (request) => summarize(partitionOf(deps, request.partitionId)));

  server.handle(DataNode.repair, async (request) => {
    const partition = partitionOf(deps, request.partitionId);
    const repairedBytes = await executeRepairs(partition, request.repairs, deps.repair());
    if (request.caughtUp) partition.caughtUp = true;
    return { repairedBytes };
  });
}

/**
 * A whole small file into a shared tiny extent. The leader picks the extent and the
 * 4 KiB-aligned offset when it admits the packet (synchronously, so the files of one
 * extent reach every store in admission order) and forwards that choice; a follower
 * writes exactly there or refuses. A failure closes the tiny extent on the leader until
 * repair has made its replicas equal again.
 */
function writeTiny(deps: DataNodeServiceDeps, partition: DataPartition, packet: WritePacket, payload: Uint8Array): Promise<{ extentSize: number; extentId: number; extentOffset: number }> {
  if (packet.forwarded) {
    const action = `write a small file of ${packet.size} bytes at ${packet.offset} of tiny extent ${packet.extentId} in data partition ${packet.partitionId}`;
    if (packet.extentId < 1 || packet.extentId >= normalExtentIdFirst) throw new AtollError(StatusCode.INVALID_ARGUMENT, `${action}: not a tiny extent id`);
    partition.checkRoom(action, packet.size);
    return partition.store.appendTinyAt(packet.extentId, packet.offset, payload).then(() => ({ extentSize: packet.offset + packet.size, extentId: packet.extentId, extentOffset: packet.offset }));
  }
  const action = `write a small file of ${packet.size} bytes to data partition ${packet.partitionId}`;
  if (packet.extentId !== 0 || packet.offset !== 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, `${action}: the leader chooses the tiny extent and offset; the packet must name neither (extent ${packet.extentId}, offset ${packet.offset})`);
  requireLeader(partition, action);
  partition.checkRoom(action, packet.size);
  const { extentId, offset } = partition.admitTiny(packet.size, Date.now());
  const placed = { ...packet, extentId, offset, forwarded: true };
  const send = (followers: string[]): Promise<{ extentSize: number; extentId: number; extentOffset: number }> => {
    const local = partition.store.appendTinyAt(extentId, offset, payload);
    const forwards = followers.map((address) => deps.rpc.call(address, DataNode.write, placed, { payload, deadlineMs: deps.limits.forwardDeadlineMs }));
    return everywhere(`${action} (tiny extent ${extentId} at ${offset})`, local, forwards, followers).then(
      () => {
        partition.appendDone(extentId, Date.now());
        return { extentSize: offset + packet.size, extentId, extentOffset: offset };
      },
      (error: unknown) => {
        partition.appendFailed(extentId, Date.now());
        throw error;
      },
    );
  };
  const followers = followersOf(deps, partition);
  if (Array.isArray(followers)) return send(followers);
  return followers.then(send, (error: unknown) => {
    partition.appendFailed(extentId, Date.now());
    throw error;
  });
}

async function deleteLocally(partition: DataPartition, ranges: readonly ExtentRange[]): Promise<number> {
  const store = partition.store;
  let freed = 0;
  for (const range of ranges) {
    if (range.extentId >= normalExtentIdFirst) {
      if (range.offset !== 0 || range.size !== 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, `delete extent ${range.extentId}: a normal extent is freed whole (offset and size 0), got [${range.offset}, +${range.size})`);
      if (!store.hasExtent(range.extentId)) continue; // deleted before, or never here: done
      freed += store.size(range.extentId);
      await store.deleteExtent(range.extentId);
      partition.extentDeleted(range.extentId);
    } else {
      if (!store.hasExtent(range.extentId)) throw new AtollError(StatusCode.NOT_FOUND, `release range of extent ${range.extentId}: no such tiny extent`);
      freed += await store.releaseTiny(range.extentId, range.offset, range.size);
    }
  }
  return freed;
}
