// Turns any thrown value into a plain JSON-safe object for logs: type, message, code,
// the small primitive fields Node and our own errors carry (syscall, path, port,
// httpStatus, retryable, ...), the stack, and the cause chain as nested objects.
//
// pino's own `err` serializer joins the causes into one message and one stack, which
// loses each cause's `code`; when a request fails because a peer's socket reset, the
// code of the innermost cause is the fact the operator needs, so we keep them apart.

export interface SerializedError {
  type: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: SerializedError;
  errors?: SerializedError[];
  [field: string]: unknown;
}

/** How deep a cause chain is followed; a longer chain is cut with a marker. */
export const errorCauseDepthMax = 8;
/** How many members of an AggregateError are written. */
export const aggregateErrorsMax = 8;
/** How many extra primitive fields of one error are copied. */
export const errorFieldsMax = 16;

// Written by the serializer itself; an error's own property of the same name is skipped.
const fieldsWrittenSeparately = new Set(['type', 'message', 'code', 'stack', 'cause', 'errors']);

export function serializeError(value: unknown): SerializedError {
  return serializeAtDepth(value, 0, new Set());
}

function serializeAtDepth(value: unknown, depth: number, seen: Set<object>): SerializedError {
  if (!(value instanceof Error)) {
    // `throw 'text'` and rejected promises with plain values still deserve a readable line.
    return { type: value === null ? 'null' : typeof value, message: describeNonError(value) };
  }
  if (seen.has(value)) return { type: errorTypeName(value), message: '[circular cause]' };
  seen.add(value);

  const serialized: SerializedError = { type: errorTypeName(value), message: value.message };
  const code = (value as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') serialized.code = code;

  let fieldsCopied = 0;
  for (const [field, fieldValue] of Object.entries(value)) {
    if (fieldsWrittenSeparately.has(field)) continue;
    if (fieldsCopied >= errorFieldsMax) break;
    if (isPrimitiveField(fieldValue)) {
      serialized[field] = fieldValue;
      fieldsCopied += 1;
    }
  }

  if (typeof value.stack === 'string') serialized.stack = value.stack;

  if (value instanceof AggregateError && Array.isArray(value.errors)) {
    serialized.errors = value.errors
      .slice(0, aggregateErrorsMax)
      .map((member: unknown) => serializeAtDepth(member, depth + 1, seen));
  }

  if (value.cause !== undefined) {
    serialized.cause =
      depth + 1 >= errorCauseDepthMax
        ? { type: 'truncated', message: `cause chain longer than ${errorCauseDepthMax} errors` }
        : serializeAtDepth(value.cause, depth + 1, seen);
  }
  return serialized;
}

function errorTypeName(error: Error): string {
  // `name` is what `class FooError { name = 'FooError' }` sets; the constructor name
  // covers classes that forgot to.
  if (error.name && error.name !== 'Error') return error.name;
  return error.constructor?.name || 'Error';
}

function isPrimitiveField(value: unknown): value is string | number | boolean | bigint {
  const kind = typeof value;
  return kind === 'string' || kind === 'number' || kind === 'boolean' || kind === 'bigint';
}

function describeNonError(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, (_key, inner: unknown) =>
      typeof inner === 'bigint' ? inner.toString() : inner,
    ) ?? String(value);
  } catch {
    return String(value);
  }
}
