export {
  KeyTag, CounterName, inodeKey, decodeInodeKey, inodePrefix, dentryKey, decodeDentryKey, dentryPrefix, dentryPrefixAll,
  xattrKey, decodeXattrKey, xattrPrefix, toFreeKey, decodeToFreeKey, toFreePrefix, counterKey, decodeCounterKey,
  encodeCounterValue, decodeCounterValue, sessionKey, sessionOpenInodeKey, sessionPrefixAll, trashKey, decodeTrashKey,
  trashPrefixAll, nameBytes,
} from './keys.js';
export { buildNamespaceLimits, namespaceLimitsDefault, type NamespaceLimits } from './limits.js';
export {
  createInode, getInode, batchGetInode, lookup, readdir, readdirPlus, link, unlink, rmdir, rename, setattr,
  getXattr, listXattr, setXattr, removeXattr, statfs, validateName, modePermissionBitsMax,
  type Outcome, type InodeRange, type OperationTime, type Timespec, type CreateInodeArgs, type CreateInodeResult,
  type ReaddirArgs, type ReaddirPage, type ReaddirPlusPage, type PartitionCounts, type LinkArgs, type UnlinkArgs,
  type UnlinkResult, type RenameArgs, type RenameResult, type SetattrArgs, type SetXattrArgs, type RemoveXattrArgs,
} from './namespace.js';
