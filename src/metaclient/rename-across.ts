// A rename between directories of different meta partitions, driven by the client as the
// transaction of src/metanode/partition/rename-txn.ts: prepare source, prepare target,
// commit, apply target, apply source. A refusal before the commit rolls back what was
// prepared; after the commit the rename has happened, and if this client stops before
// applying, the partitions' leaders finish it.
import { AtollError, StatusCode } from '../errors/index.js';
import { GetInodeRequest, InodeType, MetaNode, RenameStep, RenameTxnRequest } from '../proto/generated/metanode.js';
import type { MetaClient } from './meta-client.js';

export interface CrossRename {
  readonly sourcePartitionId: number;
  readonly sourceParentIno: number;
  readonly sourceName: string;
  readonly targetPartitionId: number;
  readonly targetParentIno: number;
  readonly targetName: string;
}

/** Ancestors walked when checking that a directory does not move into its own subtree. */
const ancestorsWalkedMax = 4096;

export async function renameAcrossPartitions(meta: MetaClient, rename: CrossRename): Promise<{ ino: number; targetName: string }> {
  const mutation = { mutation: true };
  const base = { ...rename };
  const prepared = await meta.call(MetaNode.renameTxn, RenameTxnRequest.create({ ...base, partitionId: rename.sourcePartitionId, step: RenameStep.RENAME_PREPARE_SOURCE }), mutation);
  const id = { sourcePartitionId: rename.sourcePartitionId, txSeq: prepared.txSeq };
  const abort = async (error: unknown): Promise<never> => {
    await meta.call(MetaNode.renameTxn, RenameTxnRequest.create({ ...base, ...id, partitionId: rename.targetPartitionId, step: RenameStep.RENAME_ABORT_TARGET }), mutation).catch(() => undefined);
    await meta.call(MetaNode.renameTxn, RenameTxnRequest.create({ ...base, ...id, partitionId: rename.sourcePartitionId, step: RenameStep.RENAME_ABORT_SOURCE }), mutation).catch(() => undefined);
    throw error;
  };
  try {
    if (prepared.type === InodeType.INODE_DIRECTORY) {
      const home = (await meta.partitionOf(prepared.ino)).partitionId;
      if (home !== rename.sourcePartitionId && home !== rename.targetPartitionId) {
        throw new AtollError(StatusCode.NOT_SUPPORTED, `rename: directory ${prepared.ino} lives in partition ${home}, neither the source's nor the target's (not built yet)`);
      }
      await refuseMoveIntoOwnSubtree(meta, prepared.ino, rename.targetParentIno);
    }
    await meta.call(MetaNode.renameTxn, RenameTxnRequest.create({ ...base, ...id, partitionId: rename.targetPartitionId, step: RenameStep.RENAME_PREPARE_TARGET, ino: prepared.ino, type: prepared.type }), mutation);
    await meta.call(MetaNode.renameTxn, RenameTxnRequest.create({ ...base, ...id, partitionId: rename.sourcePartitionId, step: RenameStep.RENAME_COMMIT }), mutation);
  } catch (error) {
    return abort(error);
  }
  // Decided: from here on the leaders finish whatever this client does not.
  const applied = await meta.call(MetaNode.renameTxn, RenameTxnRequest.create({ ...base, ...id, partitionId: rename.targetPartitionId, step: RenameStep.RENAME_APPLY_TARGET }), mutation);
  await meta.call(MetaNode.renameTxn, RenameTxnRequest.create({ ...base, ...id, partitionId: rename.sourcePartitionId, step: RenameStep.RENAME_APPLY_SOURCE }), mutation);
  return { ino: prepared.ino, targetName: applied.targetName === '' ? rename.targetName : applied.targetName };
}

/** Walks up from the target directory through every partition; refuses if the moved directory is met. */
async function refuseMoveIntoOwnSubtree(meta: MetaClient, directoryIno: number, targetParentIno: number): Promise<void> {
  let current = targetParentIno;
  for (let depth = 0; depth < ancestorsWalkedMax; depth++) {
    if (current === directoryIno) throw new AtollError(StatusCode.INVALID_ARGUMENT, `rename: cannot move directory ${directoryIno} into its own subtree (under ${targetParentIno})`);
    const partition = await meta.partitionOf(current);
    const { inode } = await meta.call(MetaNode.getInode, GetInodeRequest.create({ partitionId: partition.partitionId, ino: current }), { mutation: false });
    if (inode === undefined || inode.parentIno === current || inode.parentIno === 0) return;
    current = inode.parentIno;
  }
  throw new AtollError(StatusCode.INVALID_ARGUMENT, `rename: more than ${ancestorsWalkedMax} ancestors above ${targetParentIno}`);
}
