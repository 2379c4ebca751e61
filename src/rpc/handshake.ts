// Mutual challenge-response authentication with the cluster secret. Neither side sends
// the secret; each proves it holds it with an HMAC over both nonces, so a recorded
// handshake cannot be replayed against a new connection (fresh server nonce) and a
// server without the secret cannot pose as one (it must answer the client's nonce).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const nonceBytes = 32;

export function newNonce(): Buffer {
  return randomBytes(nonceBytes);
}

function proof(secret: Uint8Array, label: string, first: Uint8Array, second: Uint8Array, instance: string): Buffer {
  const hmac = createHmac('sha256', secret);
  hmac.update(label);
  hmac.update(first);
  hmac.update(second);
  hmac.update(instance, 'utf8');
  return hmac.digest();
}

export function clientProof(secret: Uint8Array, serverNonce: Uint8Array, clientNonce: Uint8Array, clientInstance: string): Buffer {
  return proof(secret, 'atoll-client\0', serverNonce, clientNonce, clientInstance);
}

export function serverProof(secret: Uint8Array, clientNonce: Uint8Array, serverNonce: Uint8Array, serverInstance: string): Buffer {
  return proof(secret, 'atoll-server\0', clientNonce, serverNonce, serverInstance);
}

export function proofMatches(expected: Uint8Array, actual: Uint8Array): boolean {
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

// A secret is text from a config file or flag; it must not be trivially short.
export const secretBytesMin = 16;

export function normalizeSecret(secret: string | Uint8Array): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (bytes.length < secretBytesMin) {
    throw new Error(`cluster secret must be at least ${secretBytesMin} bytes, got ${bytes.length}`);
  }
  return bytes;
}
