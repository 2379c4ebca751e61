// The Raft core's Message to and from its wire form (raft.proto RaftMessage). Snapshot
// data never travels inside a RaftMessage: the snapshot message goes in chunks, and the
// receiver rebuilds it with the reassembled data.
import { MessageType, makeMessage, type Entry, type Message, type NodeId, type LogIndex, type Term, type ConfState } from '../raft/index.js';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import type { EntryType as WireEntryType, RaftMessage } from '../proto/generated/raft.js';
import type { GroupId } from './types.js';

const messageTypeMax = MessageType.ReadIndexResponse;
const emptyData = new Uint8Array(0);

export function messageToWire(groupId: GroupId, message: Message): RaftMessage {
  return {
    groupId,
    type: message.type,
    from: message.from,
    to: message.to,
    term: message.term,
    logTerm: message.logTerm,
    index: message.index,
    entries: message.entries.map((entry) => ({ term: entry.term, index: entry.index, type: entry.type as number as WireEntryType, data: entry.data })),
    commit: message.commit,
    reject: message.reject,
    rejectHint: message.rejectHint,
    context: message.context,
    snapshot:
      message.snapshot === undefined
        ? undefined
        : {
            index: message.snapshot.metadata.index,
            term: message.snapshot.metadata.term,
            confState: { voters: [...message.snapshot.metadata.confState.voters], learners: [...message.snapshot.metadata.confState.learners] },
          },
  };
}

// Checks what the core cannot: the type is one it knows and the message is for us.
// `snapshotData` is the reassembled data of a Snapshot message.
export function messageFromWire(wire: RaftMessage, localNodeId: NodeId, snapshotData?: Uint8Array): Message {
  if (!Number.isInteger(wire.type) || wire.type < 0 || wire.type > messageTypeMax) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, `raft message of group ${wire.groupId}: unknown type ${wire.type}`);
  }
  if (wire.to !== localNodeId) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, `raft message of group ${wire.groupId} is for node ${wire.to}, this is node ${localNodeId}`);
  }
  if (wire.type === MessageType.Snapshot && (wire.snapshot === undefined || snapshotData === undefined)) {
    throw new AtollError(StatusCode.INVALID_ARGUMENT, `raft snapshot message of group ${wire.groupId} without its metadata or data`);
  }
  const entries: Entry[] = wire.entries.map((entry) => ({
    term: entry.term as Term,
    index: entry.index as LogIndex,
    type: entry.type as number,
    data: entry.data,
  }));
  const snapshotMetadata = wire.snapshot;
  return makeMessage({
    type: wire.type as MessageType,
    from: wire.from as NodeId,
    to: wire.to as NodeId,
    term: wire.term as Term,
    logTerm: wire.logTerm as Term,
    index: wire.index as LogIndex,
    entries,
    commit: wire.commit as LogIndex,
    reject: wire.reject,
    rejectHint: wire.rejectHint as LogIndex,
    context: wire.context ?? emptyData,
    snapshot:
      snapshotMetadata === undefined || snapshotData === undefined
        ? undefined
        : {
            metadata: {
              index: snapshotMetadata.index as LogIndex,
              term: snapshotMetadata.term as Term,
              confState: {
                voters: (snapshotMetadata.confState?.voters ?? []) as NodeId[],
                learners: (snapshotMetadata.confState?.learners ?? []) as NodeId[],
              } satisfies ConfState,
            },
            data: snapshotData,
          },
  });
}
