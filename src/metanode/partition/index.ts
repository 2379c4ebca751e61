export {
  KeyTag, CounterName, inodeKey, decodeInodeKey, inodePrefix, dentryKey, decodeDentryKey, dentryPrefix, dentryPrefixAll,
  xattrKey, decodeXattrKey, xattrPrefix, toFreeKey, decodeToFreeKey, toFreePrefix, counterKey, decodeCounterKey,
  encodeCounterValue, decodeCounterValue, sessionKey, sessionOpenInodeKey, sessionPrefixAll, trashKey, decodeTrashKey,
  trashPrefixAll, nameBytes, decodeSessionKey, sessionLeaseKey, decodeSessionLeaseKey, sessionLeasePrefixAll, openByKey,
  openByPrefix, decodeOpenByKey, extentReleaseKey, decodeExtentReleaseKey, extentReleasePrefix, pendingLinkKey,
  decodePendingLinkKey, pendingLinkPrefix,
} from './keys.js';
export { buildNamespaceLimits, namespaceLimitsDefault, type NamespaceLimits } from './limits.js';
export {
  createInode, getInode, batchGetInode, lookup, readdir, readdirPlus, link, unlink, rmdir, rename, setattr,
  getXattr, listXattr, setXattr, removeXattr, statfs, validateName, modePermissionBitsMax,
  type Outcome, type InodeRange, type OperationTime, type Timespec, type CreateInodeArgs, type CreateInodeResult,
  type ReaddirArgs, type ReaddirPage, type ReaddirPlusPage, type PartitionCounts, type LinkArgs, type UnlinkArgs,
  type UnlinkResult, type RenameArgs, type RenameResult, type SetattrArgs, type SetXattrArgs, type RemoveXattrArgs,
} from './namespace.js';
export { trashDirectoryName } from './operation.js';
export {
  openSession, renewSession, recordOpen, recordClose, closeSession, expireSessions, getSession, listSessions, openInodesOf,
  sessionsHolding, isInodeOpen, type SessionInfo, type OpenSessionArgs, type RenewSessionArgs, type OpenFileArgs,
  type CloseFileResult, type ReleasedSession, type ReleaseResult, type ExpireSessionsResult,
} from './sessions.js';
export {
  freeableInodes, freeInodes, pendingExtentReleases, ackExtentReleases, extentsBeyond, type FreeableInodesPage,
  type FreeInodesResult, type PendingExtentRelease, type ReleasedExtent,
} from './freeing.js';
export {
  listTrash, restoreFromTrash, expireTrash, formatTrashName, parseTrashName, formatTrashHour, trashHourOf, trashKeyOfName,
  type TrashEntry, type TrashName, type RestoreFromTrashArgs, type RestoreResult, type ExpireTrashArgs, type ExpireTrashResult,
} from './trash.js';
export {
  addLinkByIno, dropLinkByIno, createDentryOnly, removeDentryOnly, confirmInodeLinked, orphanCandidates, freeOrphans,
  type InodeLinkArgs, type DentryOnlyArgs, type RemoveDentryOnlyArgs, type OrphanCandidate, type OrphanCandidatesArgs,
} from './links.js';
export type { ExtentRange, ExtentReleaseRecord, SessionRecord, TrashRecord, PendingLinkRecord } from './values.js';
