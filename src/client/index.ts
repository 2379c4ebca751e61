// The volume SDK: an API close to node:fs/promises on an AtollFS volume.
export { Volume, rootIno, type VolumeOptions, type StatfsResult, type MkdirOptions, type Owner, type RmOptions } from './volume.js';
export { FileHandle, parseOpenFlags, type OpenFlags } from './file-handle.js';
export { Stats, Dirent } from './stats.js';
export { fsError, type FsError } from './fs-error.js';
export { buildVolumeLimits, volumeLimitsDefault, type VolumeLimits } from './limits.js';
export { createReadStream, createWriteStream, type ReadStreamOptions, type WriteStreamOptions } from './streams.js';
