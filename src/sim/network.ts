// A simulated network between nodes, generic over the message type. Every message is
// delivered by a scheduler event after a random delay, so messages reorder; the fault
// profile adds loss, duplication and held-back messages; partitions, isolation and
// crashes are switched by the runner. All randomness comes from the one `Random` stream
// given at construction, drawn in the order of the calls, so a seed replays the network.
//
// Messages are handed over by reference (and a duplicate is the same object): receivers
// must treat them as immutable, as they would bytes off a wire.
import { assert } from '../errors/assert.js';
import type { Random } from '../random/index.js';
import { checkFaultProfile, faultProfileCalm } from './fault-profile.js';
import type { FaultProfile } from './fault-profile.js';
import { checkPositiveLimit, simulatorLimitsDefault } from './limits.js';
import type { EventId, Scheduler } from './scheduler.js';

export type MessageHandler<Message, Node> = (from: Node, message: Message) => void;

/**
 * Why a message was dropped: the fault profile lost it; a partition or isolation cut its
 * path (at send or at delivery); its sender was down when sending or its receiver was
 * down, restarted since the send, or never registered; too many messages were in flight.
 */
export type DropReason = 'loss' | 'partition' | 'crash' | 'overflow';

export type NetworkEvent<Message, Node> =
  | { readonly kind: 'send'; readonly from: Node; readonly to: Node; readonly message: Message }
  | { readonly kind: 'duplicate'; readonly from: Node; readonly to: Node; readonly message: Message }
  | { readonly kind: 'deliver'; readonly from: Node; readonly to: Node; readonly message: Message }
  | { readonly kind: 'drop'; readonly from: Node; readonly to: Node; readonly message: Message; readonly reason: DropReason };

/** sent + duplicated = delivered + every dropped + inFlight, at every moment. */
export interface NetworkCounters {
  readonly sent: number;
  readonly duplicated: number;
  readonly delivered: number;
  readonly droppedByLoss: number;
  readonly droppedByPartition: number;
  readonly droppedByCrash: number;
  readonly droppedByOverflow: number;
  readonly inFlight: number;
}

export interface SimulatedNetworkOptions<Message, Node> {
  readonly scheduler: Scheduler;
  /** The network's own stream (for example `RandomStreams.stream("network")`). */
  readonly random: Random;
  readonly faults?: FaultProfile;
  readonly inFlightMessagesMax?: number;
  /** Sees every send, duplicate, delivery and drop (for traces). */
  readonly observe?: (event: NetworkEvent<Message, Node>) => void;
}

interface Endpoint<Message, Node> {
  handler: MessageHandler<Message, Node> | undefined;
  up: boolean;
  /** Bumped at every restart: a message sent to an earlier incarnation is never delivered. */
  incarnation: number;
}

interface InFlightMessage<Message, Node> {
  readonly from: Node;
  readonly to: Node;
  readonly message: Message;
  readonly toIncarnation: number;
}

export class SimulatedNetwork<Message, Node extends string | number = number> {
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  private readonly inFlightMessagesMax: number;
  private readonly observe: ((event: NetworkEvent<Message, Node>) => void) | undefined;
  private faultProfile: FaultProfile;
  private readonly endpoints = new Map<Node, Endpoint<Message, Node>>();
  /** By delivery event; Map order is send order, which `reorderBurst` relies on for replay. */
  private readonly inFlight = new Map<EventId, InFlightMessage<Message, Node>>();
  private readonly isolated = new Set<Node>();
  /** from -> receivers it cannot reach. */
  private readonly blockedLinks = new Map<Node, Set<Node>>();
  private sent = 0;
  private duplicated = 0;
  private delivered = 0;
  private readonly dropped: Record<DropReason, number> = { loss: 0, partition: 0, crash: 0, overflow: 0 };

