// TEST ONLY: which group of the test key-value service holds a key. The service
// (kv-process.ts) and its clients (the Raft benchmark) must agree, so both use this.
import { createHash } from 'node:crypto';

// Groups are numbered 1..groupCount; keys spread over them by a stable hash.
export function groupOfKey(key: string, groupCount: number): number {
  const digest = createHash('sha1').update(key).digest();
  return (digest.readUInt32BE(0) % groupCount) + 1;
}
