// The MetaNode RPC service of a metanode process: each request names its partition; the
// partition host answers PARTITION_NOT_READY while it loads and STALE_VIEW when it is not
// here; a follower answers NOT_LEADER with the leader as `node:<id>` (the caller's volume
// view maps it to an address). Mutations are replicated; reads wait for a read index.
import { AtollError, StatusCode, isRoutingRefusal } from '../errors/index.js';
import type { PartitionHost } from '../nodeagent/index.js';
import { MetaNode, RenameStep, RenameTxnResponse, type Dentry, type Inode, type SessionResponse } from '../proto/generated/metanode.js';
import { rpcErrorOf, type RpcServer } from '../rpc/index.js';
import { MetaPartition } from './meta-partition.js';
import { decodeTrashKey } from './partition/keys.js';
import * as namespace from './partition/namespace.js';
import type { DropRemoteLinksResult } from './partition/link-drops.js';
import * as renameTxn from './partition/rename-txn.js';
import * as sessions from './partition/sessions.js';
import * as trash from './partition/trash.js';

/** Creates one CreateInodes request may carry at most. */
export const createsPerRequestMax = 1_024;

function commonRefusal(settled: ReadonlyArray<PromiseSettledResult<unknown>>): AtollError | undefined {
  const first = settled[0];
  if (first === undefined || first.status !== 'rejected' || !(first.reason instanceof AtollError) || !isRoutingRefusal(first.reason.status)) return undefined;
  const status = first.reason.status;
  return settled.every((outcome) => outcome.status === 'rejected' && outcome.reason instanceof AtollError && outcome.reason.status === status) ? first.reason : undefined;
}

