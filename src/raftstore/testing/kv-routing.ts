// TEST ONLY: which group of the test key-value service holds a key. The service
// (kv-process.ts) and its clients (the Raft benchmark) must agree, so both use this.

// Groups are numbered 1..groupCount; keys spread over them by a stable hash (32-bit
// FNV-1a over the UTF-16 code units: a cryptographic digest per request cost the
// service's leader about 5% of its CPU in bench:raft, for no benefit).
export function groupOfKey(key: string, groupCount: number): number {
  let hash = 0x811c9dc5;
  for (let position = 0; position < key.length; position++) {
    hash ^= key.charCodeAt(position);
    hash = Math.imul(hash, 0x01000193);
  }
  return ((hash >>> 0) % groupCount) + 1;
}
