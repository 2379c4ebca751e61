// Limits of the instance HTTP server, in one place, units last. They bound what one
// client can make the server hold: memory (body, headers, connections) and time
// (headers, whole request, idle keep-alive). Checked against each other at load time
// and again for every override.

export interface HttpServerLimits {
  /** Largest request body read into memory; larger gets 413. Routes may lower or raise it. */
  readonly requestBodyBytesMax: number;
  /** Largest request line plus headers (Node's maxHeaderSize); larger gets 431. */
  readonly requestHeaderBytesMax: number;
  readonly requestHeadersCountMax: number;
  /** Time a client has to send all headers of a request. */
  readonly headersTimeoutMilliseconds: number;
  /** Time a client has to send a whole request, body included; then 408. */
  readonly requestTimeoutMilliseconds: number;
  /** How long an idle keep-alive connection is kept. */
  readonly keepAliveTimeoutMilliseconds: number;
  /** A connection with no traffic either way for this long is closed (slow readers too). */
  readonly socketIdleTimeoutMilliseconds: number;
  /** How often Node checks the headers and request timeouts; their precision. */
  readonly timeoutCheckIntervalMilliseconds: number;
  readonly connectionsMax: number;
  /** Requests slower than this are logged at warn. */
  readonly slowRequestMilliseconds: number;
  /** stop() lets requests in flight finish for this long, then cuts their connections. */
  readonly stopGraceMilliseconds: number;
  readonly routesMax: number;
}

export const httpServerLimitsDefault: HttpServerLimits = Object.freeze({
  requestBodyBytesMax: 1024 * 1024,
  requestHeaderBytesMax: 16 * 1024,
  requestHeadersCountMax: 100,
  headersTimeoutMilliseconds: 10_000,
  requestTimeoutMilliseconds: 30_000,
  keepAliveTimeoutMilliseconds: 5_000,
  socketIdleTimeoutMilliseconds: 120_000,
  timeoutCheckIntervalMilliseconds: 1_000,
  connectionsMax: 1024,
  slowRequestMilliseconds: 1_000,
  stopGraceMilliseconds: 2_000,
  routesMax: 256,
});

/** Bodies are buffered whole before JSON parsing, so even a route's own limit has a ceiling. */
export const requestBodyBytesCeiling = 64 * 1024 * 1024;

/** Throws, naming the limit and its value, when a set of limits cannot work. */
export function checkHttpServerLimits(limits: HttpServerLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new Error(`invalid HTTP server limit ${name}: must be a positive integer: ${String(value)}`);
    }
  }
  if (limits.requestBodyBytesMax > requestBodyBytesCeiling) {
    throw new Error(`invalid HTTP server limit requestBodyBytesMax: above the ceiling of ${requestBodyBytesCeiling}: ${limits.requestBodyBytesMax}`);
  }
  // Node refuses a headers timeout longer than the request timeout; say so in our terms.
  if (limits.headersTimeoutMilliseconds > limits.requestTimeoutMilliseconds) {
    throw new Error(
      `invalid HTTP server limits: headersTimeoutMilliseconds (${limits.headersTimeoutMilliseconds}) exceeds requestTimeoutMilliseconds (${limits.requestTimeoutMilliseconds})`,
    );
  }
  // A timeout checked less often than it lasts would fire up to twice as late.
  if (limits.timeoutCheckIntervalMilliseconds > limits.headersTimeoutMilliseconds) {
    throw new Error(
      `invalid HTTP server limits: timeoutCheckIntervalMilliseconds (${limits.timeoutCheckIntervalMilliseconds}) exceeds headersTimeoutMilliseconds (${limits.headersTimeoutMilliseconds})`,
    );
  }
  // An idle timeout shorter than the request timeout would cut slow uploads early with
  // no reply instead of answering 408.
  if (limits.socketIdleTimeoutMilliseconds < limits.requestTimeoutMilliseconds) {
    throw new Error(
      `invalid HTTP server limits: socketIdleTimeoutMilliseconds (${limits.socketIdleTimeoutMilliseconds}) is below requestTimeoutMilliseconds (${limits.requestTimeoutMilliseconds})`,
    );
  }
}

checkHttpServerLimits(httpServerLimitsDefault);
