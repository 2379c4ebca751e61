// The layout of one snapshot file (design.md, "Snapshot files"): a fixed header, the
// metadata as a protobuf atoll.raft.SnapshotMetadata, the application's data, and a
// CRC32 of everything before it. Integers big-endian.
import { crc32 } from '../checksum/index.js';
import { SnapshotMetadata as SnapshotMetadataCodec } from '../proto/generated/raft.js';
import type { ConfState, LogIndex, NodeId, Term } from '../raft/index.js';
import { readUint32, readUint64, writeUint32, writeUint64 } from './format.js';

/** "ATSN" */
export const snapshotMagic = 0x41_54_53_4e;
export const snapshotVersion = 1;
/** magic u32, version u16, flags u16, groupId u64, metadataBytes u32, dataBytes u64. */
export const snapshotHeaderBytes = 28;
export const snapshotTrailerBytes = 4;

export interface StoredSnapshotMetadata {
  readonly index: LogIndex;
  readonly term: Term;
  readonly confState: ConfState;
  // Where the members live is in the data: the multi-raft host stores its peer records
  // in every snapshot it takes (raft.proto GroupSnapshotData).
}

export interface SnapshotFileParts {
  /** Header and metadata: written first. */
  readonly head: Uint8Array;
  /** The CRC32 trailer: written after the data. */
  readonly trailer: Uint8Array;
}

/** Encodes everything but the data, so the data is written as it is, without a copy. */
export function encodeSnapshotFile(groupId: number, metadata: StoredSnapshotMetadata, data: Uint8Array): SnapshotFileParts {
  const encodedMetadata = SnapshotMetadataCodec.encode({
    index: metadata.index,
    term: metadata.term,
    confState: { voters: [...metadata.confState.voters], learners: [...metadata.confState.learners] },
  });
  const head = new Uint8Array(snapshotHeaderBytes + encodedMetadata.byteLength);
  writeUint32(head, 0, snapshotMagic);
  head[4] = snapshotVersion >>> 8;
  head[5] = snapshotVersion & 0xff;
  // bytes 6..8: flags, zero.
  writeUint64(head, 8, groupId);
  writeUint32(head, 16, encodedMetadata.byteLength);
  writeUint64(head, 20, data.byteLength);
  head.set(encodedMetadata, snapshotHeaderBytes);
  const trailer = new Uint8Array(snapshotTrailerBytes);
  writeUint32(trailer, 0, crc32(data, 0, data.byteLength, crc32(head)));
  return { head, trailer };
}

export interface DecodedSnapshotFile {
  readonly groupId: number;
  readonly metadata: StoredSnapshotMetadata;
  readonly data: Uint8Array;
}

/** The content of a whole snapshot file, or why it is not a valid one. */
export function decodeSnapshotFile(bytes: Uint8Array): DecodedSnapshotFile | string {
  if (bytes.byteLength < snapshotHeaderBytes + snapshotTrailerBytes) return `${bytes.byteLength} bytes is too short for a snapshot file`;
  const magic = readUint32(bytes, 0);
  if (magic !== snapshotMagic) return `bad magic 0x${magic.toString(16).padStart(8, '0')}`;
  const version = (bytes[4]! << 8) | bytes[5]!;
  if (version !== snapshotVersion) return `unknown version ${version}`;
  const flags = (bytes[6]! << 8) | bytes[7]!;
  if (flags !== 0) return `unknown flags ${flags}`;
  const groupId = readUint64(bytes, 8);
  const metadataBytes = readUint32(bytes, 16);
  const dataBytes = readUint64(bytes, 20);
  const expectedBytes = snapshotHeaderBytes + metadataBytes + dataBytes + snapshotTrailerBytes;
  if (expectedBytes !== bytes.byteLength) return `the header says ${expectedBytes} bytes, the file holds ${bytes.byteLength}`;
  const end = bytes.byteLength - snapshotTrailerBytes;
  const stored = readUint32(bytes, end);
  const computed = crc32(bytes, 0, end);
  if (stored !== computed) return `checksum mismatch: stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`;
  if (!Number.isSafeInteger(groupId)) return `group id beyond 2^53: ${groupId}`;
  let decoded: SnapshotMetadataCodec;
  try {
    decoded = SnapshotMetadataCodec.decode(bytes.subarray(snapshotHeaderBytes, snapshotHeaderBytes + metadataBytes));
  } catch (error) {
    return `metadata does not decode: ${error instanceof Error ? error.message : String(error)}`;
  }
  const metadata: StoredSnapshotMetadata = {
    index: decoded.index as LogIndex,
    term: decoded.term as Term,
    confState: {
      voters: (decoded.confState?.voters ?? []) as NodeId[],
      learners: (decoded.confState?.learners ?? []) as NodeId[],
    },
  };
  const dataStart = snapshotHeaderBytes + metadataBytes;
  return { groupId, metadata, data: bytes.subarray(dataStart, end) };
}