  constructor(options: SimulatedNetworkOptions<Message, Node>) {
    this.scheduler = options.scheduler;
    this.random = options.random;
    this.faultProfile = checkFaultProfile(options.faults ?? faultProfileCalm);
    this.inFlightMessagesMax = checkPositiveLimit('create simulated network', 'inFlightMessagesMax', options.inFlightMessagesMax ?? simulatorLimitsDefault.inFlightMessagesMax);
    this.observe = options.observe;
  }

  get faults(): FaultProfile {
    return this.faultProfile;
  }

  /** Changes the faults for messages sent from now on (in-flight ones keep their fate). */
  setFaults(profile: FaultProfile): void {
    this.faultProfile = checkFaultProfile(profile);
  }

  /** Adds a node, up, with the handler its messages are delivered to. */
  register(node: Node, handler: MessageHandler<Message, Node>): void {
    assert(!this.endpoints.has(node), () => `network: node ${node} is already registered`);
    this.endpoints.set(node, { handler, up: true, incarnation: 0 });
  }

  isUp(node: Node): boolean {
    return this.endpoints.get(node)?.up ?? false;
  }

  /**
   * The node's process dies: its handler is dropped, every message in flight to it is
   * dropped now, and nothing reaches it (or leaves it) until `restart`. Messages it sent
   * before dying are already on the wire and still arrive.
   */
  crash(node: Node): number {
    const endpoint = this.endpoints.get(node);
    assert(endpoint !== undefined && endpoint.up, () => `network: crash of node ${node}, which is not up`);
    endpoint.up = false;
    endpoint.handler = undefined;
    let droppedCount = 0;
    for (const [id, flight] of this.inFlight) {
      if (flight.to !== node) continue;
      this.scheduler.cancel(id);
      this.inFlight.delete(id);
      this.drop(flight, 'crash');
      droppedCount++;
    }
    return droppedCount;
  }

  /** A new process of a crashed node comes up with a new handler; it gets no message sent before. */
  restart(node: Node, handler: MessageHandler<Message, Node>): void {
    const endpoint = this.endpoints.get(node);
    assert(endpoint !== undefined && !endpoint.up, () => `network: restart of node ${node}, which is not down`);
    endpoint.up = true;
    endpoint.incarnation++;
    endpoint.handler = handler;
  }

  /** Sends a message; it arrives later through the scheduler, or is dropped. */
  send(from: Node, to: Node, message: Message): void {
    this.sent++;
    this.observe?.({ kind: 'send', from, to, message });
    const toIncarnation = this.endpoints.get(to)?.incarnation ?? 0;
    const flight: InFlightMessage<Message, Node> = { from, to, message, toIncarnation };
    // A dead process sends nothing, even if a stale continuation of it still runs.
    if (!this.isUp(from)) return this.drop(flight, 'crash');
    if (this.isBlocked(from, to)) return this.drop(flight, 'partition');
    // Both draws are made for every send, so the stream's position does not depend on outcomes.
    const lost = this.random.nextFloat() < this.faultProfile.lossProbability;
    const duplicate = this.random.nextFloat() < this.faultProfile.duplicationProbability;
    if (lost) return this.drop(flight, 'loss');
    this.enqueue(flight, this.drawDelayMs());
    if (duplicate) {
      this.duplicated++;
      this.observe?.({ kind: 'duplicate', from, to, message });
      this.enqueue(flight, this.drawDelayMs());
    }
  }

  /** Cuts every link between the two groups, both ways, until `heal`. */
  partition(groupA: readonly Node[], groupB: readonly Node[]): void {
    for (const left of groupA) {
      assert(!groupB.includes(left), () => `network: partition with node ${left} on both sides`);
      for (const right of groupB) {
        this.blockLink(left, right);
        this.blockLink(right, left);
      }
    }
  }

  /** Cuts the link one way only (from can no longer reach to), until `heal`. */
  cutLink(from: Node, to: Node): void {
    this.blockLink(from, to);
  }

  /** Cuts the node from every other node, including nodes registered later, until `heal`. */
  isolate(node: Node): void {
    this.isolated.add(node);
  }