export function registerMetaService(rpc: RpcServer, partitions: () => PartitionHost): void {
  const partitionOf = (partitionId: number): MetaPartition => {
    if (!Number.isSafeInteger(partitionId) || partitionId < 1) throw new AtollError(StatusCode.INVALID_ARGUMENT, `partition id must be a positive integer: ${partitionId}`);
    const host = partitions();
    if (host === undefined || host === null) throw new AtollError(StatusCode.PARTITION_NOT_READY, 'the metanode is starting', { retryAfterMs: 200 });
    const { partition } = host.get(partitionId);
    if (!(partition instanceof MetaPartition)) throw new AtollError(StatusCode.INTERNAL, `partition ${partitionId} is not a meta partition`);
    return partition;
  };

  rpc.handle(MetaNode.createInode, async (request) => {
    const partition = partitionOf(request.partitionId);
    const result = (await partition.mutate({ case: 'createInode', value: request })) as namespace.CreateInodeResult;
    // The parent as the create left it, from the apply itself: no second read and decode of it here.
    return { inode: result.inode, parent: result.parent };
  });
  rpc.handle(MetaNode.createInodes, async (request) => {
    const partition = partitionOf(request.partitionId);
    const count = request.creates.length;
    if (count === 0 || count > createsPerRequestMax) throw new AtollError(StatusCode.INVALID_ARGUMENT, `create inodes: ${count} creates, 1 to ${createsPerRequestMax} per request`);
    // Proposed in one turn: the partition puts them into shared log entries.
    const settled = await Promise.allSettled(request.creates.map((create) => partition.mutate({ case: 'createInode', value: { ...create, partitionId: request.partitionId } })));
    // Nothing was carried out, for one reason the caller acts on (another leader, still
    // loading, overloaded): the request as a whole gets it, and is retried as a whole.
    const refusal = commonRefusal(settled);
    if (refusal !== undefined) throw refusal;
    return {
      outcomes: settled.map((outcome) => {
        if (outcome.status === 'fulfilled') {
          const result = outcome.value as namespace.CreateInodeResult;
          return { error: undefined, response: { inode: result.inode, parent: result.parent } };
        }
        const error = outcome.reason instanceof AtollError ? outcome.reason : new AtollError(StatusCode.INTERNAL, String((outcome.reason as Error)?.message ?? outcome.reason));
        return { error: rpcErrorOf(error.status, error.message, error.leaderHint, error.retryAfterMs), response: undefined };
      }),
    };
  });
  rpc.handle(MetaNode.getInode, async (request) => {
    const partition = partitionOf(request.partitionId);
    return { inode: await partition.read((engine) => namespace.getInode(engine, request.ino)), parent: undefined };
  });
  rpc.handle(MetaNode.batchGetInode, async (request) => {
    const partition = partitionOf(request.partitionId);
    return { inodes: await partition.read((engine) => namespace.batchGetInode(engine, request.inos, partition.limits)) };
  });
  rpc.handle(MetaNode.lookup, async (request) => {
    const partition = partitionOf(request.partitionId);
    const { dentry, inode } = await partition.read((engine) => namespace.lookupPlus(engine, request.parentIno, request.name, partition.limits));
    return { dentry, inode };
  });
  rpc.handle(MetaNode.readDir, async (request) => {
    const partition = partitionOf(request.partitionId);
    const args = { parentIno: request.parentIno, after: request.after, limit: request.limit === 0 ? Math.min(1024, partition.limits.readdirEntriesMax) : request.limit };
    return partition.read((engine) => (request.plus ? namespace.readdirPlus(engine, args, partition.limits) : { ...namespace.readdir(engine, args, partition.limits), inodes: [] }));
  });
  rpc.handle(MetaNode.unlink, async (request) => {
    const partition = partitionOf(request.partitionId);
    const result = (await partition.mutate({ case: 'unlink', value: request })) as namespace.UnlinkResult;
    if (result.linkDropSeq !== undefined) partition.kickLinkDrops();
    const trashName = result.trashKey === undefined ? '' : trash.formatTrashName(decodeTrashKey(result.trashKey));
    return { dentry: result.dentry, trashName, parent: result.parent };
  });
  rpc.handle(MetaNode.link, async (request) => {
    const result = (await partitionOf(request.partitionId).mutate({ case: 'link', value: request })) as { inode: Inode; dentry: Dentry };
    return { inode: result.inode, dentry: result.dentry };
  });
  rpc.handle(MetaNode.rename, async (request) => {
    const partition = partitionOf(request.partitionId);
    const result = (await partition.mutate({ case: 'rename', value: request })) as namespace.RenameResult;
    if (result.linkDropSeq !== undefined) partition.kickLinkDrops();
    return { moved: result.dentry, replaced: result.replaced };
  });
  rpc.handle(MetaNode.setattr, async (request) => ({ parent: undefined, inode: (await partitionOf(request.partitionId).mutate({ case: 'setattr', value: request })) as Inode }));
  rpc.handle(MetaNode.setXattr, async (request) => ({ parent: undefined, inode: (await partitionOf(request.partitionId).mutate({ case: 'setXattr', value: request })) as Inode }));
  rpc.handle(MetaNode.removeXattr, async (request) => ({ parent: undefined, inode: (await partitionOf(request.partitionId).mutate({ case: 'removeXattr', value: request })) as Inode }));
  rpc.handle(MetaNode.getXattr, async (request) => {
    const partition = partitionOf(request.partitionId);
    return { value: await partition.read((engine) => namespace.getXattr(engine, request.ino, request.name, partition.limits)), names: [] };
  });
  rpc.handle(MetaNode.listXattr, async (request) => {
    const partition = partitionOf(request.partitionId);
    return { value: new Uint8Array(0), names: await partition.read((engine) => namespace.listXattr(engine, request.ino, partition.limits)) };
  });
  rpc.handle(MetaNode.appendExtents, async (request) => {
    const result = (await partitionOf(request.partitionId).mutate({ case: 'appendExtents', value: request })) as namespace.AppendExtentsResult;
    return { inode: result.inode, parent: undefined };
  });
  rpc.handle(MetaNode.dropRemoteLinks, async (request) => {
    const result = (await partitionOf(request.partitionId).mutate({ case: 'dropRemoteLinks', value: request })) as DropRemoteLinksResult;
    return { appliedThrough: result.appliedThrough };
  });
  rpc.handle(MetaNode.statfs, async (request) => {
    const partition = partitionOf(request.partitionId);
    return partition.read((engine) => {
      const counts = namespace.statfs(engine);
      const range = partition.range();
      return {
        inodeCount: counts.inodes,
        dentryCount: counts.dentries,
        toFreeCount: counts.inodesToFree,
        inodeCursor: partition.inodeCursor(),
        inodeStart: range.inodeStart,
        inodeEnd: partition.usage().inodeEnd ?? 0,
      };
    });
  });

  const session = (info: sessions.SessionInfo): SessionResponse => ({ sessionId: info.sessionId, expiresSec: info.expiresSec, openInodes: info.openInodes });
  rpc.handle(MetaNode.openSession, async (request) => session((await partitionOf(request.partitionId).mutate({ case: 'openSession', value: request })) as sessions.SessionInfo));
  rpc.handle(MetaNode.renewSession, async (request) => session((await partitionOf(request.partitionId).mutate({ case: 'renewSession', value: request })) as sessions.SessionInfo));
  rpc.handle(MetaNode.closeSession, async (request) => {
    await partitionOf(request.partitionId).mutate({ case: 'closeSession', value: request });
    return { sessionId: request.sessionId, expiresSec: 0, openInodes: 0 };
  });
  rpc.handle(MetaNode.recordOpen, async (request) => ({ opens: ((await partitionOf(request.partitionId).mutate({ case: 'recordOpen', value: request })) as { opens: number }).opens }));
  rpc.handle(MetaNode.recordClose, async (request) => ({ opens: ((await partitionOf(request.partitionId).mutate({ case: 'recordClose', value: request })) as sessions.CloseFileResult).opens }));
  rpc.handle(MetaNode.listTrash, async (request) => {
    const partition = partitionOf(request.partitionId);
    const after = request.after === '' ? undefined : trash.trashKeyOfName(request.after);
    const limit = request.limit === 0 ? 1024 : request.limit;
    const page = await partition.read((engine) => trash.listTrash(engine, { after, limit }, partition.limits));
    return {
      more: page.more,
      entries: page.entries.map((entry) => ({ name: entry.trashName, parentIno: entry.parentIno, ino: entry.ino, originalName: entry.name, deletedSec: entry.deletedSec, type: entry.type })),
    };
  });
  rpc.handle(MetaNode.restoreTrash, async (request) => ({ dentry: ((await partitionOf(request.partitionId).mutate({ case: 'restoreTrash', value: request })) as trash.RestoreResult).dentry }));
  rpc.handle(MetaNode.purgeTrash, async (request) => {
    const partition = partitionOf(request.partitionId);
    const limit = Math.min(request.limit === 0 ? 1024 : request.limit, partition.limits.recordsScannedPerPageMax);
    const result = (await partition.mutate({ case: 'expireTrash', value: { retentionSec: 0, limit } })) as trash.ExpireTrashResult;
    return { purged: result.expired.length, more: result.more };
  });
  rpc.handle(MetaNode.createDentry, async (request) => ({ dentry: (await partitionOf(request.partitionId).mutate({ case: 'createDentry', value: request })) as Dentry }));
  rpc.handle(MetaNode.removeDentry, async (request) => ({ dentry: (await partitionOf(request.partitionId).mutate({ case: 'removeDentry', value: request })) as Dentry }));
  rpc.handle(MetaNode.confirmLinked, async (request) => ({ confirmed: ((await partitionOf(request.partitionId).mutate({ case: 'confirmLinked', value: request })) as { confirmed: boolean }).confirmed }));
  rpc.handle(MetaNode.addLink, async (request) => ({ parent: undefined, inode: (await partitionOf(request.partitionId).mutate({ case: 'addLink', value: request })) as Inode }));
  rpc.handle(MetaNode.dropLink, async (request) => ({ parent: undefined, inode: (await partitionOf(request.partitionId).mutate({ case: 'dropLink', value: request })) as Inode }));
  rpc.handle(MetaNode.renameTxn, async (request) => {
    const partition = partitionOf(request.partitionId);
    if (request.step === RenameStep.RENAME_STATUS) {
      const state = await partition.read((engine) => renameTxn.status(engine, { sourcePartitionId: request.sourcePartitionId, txSeq: request.txSeq }));
      return RenameTxnResponse.create({ txSeq: request.txSeq, state });
    }
    const result = (await partition.mutate({ case: 'renameTxn', value: request })) as { txSeq?: number; ino?: number; type?: number; state?: number; applied?: boolean; aborted?: boolean; targetName?: string };
    return RenameTxnResponse.create({
      txSeq: result.txSeq ?? request.txSeq,
      ino: result.ino ?? 0,
      type: result.type ?? 0,
      state: result.state ?? 0,
      applied: result.applied ?? result.aborted ?? false,
      targetName: result.targetName ?? '',
    });
  });
}
