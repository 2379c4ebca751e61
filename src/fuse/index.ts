export {
  mount,
  unmount,
  unmountOnSignals,
  loadBinding,
  chooseBackend,
  type Answer,
  type ClosedBy,
  type FileHandle,
  type FileStat,
  type FileSystemStats,
  type FuseMount,
  type FuseMountOptions,
  type FuseBackend,
  type HandleAttrs,
  type FuseOperations,
  type RequestContext,
  type UnexpectedErrorReport,
} from './binding.js';
export { FuseError, fuseError, errnoOf, type ErrnoName } from './errno.js';
export { type MountOptions, mountOptionDefaults } from './mount-options.js';
export { clearStaleMount, findMount, mountState, type MountState } from './mount-table.js';
export { MemoryFileSystem, type MemoryFsOptions } from './memory-fs.js';
