// Reading the fields of an admin API request body: each reader names the field and what
// was wrong with it, so a bad request gets a 400 that says how to fix it.
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';

export type JsonObject = Readonly<Record<string, unknown>>;

export function invalid(message: string): AtollError {
  return new AtollError(StatusCode.INVALID_ARGUMENT, message);
}

export function requireObject(body: unknown, what = 'request body'): JsonObject {
  if (body === undefined) throw invalid(`${what}: a JSON object is required`);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(`${what}: must be a JSON object, got ${describeJson(body)}`);
  return body as JsonObject;
}

/** An empty body counts as `{}` (for routes whose fields are all optional). */
export function optionalObject(body: unknown): JsonObject {
  return body === undefined ? {} : requireObject(body);
}

export function rejectUnknownFields(body: JsonObject, known: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) throw invalid(`field ${key}: unknown (known fields: ${known.join(', ')})`);
  }
}

export function stringField(body: JsonObject, name: string, options: { pattern?: RegExp; patternText?: string; lengthMax?: number }): string | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`field ${name}: must be a string, got ${describeJson(value)}`);
  const lengthMax = options.lengthMax ?? 256;
  if (value.length > lengthMax) throw invalid(`field ${name}: at most ${lengthMax} characters, got ${value.length}`);
  if (options.pattern !== undefined && !options.pattern.test(value)) throw invalid(`field ${name}: ${options.patternText ?? `must match ${options.pattern}`}, got ${JSON.stringify(value)}`);
  return value;
}

export function integerField(body: JsonObject, name: string, bounds: { min: number; max: number; unit?: string }): number | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalid(`field ${name}: must be an integer, got ${describeJson(value)}`);
  if (value < bounds.min || value > bounds.max) throw invalid(`field ${name}: must be from ${bounds.min} to ${bounds.max}${bounds.unit === undefined ? '' : ` ${bounds.unit}`}, got ${value}`);
  return value;
}

export function required<Value>(value: Value | undefined, name: string): Value {
  if (value === undefined) throw invalid(`field ${name}: required`);
  return value;
}

/** A decimal id in a path segment or a query parameter. */
export function parseId(text: string, what: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) throw invalid(`${what}: must be a positive integer id, got ${JSON.stringify(text.slice(0, 40))}`);
  const id = Number(text);
  if (!Number.isSafeInteger(id)) throw invalid(`${what}: too large: ${text}`);
  return id;
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === 'number') return `the number ${value}`;
  return `a ${typeof value}`;
}
