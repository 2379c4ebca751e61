// Test support: a RaftTransport that delivers between hosts in one process, with cuts.
import type { NodeId } from '../../raft/index.js';
import type { RaftHost } from '../raft-host.js';
import type { GroupMessage, PeerAddress, RaftTransport } from '../types.js';

export class LocalNetwork {
  readonly hosts = new Map<NodeId, RaftHost>();
  private readonly cut = new Set<string>();
  inFlight = 0;
  heartbeatSends = 0;
  heartbeatMessages = 0;
  sends = 0;
  // Messages (not batches) passed to send(): Appends, their responses, votes, ...
  messages = 0;

  transportFor(from: NodeId): RaftTransport {
    return {
      sendHeartbeats: (to, messages) => {
        this.heartbeatSends += 1;
        this.heartbeatMessages += messages.length;
        this.deliver(from, to, messages);
      },
      send: (to, messages) => {
        this.sends += 1;
        this.messages += messages.length;
        this.deliver(from, to, messages);
      },
      sendSnapshot: async (to, message) => {
        if (!this.reachable(from, to.nodeId)) return false;
        this.deliver(from, to, [message]);
        return true;
      },
    };
  }

  // Cuts both directions between a and b.
  isolate(node: NodeId, others: readonly NodeId[]): void {
    for (const other of others) {
      this.cut.add(`${node}>${other}`);
      this.cut.add(`${other}>${node}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  private reachable(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(`${from}>${to}`) && this.hosts.has(to);
  }

  private deliver(from: NodeId, to: PeerAddress, messages: readonly GroupMessage[]): void {
    if (!this.reachable(from, to.nodeId)) return;
    this.inFlight += 1;
    setImmediate(() => {
      this.inFlight -= 1;
      if (this.reachable(from, to.nodeId)) this.hosts.get(to.nodeId)?.receive(messages);
    });
  }
}
