// The coordination a master runs on: who leads, and how a state change is made durable.
// Two implementations: the embedded Raft group (raft-coordination.ts) and etcd
// (etcd-coordination.ts). The master's logic (admin API, planner, heartbeats, view
// pushes, forwarding) talks only to this interface; the state changes only through
// `propose`, which applies the command with the one state machine (state-machine.ts)
// whichever backend makes it durable.
import type { MasterCommand } from './commands.js';
import type { MasterState } from './state.js';

export type CoordinationRole = 'loading' | 'leader' | 'follower' | 'candidate';

export interface CoordinationStatus {
  readonly role: CoordinationRole;
  /** The leader's member node id, 0 when none is known. */
  readonly leaderNodeId: number;
  /** The leader's service address, '' when none is known. */
  readonly leaderAddress: string;
  /**
   * The current leadership's epoch: grows with every new leader (the Raft term; the
   * create revision of the leader's election key in etcd). Views are pushed under it.
   */
  readonly term: number;
  /** What the master's state has applied (Raft log index; etcd revision). */
  readonly appliedIndex: number;
  /** Raft: the commit index; etcd: the applied revision. */
  readonly commitIndex: number;
}

export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
  readonly details?: Record<string, unknown>;
}

export interface MasterCoordination {
  /** 'raft' or 'etcd', for status and logs. */
  readonly backend: string;
  /** Joins the group (Raft) or the election (etcd); leadership follows in the background. */
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): CoordinationStatus;
  /** The current state; read-only for the caller (replaced, not copied, on changes). */
  readonly state: MasterState;
  /**
   * Makes the command durable and applies it; the apply result, or the AtollError apply
   * refused it with. Only the leader proposes: others throw NOT_LEADER with the leader's
   * service address.
   */
  propose(command: MasterCommand): Promise<unknown>;
  /** Resolves once this master is confirmed leader with every earlier write in its state. */
  leaderRead(): Promise<void>;
  readiness(): Readiness;
  /** Called with the volumes whose view changed after every applied command. */
  onViewsChanged: ((volumes: ReadonlySet<string>) => void) | null;
}
