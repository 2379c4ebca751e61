// TEMPORARY hand-written stand-in until tools/protogen lands; replaced by generated code.
export enum StatusCode {
  OK = 0, NOT_FOUND = 1, EXISTS = 2, NOT_EMPTY = 3, NOT_DIR = 4, IS_DIR = 5, NOT_LEADER = 6,
  PARTITION_NOT_READY = 7, STALE_VIEW = 8, NO_SPACE = 9, INVALID_ARGUMENT = 10, PERMISSION_DENIED = 11,
  UNAUTHENTICATED = 12, TIMEOUT = 13, OVERLOADED = 14, CHECKSUM_MISMATCH = 15, INTERNAL = 16,
  UNAVAILABLE = 17, CANCELLED = 18, UNKNOWN_METHOD = 19, TOO_LARGE = 20, NAME_TOO_LONG = 21,
  READ_ONLY = 22, NOT_SUPPORTED = 23, TOO_MANY_LINKS = 24, RANGE_FULL = 25, BAD_FRAME = 26, STALE_HANDLE = 27,
}
type F = { n: number; k: 'v' | 's' | 'b'; name: string };
function codec<T extends object>(fields: F[]) {
  return {
    encode(m: T): Uint8Array {
      const parts: number[] = [];
      const varint = (v: number) => { while (v >= 0x80) { parts.push((v % 128) | 0x80); v = Math.floor(v / 128); } parts.push(v); };
      for (const f of fields) {
        const v = (m as any)[f.name];
        if (f.k === 'v') { if (v) { varint(f.n * 8); varint(v); } }
        else { const b = f.k === 's' ? Buffer.from(v ?? '', 'utf8') : (v ?? new Uint8Array(0)); if (b.length) { varint(f.n * 8 + 2); varint(b.length); for (const x of b) parts.push(x); } }
      }
      return Uint8Array.from(parts);
    },
    decode(bytes: Uint8Array): T {
      const m: any = {};
      for (const f of fields) m[f.name] = f.k === 'v' ? 0 : f.k === 's' ? '' : new Uint8Array(0);
      let p = 0;
      const varint = () => { let r = 0, mul = 1; for (let i = 0; i < 10; i++) { if (p >= bytes.length) throw new Error('truncated'); const b = bytes[p++]!; r += (b & 0x7f) * mul; mul *= 128; if (b < 0x80) return r; } throw new Error('varint too long'); };
      while (p < bytes.length) {
        const tag = varint(); const n = Math.floor(tag / 8), w = tag & 7;
        const f = fields.find((x) => x.n === n);
        if (w === 0) { const v = varint(); if (f) m[f.name] = v; }
        else if (w === 2) { const len = varint(); if (p + len > bytes.length) throw new Error('length past end'); const b = bytes.subarray(p, p + len); p += len; if (f) m[f.name] = f.k === 's' ? Buffer.from(b).toString('utf8') : b; }
        else throw new Error('bad wire type');
      }
      return m as T;
    },
  };
}
export interface RpcError { code: StatusCode; message: string; leaderHint: string; retryAfterMs: number }
export const RpcError = codec<RpcError>([{ n: 1, k: 'v', name: 'code' }, { n: 2, k: 's', name: 'message' }, { n: 3, k: 's', name: 'leaderHint' }, { n: 4, k: 'v', name: 'retryAfterMs' }]);
export interface HandshakeChallenge { protocolVersion: number; serverNonce: Uint8Array; serverInstance: string }
export const HandshakeChallenge = codec<HandshakeChallenge>([{ n: 1, k: 'v', name: 'protocolVersion' }, { n: 2, k: 'b', name: 'serverNonce' }, { n: 3, k: 's', name: 'serverInstance' }]);
export interface HandshakeResponse { protocolVersion: number; clientNonce: Uint8Array; clientProof: Uint8Array; clientInstance: string }
export const HandshakeResponse = codec<HandshakeResponse>([{ n: 1, k: 'v', name: 'protocolVersion' }, { n: 2, k: 'b', name: 'clientNonce' }, { n: 3, k: 'b', name: 'clientProof' }, { n: 4, k: 's', name: 'clientInstance' }]);
export interface HandshakeAccept { serverProof: Uint8Array; frameBytesMax: number; inflightRequestsMax: number }
export const HandshakeAccept = codec<HandshakeAccept>([{ n: 1, k: 'b', name: 'serverProof' }, { n: 2, k: 'v', name: 'frameBytesMax' }, { n: 3, k: 'v', name: 'inflightRequestsMax' }]);
export interface EchoRequest { sequence: number; data: Uint8Array }
export const EchoRequest = codec<EchoRequest>([{ n: 1, k: 'v', name: 'sequence' }, { n: 2, k: 'b', name: 'data' }]);
export interface EchoResponse { sequence: number; data: Uint8Array }
export const EchoResponse = codec<EchoResponse>([{ n: 1, k: 'v', name: 'sequence' }, { n: 2, k: 'b', name: 'data' }]);
export const DiagnosticsService = { echo: { id: 1, name: 'Diagnostics.Echo', request: EchoRequest, response: EchoResponse } };
