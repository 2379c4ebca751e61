/**
 * Expected refusals that the application handles (retry elsewhere, wait, report).
 * Bugs are RaftAssertionError instead. The codes are stable: callers switch on them.
 */
export enum RaftErrorCode {
  /** No leader is known, leadership is being transferred, this replica was removed, or the uncommitted log is full. */
  ProposalDropped = 'RAFT_PROPOSAL_DROPPED',
  /** Another membership change is proposed and not applied yet, or the change would leave no voter. */
  ConfChangeRejected = 'RAFT_CONF_CHANGE_REJECTED',
  /** No leader is known, the queue of pending read-index requests is full, or the context is already pending. */
  ReadIndexDropped = 'RAFT_READ_INDEX_DROPPED',
  /** Campaigning is gated off (RaftConfig.campaignEnabled), this replica cannot be elected (learner, removed, restoring a snapshot, unapplied membership changes), or in lease mode it is within a leader's lease. */
  CampaignRefused = 'RAFT_CAMPAIGN_REFUSED',
  /** A message type that only the local application may produce arrived through step(). */
  LocalMessageFromNetwork = 'RAFT_LOCAL_MESSAGE_FROM_NETWORK',
  /** A response came from a replica that is not in this group's configuration. */
  PeerNotFound = 'RAFT_PEER_NOT_FOUND',
  /** transferLeadership was asked of a replica that cannot do it. */
  TransferRefused = 'RAFT_TRANSFER_REFUSED',
}

export class RaftError extends Error {
  override readonly name = 'RaftError';
  constructor(
    readonly code: RaftErrorCode,
    message: string,
  ) {
    super(message);
  }
}
