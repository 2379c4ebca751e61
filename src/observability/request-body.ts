// Reads a request body into memory, never more than a limit, and parses it as JSON.
//
// The limit is checked twice: against Content-Length before reading anything (so a
// declared 1 GiB upload is refused at once, and a client that asked for
// `Expect: 100-continue` never sends it), and against the bytes that actually arrive
// (chunked bodies and lying headers). Past the limit the data is discarded, not kept;
// the server replies 413 and closes the connection.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.js';

export function bodyTooLargeError(bytesMax: number, bytesSeen: number | undefined): HttpError {
  const seen = bytesSeen === undefined ? '' : `: ${bytesSeen} bytes or more`;
  return new HttpError(413, 'REQUEST_BODY_TOO_LARGE', `request body exceeds requestBodyBytesMax of ${bytesMax} bytes${seen}`, {
    details: { requestBodyBytesMax: bytesMax },
  });
}

/** The Content-Length the client declared, or undefined for chunked and absent bodies. */
export function declaredBodyBytes(request: IncomingMessage): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined) return undefined;
  // Node's parser has already rejected malformed and conflicting lengths.
  const bytes = Number(header);
  return Number.isSafeInteger(bytes) ? bytes : Number.POSITIVE_INFINITY;
}

export function readRequestBody(request: IncomingMessage, bytesMax: number): Promise<Buffer> {
  const declared = declaredBodyBytes(request);
  if (declared !== undefined && declared > bytesMax) return Promise.reject(bodyTooLargeError(bytesMax, declared));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytesSeen = 0;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      outcome();
    };
    request.on('data', (chunk: Buffer) => {
      bytesSeen += chunk.length;
      if (bytesSeen > bytesMax) {
        // Keep reading but drop the bytes: the reply goes out while the client is
        // still sending, and Node closes the connection after it.
        chunks.length = 0;
        settle(() => reject(bodyTooLargeError(bytesMax, bytesSeen)));
        return;
      }
      if (!settled) chunks.push(chunk);
    });
    request.on('end', () => settle(() => resolve(Buffer.concat(chunks, bytesSeen))));
    request.on('error', (error) => settle(() => reject(requestAbortedError(error))));
    request.on('close', () => {
      if (!request.complete) settle(() => reject(requestAbortedError(undefined)));
    });
  });
}

function requestAbortedError(cause: unknown): HttpError {
  return new HttpError(400, 'REQUEST_ABORTED', 'the client closed the connection before the request body was complete', { cause });
}

/** Empty body: undefined. Otherwise JSON, whatever the Content-Type (curl -d sends a form type). */
export function parseJsonBody(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new HttpError(400, 'INVALID_JSON', 'request body is not valid UTF-8', { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new HttpError(400, 'INVALID_JSON', `request body is not valid JSON: ${reason}`, { cause: error });
  }
}