  /** Removes every partition, cut link and isolation. Crashed nodes stay down. */
  heal(): void {
    this.isolated.clear();
    this.blockedLinks.clear();
  }

  isBlocked(from: Node, to: Node): boolean {
    if (from === to) return false;
    return this.isolated.has(from) || this.isolated.has(to) || (this.blockedLinks.get(from)?.has(to) ?? false);
  }

  /**
   * A burst of reordering: the arrival times of every message in flight now are shuffled
   * among them (the set of times stays the same), so a whole window of traffic arrives in
   * a random order. Returns how many messages were in flight.
   */
  reorderBurst(): number {
    const flights = [...this.inFlight];
    const timesMs = flights.map(([id]) => this.scheduler.eventTimeMs(id)!);
    // Fisher-Yates, drawn from the network's stream.
    for (let index = timesMs.length - 1; index > 0; index--) {
      const other = this.random.nextInt(index + 1);
      [timesMs[index], timesMs[other]] = [timesMs[other], timesMs[index]];
    }
    flights.forEach(([id, flight], index) => {
      this.scheduler.cancel(id);
      this.inFlight.delete(id);
      this.scheduleDelivery(flight, timesMs[index]);
    });
    return flights.length;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  counters(): NetworkCounters {
    return {
      sent: this.sent,
      duplicated: this.duplicated,
      delivered: this.delivered,
      droppedByLoss: this.dropped.loss,
      droppedByPartition: this.dropped.partition,
      droppedByCrash: this.dropped.crash,
      droppedByOverflow: this.dropped.overflow,
      inFlight: this.inFlight.size,
    };
  }

  private drawDelayMs(): number {
    const profile = this.faultProfile;
    let delayMs = profile.delayMinMs + this.random.nextInt(profile.delayMaxMs - profile.delayMinMs + 1);
    if (profile.reorderProbability > 0 && this.random.nextFloat() < profile.reorderProbability) {
      delayMs += 1 + this.random.nextInt(profile.reorderDelayMaxMs);
    }
    return delayMs;
  }

  private enqueue(flight: InFlightMessage<Message, Node>, delayMs: number): void {
    // A real network drops under overload rather than buffering without end.
    if (this.inFlight.size >= this.inFlightMessagesMax) return this.drop(flight, 'overflow');
    this.scheduleDelivery(flight, this.scheduler.now() + delayMs);
  }

  private scheduleDelivery(flight: InFlightMessage<Message, Node>, timeMs: number): void {
    const id: EventId = this.scheduler.scheduleAt(timeMs, () => this.deliver(id), 'network.deliver');
    this.inFlight.set(id, flight);
  }

  private deliver(id: EventId): void {
    const flight = this.inFlight.get(id);
    assert(flight !== undefined, () => `network: delivery event ${id} has no message in flight`);
    this.inFlight.delete(id);
    const endpoint = this.endpoints.get(flight.to);
    if (endpoint === undefined || !endpoint.up || endpoint.incarnation !== flight.toIncarnation) return this.drop(flight, 'crash');
    // Checked again on arrival: a partition that started while the message flew cuts it too.
    if (this.isBlocked(flight.from, flight.to)) return this.drop(flight, 'partition');
    this.delivered++;
    this.observe?.({ kind: 'deliver', from: flight.from, to: flight.to, message: flight.message });
    endpoint.handler!(flight.from, flight.message);
  }

  private drop(flight: InFlightMessage<Message, Node>, reason: DropReason): void {
    this.dropped[reason]++;
    this.observe?.({ kind: 'drop', from: flight.from, to: flight.to, message: flight.message, reason });
  }

  private blockLink(from: Node, to: Node): void {
    let receivers = this.blockedLinks.get(from);
    if (receivers === undefined) {
      receivers = new Set();
      this.blockedLinks.set(from, receivers);
    }
    receivers.add(to);
  }
}
