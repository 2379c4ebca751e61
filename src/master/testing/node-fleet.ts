// TEST ONLY: metanodes and datanodes as the master sees them, over the real Master RPC
// protocol: they register, send heartbeats with partition reports, and carry out the
// tasks the master hands back. The partitions themselves are a stand-in (one shared
// member list per partition plays the partition's Raft group) so that the master's
// placement, reconciliation, re-replication and decommission can be tested before the
// metanode and datanode exist. The real nodes replace this in their own tests.
import { randomBytes } from 'node:crypto';
import {
  Master,
  NodeRole,
  NodeTaskKind,
  PartitionKind,
  PartitionStatus,
  type NodeHeartbeatRequest,
  type NodeTask,
  type PartitionReport,
} from '../../proto/generated/master.js';
import type { RpcClient } from '../../rpc/index.js';
import { MasterClient } from '../../masterclient/index.js';

interface FleetPartition {
  readonly id: number;
  readonly kind: PartitionKind;
  members: number[];
  leader: number;
  term: number;
  inodeEnd: number;
  inodeCursor: number;
}

export interface FleetNode {
  readonly role: 'metanode' | 'datanode';
  readonly instance: string;
  readonly servicePort: number;
  nodeId: number;
  readonly token: string;
  /** Partitions this node holds a replica of. */
  readonly holds: Set<number>;
  /** A stopped node sends no heartbeats. */
  stopped: boolean;
}

export class NodeFleet {
  readonly nodes: FleetNode[] = [];
  readonly partitions = new Map<number, FleetPartition>();
  readonly tasksSeen: NodeTask[] = [];
  // The same client real nodes use: it follows the leader and fails over.
  readonly #masterClient: MasterClient;
  #nextPort = 40_000;

  constructor(client: RpcClient, masters: readonly string[]) {
    this.#masterClient = new MasterClient({ masters, rpc: client });
  }

  async register(role: 'metanode' | 'datanode', count: number, host = '127.0.0.1'): Promise<FleetNode[]> {
    const added: FleetNode[] = [];
    for (let index = 0; index < count; index++) {
      const servicePort = this.#nextPort;
      this.#nextPort += 4;
      const node: FleetNode = { role, instance: `${role}-${this.nodes.length + 1}`, servicePort, nodeId: 0, token: randomBytes(8).toString('hex'), holds: new Set(), stopped: false };
      const answer = await this.#masterClient.call(Master.registerNode, {
        role: role === 'metanode' ? NodeRole.ROLE_METANODE : NodeRole.ROLE_DATANODE,
        address: { host, servicePort, httpPort: servicePort + 1, raftHeartbeatPort: servicePort + 2, raftReplicaPort: servicePort + 3 },
        zone: 'default',
        instance: node.instance,
        capacityBytes: 1024 * 2 ** 30,
        nodeId: 0,
        registrationToken: node.token,
      });
      node.nodeId = answer.nodeId;
      this.nodes.push(node);
      added.push(node);
    }
    return added;
  }

  /** One heartbeat from every running node, and the tasks they got carried out. */
  async heartbeatAll(): Promise<void> {
    for (const node of this.nodes) {
      if (node.stopped) continue;
      const answer = await this.#masterClient.call(Master.nodeHeartbeat, this.heartbeatOf(node));
      for (const task of answer.tasks) this.#carryOut(node, task);
    }
  }

  /** The heartbeat a node sends: every replica it holds, with the members where it leads. */
  heartbeatOf(node: FleetNode): NodeHeartbeatRequest {
    return { nodeId: node.nodeId, capacityBytes: 1024 * 2 ** 30, usedBytes: 0, partitions: this.#reportsOf(node), partitionsLoaded: node.holds.size, partitionsTotal: node.holds.size };
  }

  node(nodeId: number): FleetNode {
    const node = this.nodes.find((candidate) => candidate.nodeId === nodeId);
    if (node === undefined) throw new Error(`no fleet node ${nodeId}`);
    return node;
  }

  #reportsOf(node: FleetNode): PartitionReport[] {
    return [...node.holds].map((partitionId) => {
      const partition = this.partitions.get(partitionId)!;
      const isLeader = partition.leader === node.nodeId;
      return {
        partitionId,
        isLeader,
        term: partition.term,
        status: PartitionStatus.PARTITION_READ_WRITE,
        usedBytes: 0,
        inodeCount: 0,
        dentryCount: 0,
        inodeCursor: partition.inodeCursor,
        extentCount: 0,
        loaded: true,
        kind: partition.kind,
        members: isLeader ? [...partition.members] : [],
        inodeEnd: partition.inodeEnd,
        appliedIndex: 1,
      };
    });
  }

  /** Sets the inode cursor a meta partition's leader reports (to drive splits). */
  setInodeCursor(partitionId: number, cursor: number): void {
    this.partitions.get(partitionId)!.inodeCursor = cursor;
  }

  #carryOut(node: FleetNode, task: NodeTask): void {
    this.tasksSeen.push(task);
    switch (task.kind) {
      case NodeTaskKind.TASK_CREATE_PARTITION: {
        let partition = this.partitions.get(task.partitionId);
        if (partition === undefined) {
          // The first replica to start makes the group; its creator leads it.
          partition = { id: task.partitionId, kind: task.partitionKind, members: task.peers.map((peer) => peer.nodeId).sort((a, b) => a - b), leader: node.nodeId, term: 1, inodeEnd: task.inodeEnd, inodeCursor: task.inodeStart };
          this.partitions.set(task.partitionId, partition);
        }
        node.holds.add(task.partitionId);
        return;
      }
      case NodeTaskKind.TASK_ADD_MEMBER: {
        const partition = this.partitions.get(task.partitionId)!;
        if (!partition.members.includes(task.member!.nodeId)) partition.members = [...partition.members, task.member!.nodeId].sort((a, b) => a - b);
        return;
      }
      case NodeTaskKind.TASK_REMOVE_MEMBER: {
        const partition = this.partitions.get(task.partitionId)!;
        partition.members = partition.members.filter((member) => member !== task.member!.nodeId);
        return;
      }
      case NodeTaskKind.TASK_TRANSFER_LEADER: {
        const partition = this.partitions.get(task.partitionId)!;
        partition.leader = task.member!.nodeId;
        partition.term += 1;
        return;
      }
      case NodeTaskKind.TASK_SET_INODE_END: {
        this.partitions.get(task.partitionId)!.inodeEnd = task.inodeEnd;
        return;
      }
      case NodeTaskKind.TASK_DELETE_PARTITION: {
        node.holds.delete(task.partitionId);
        return;
      }
      default:
        throw new Error(`fleet node ${node.nodeId}: unexpected task ${NodeTaskKind[task.kind]}`);
    }
  }

  /** The partition's group elects a new leader among its running members (after a node stops). */
  electAway(partitionId: number, fromNodeId: number): void {
    const partition = this.partitions.get(partitionId)!;
    if (partition.leader !== fromNodeId) return;
    const next = partition.members.find((member) => member !== fromNodeId && !this.node(member).stopped);
    if (next === undefined) return;
    partition.leader = next;
    partition.term += 1;
  }
}
