// Expected HTTP failures and the JSON error body every route uses:
//   {"error": {"code": "NOT_FOUND", "message": "...", "details": {...}}}
// An error carrying an integer `httpStatus` (400-599) is an expected outcome and is
// answered as it says. Anything else thrown by a handler is a bug: 500 with a generic
// message, and the stack goes to the log, not to the client.

export interface ErrorReplyBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: Readonly<Record<string, unknown>>;
  };
}

export interface HttpErrorOptions {
  readonly cause?: unknown;
  /** Machine-readable facts for the client (the limit, the conflicting id, ...). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly httpStatus: number;
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(httpStatus: number, code: string, message: string, options: HttpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (!isErrorStatus(httpStatus)) throw new RangeError(`HttpError status must be an integer in 400-599: ${httpStatus}`);
    this.httpStatus = httpStatus;
    this.code = code;
    this.details = options.details;
  }
}

/** Codes used when an error gives a status but no code of its own. */
const defaultCodeOfStatus: ReadonlyMap<number, string> = new Map([
  [400, 'BAD_REQUEST'],
  [401, 'UNAUTHENTICATED'],
  [403, 'FORBIDDEN'],
  [404, 'NOT_FOUND'],
  [405, 'METHOD_NOT_ALLOWED'],
  [408, 'REQUEST_TIMEOUT'],
  [409, 'CONFLICT'],
  [413, 'REQUEST_BODY_TOO_LARGE'],
  [415, 'UNSUPPORTED_MEDIA_TYPE'],
  [429, 'TOO_MANY_REQUESTS'],
  [431, 'REQUEST_HEADERS_TOO_LARGE'],
  [500, 'INTERNAL'],
  [503, 'UNAVAILABLE'],
]);

export interface ErrorReply {
  readonly status: number;
  readonly body: ErrorReplyBody;
  /** False for bugs: the caller logs the stack at error level. */
  readonly expected: boolean;
}

export function errorReplyOf(error: unknown): ErrorReply {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as {
    httpStatus?: unknown;
    code?: unknown;
    message?: unknown;
    details?: unknown;
  };
  if (!isErrorStatus(fields.httpStatus)) {
    return {
      status: 500,
      body: { error: { code: 'INTERNAL', message: 'internal error; the server log has the details' } },
      expected: false,
    };
  }
  const status = fields.httpStatus;
  const code = typeof fields.code === 'string' && fields.code.length > 0 ? fields.code : defaultCodeOfStatus.get(status) ?? `HTTP_${status}`;
  const message = typeof fields.message === 'string' && fields.message.length > 0 ? fields.message : code;
  const details = isPlainRecord(fields.details) ? fields.details : undefined;
  return {
    status,
    body: { error: details === undefined ? { code, message } : { code, message, details } },
    expected: true,
  };
}

function isErrorStatus(status: unknown): status is number {
  return Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
