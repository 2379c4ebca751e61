export { crc32 } from './crc32.js';
export { crc32Combine } from './crc32-combine.js';
