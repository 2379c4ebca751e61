// A small client of etcd's v3 JSON gateway (etcd 3.4 serves it at http://host:port/v3/).
// Every request carries an explicit deadline; a request that could not reach an endpoint
// (connection refused or reset before an answer) moves on to the next endpoint. A write
// whose answer did not arrive in time has an unknown outcome and is not resent: the
// caller gets TIMEOUT and decides (a fenced txn can be re-read and retried safely).
//
// Keys are strings (UTF-8), values bytes or strings; the gateway wants both in base64.
// int64 fields come as decimal strings: revisions are converted to numbers (they stay
// far below 2^53), lease ids are kept as decimal strings (they do not).
import { request as httpRequest } from 'node:http';
import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';

export interface EtcdClientOptions {
  /** host:port of each etcd member's client URL (plain HTTP). */
  readonly endpoints: readonly string[];
  /** Deadline of one request, all endpoints included. */
  readonly requestDeadlineMs?: number;
}

export const etcdRequestDeadlineMsDefault = 2_000;

export interface KeyValue {
  readonly key: string;
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** Decimal lease id, '0' when the key has none. */
  readonly lease: string;
}

export interface RangeOptions {
  /** Every key starting with `key`. */
  readonly prefix?: boolean;
  /** With `prefix`: only keys after this one (paging through a prefix). */
  readonly startAfter?: string;
  /** Read at this revision (0: the latest). */
  readonly revision?: number;
  readonly limit?: number;
  readonly keysOnly?: boolean;
  /** Keys in ascending order of create_revision (with `prefix`). */
  readonly sortByCreate?: boolean;
}

export interface RangeResult {
  /** The store's revision when the range was served. */
  readonly revision: number;
  readonly kvs: readonly KeyValue[];
  readonly count: number;
  readonly more: boolean;
}

export type CompareTarget = 'version' | 'create' | 'mod' | 'value' | 'lease';
export type CompareResult = 'equal' | 'greater' | 'less' | 'not-equal';

export interface Compare {
  readonly key: string;
  readonly target: CompareTarget;
  readonly result: CompareResult;
  /** A revision or version for version/create/mod, a decimal lease id for lease. */
  readonly number?: number | string;
  readonly value?: Buffer | string;
}

export type TxnOperation =
  | { readonly put: { readonly key: string; readonly value: Buffer | string; readonly lease?: string } }
  | { readonly deleteRange: { readonly key: string; readonly prefix?: boolean } }
  | { readonly range: { readonly key: string; readonly prefix?: boolean } };

export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOperation[];
  readonly failure?: readonly TxnOperation[];
}

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
  /** Key-values of the range operations of the branch taken, in order. */
  readonly ranges: ReadonlyArray<readonly KeyValue[]>;
}

export type WatchEvent = { readonly type: 'put' | 'delete'; readonly kv: KeyValue };

export interface Watch {
  /** Ends the stream. */
  cancel(): void;
  /** Settles when the stream ends, by cancel or by failure (with the error). */
  readonly ended: Promise<Error | null>;
}

const compareTargets: Record<CompareTarget, string> = { version: 'VERSION', create: 'CREATE', mod: 'MOD', value: 'VALUE', lease: 'LEASE' };
const compareResults: Record<CompareResult, string> = { equal: 'EQUAL', greater: 'GREATER', less: 'LESS', 'not-equal': 'NOT_EQUAL' };
const compareFields: Record<CompareTarget, string> = { version: 'version', create: 'create_revision', mod: 'mod_revision', value: 'value', lease: 'lease' };

interface RawKeyValue {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
  lease?: string;
}

interface RawHeader {
  header?: { revision?: string };
}

/** The end key of a prefix range: the prefix with its last byte incremented. */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let position = bytes.length - 1; position >= 0; position--) {
    if (bytes[position]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, position + 1));
      end[position] = bytes[position]! + 1;
      return end.toString('latin1');
    }
  }
  return '\0';
}

function base64Key(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64');
}

// A range end is compared as bytes; prefixEnd returns latin1 text of those bytes.
function base64End(end: string): string {
  return Buffer.from(end, 'latin1').toString('base64');
}

function base64Value(value: Buffer | string): string {
  return (typeof value === 'string' ? Buffer.from(value, 'utf8') : value).toString('base64');
}

function keyValueOf(raw: RawKeyValue): KeyValue {
  return {
    key: Buffer.from(raw.key ?? '', 'base64').toString('utf8'),
    value: Buffer.from(raw.value ?? '', 'base64'),
    createRevision: Number(raw.create_revision ?? 0),
    modRevision: Number(raw.mod_revision ?? 0),
    version: Number(raw.version ?? 0),
    lease: raw.lease ?? '0',
  };
}

function revisionOf(raw: RawHeader): number {
  return Number(raw.header?.revision ?? 0);
}

function rangeBody(key: string, options: RangeOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { key: base64Key(key) };
  if (options.prefix === true) body.range_end = base64End(prefixEnd(key));
  // The smallest key after startAfter is startAfter followed by a NUL byte.
  if (options.startAfter !== undefined) body.key = Buffer.concat([Buffer.from(options.startAfter, 'utf8'), Buffer.from([0])]).toString('base64');
  if (options.revision !== undefined && options.revision > 0) body.revision = String(options.revision);
  if (options.limit !== undefined) body.limit = String(options.limit);
  if (options.keysOnly === true) body.keys_only = true;
  if (options.sortByCreate === true) {
    body.sort_order = 'ASCEND';
    body.sort_target = 'CREATE';
  }
  return body;
}

function operationBody(operation: TxnOperation): Record<string, unknown> {
  if ('put' in operation) {
    const put: Record<string, unknown> = { key: base64Key(operation.put.key), value: base64Value(operation.put.value) };
    if (operation.put.lease !== undefined) put.lease = operation.put.lease;
    return { request_put: put };
  }
  if ('deleteRange' in operation) {
    const remove: Record<string, unknown> = { key: base64Key(operation.deleteRange.key) };
    if (operation.deleteRange.prefix === true) remove.range_end = base64End(prefixEnd(operation.deleteRange.key));
    return { request_delete_range: remove };
  }
  return { request_range: rangeBody(operation.range.key, { prefix: operation.range.prefix }) };
}

function compareBody(compare: Compare): Record<string, unknown> {
  const body: Record<string, unknown> = { key: base64Key(compare.key), target: compareTargets[compare.target], result: compareResults[compare.result] };
  if (compare.target === 'value') body.value = base64Value(compare.value ?? '');
  else body[compareFields[compare.target]] = String(compare.number ?? 0);
  return body;
}

/** The connection never carried the request to etcd: safe to send it elsewhere. */
function notDelivered(error: NodeJS.ErrnoException): boolean {
  return error.code === 'ECONNREFUSED' || error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH' || error.code === 'EADDRNOTAVAIL';
}

export class EtcdClient {
  readonly endpoints: readonly string[];
  readonly requestDeadlineMs: number;
  #preferred = 0;
  readonly #watches = new Set<Watch>();

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new AtollError(StatusCode.INVALID_ARGUMENT, 'etcd client: at least one endpoint (host:port) is needed');
    this.endpoints = [...options.endpoints];
    this.requestDeadlineMs = options.requestDeadlineMs ?? etcdRequestDeadlineMsDefault;
  }

  async range(key: string, options: RangeOptions = {}): Promise<RangeResult> {
    const raw = await this.#call('kv/range', rangeBody(key, options), { idempotent: true }) as RawHeader & { kvs?: RawKeyValue[]; count?: string; more?: boolean };
    return { revision: revisionOf(raw), kvs: (raw.kvs ?? []).map(keyValueOf), count: Number(raw.count ?? 0), more: raw.more === true };
  }

  async get(key: string): Promise<KeyValue | undefined> {
    return (await this.range(key)).kvs[0];
  }

  async put(key: string, value: Buffer | string, options: { lease?: string } = {}): Promise<{ revision: number }> {
    const body: Record<string, unknown> = { key: base64Key(key), value: base64Value(value) };
    if (options.lease !== undefined) body.lease = options.lease;
    return { revision: revisionOf(await this.#call('kv/put', body, { idempotent: false }) as RawHeader) };
  }

  async deleteRange(key: string, options: { prefix?: boolean } = {}): Promise<{ revision: number; deleted: number }> {
    const body: Record<string, unknown> = { key: base64Key(key) };
    if (options.prefix === true) body.range_end = base64End(prefixEnd(key));
    const raw = await this.#call('kv/deleterange', body, { idempotent: false }) as RawHeader & { deleted?: string };
    return { revision: revisionOf(raw), deleted: Number(raw.deleted ?? 0) };
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    const body = {
      compare: request.compare.map(compareBody),
      success: request.success.map(operationBody),
      failure: (request.failure ?? []).map(operationBody),
    };
    const raw = await this.#call('kv/txn', body, { idempotent: false }) as RawHeader & { succeeded?: boolean; responses?: Array<{ response_range?: { kvs?: RawKeyValue[] } }> };
    const ranges = (raw.responses ?? []).filter((response) => response.response_range !== undefined).map((response) => (response.response_range!.kvs ?? []).map(keyValueOf));
    return { succeeded: raw.succeeded === true, revision: revisionOf(raw), ranges };
  }

  async leaseGrant(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    const raw = await this.#call('lease/grant', { TTL: String(ttlSeconds) }, { idempotent: false }) as { ID?: string; TTL?: string; error?: string };
    if (raw.ID === undefined || (raw.error !== undefined && raw.error.length > 0)) throw new AtollError(StatusCode.UNAVAILABLE, `etcd lease grant failed: ${raw.error ?? 'no lease id in the answer'}`, { retryAfterMs: 200 });
    return { id: raw.ID, ttlSeconds: Number(raw.TTL ?? ttlSeconds) };
  }

  /** One keep-alive; the lease's remaining TTL in seconds, 0 when it no longer exists. */
  async leaseKeepAlive(id: string): Promise<number> {
    let raw: { result?: { TTL?: string }; error?: unknown };
    try {
      raw = await this.#call('lease/keepalive', { ID: id }, { idempotent: true }) as typeof raw;
    } catch (error) {
      if (error instanceof AtollError && error.status === StatusCode.NOT_FOUND) return 0;
      throw error;
    }
    if (raw.result === undefined) throw new AtollError(StatusCode.UNAVAILABLE, `etcd lease keep-alive gave no result: ${JSON.stringify(raw).slice(0, 200)}`, { retryAfterMs: 200 });
    return Number(raw.result.TTL ?? 0);
  }

  async leaseRevoke(id: string): Promise<void> {
    try {
      await this.#call('lease/revoke', { ID: id }, { idempotent: true });
    } catch (error) {
      // Revoking a lease that already expired is done.
      if (error instanceof AtollError && error.status === StatusCode.NOT_FOUND) return;
      throw error;
    }
  }

  /**
   * Streams the changes of `key` (or of every key under it, with `prefix`) from
   * `startRevision` (0: from now) to `onEvents`, until cancelled or until the stream
   * fails (`ended` then carries the error; the caller watches again from its revision).
   */
  watch(key: string, options: { prefix?: boolean; startRevision?: number }, onEvents: (events: readonly WatchEvent[], revision: number) => void): Watch {
    const create: Record<string, unknown> = { key: base64Key(key) };
    if (options.prefix === true) create.range_end = base64End(prefixEnd(key));
    if (options.startRevision !== undefined && options.startRevision > 0) create.start_revision = String(options.startRevision);
    const endpoint = this.endpoints[this.#preferred]!;
    const [host, port] = splitHostPort(endpoint);
    let finish: (error: Error | null) => void = () => {};
    const ended = new Promise<Error | null>((resolve) => {
      finish = resolve;
    });
    let done = false;
    const end = (error: Error | null) => {
      if (done) return;
      done = true;
      this.#watches.delete(watch);
      finish(error);
    };
    const request = httpRequest({ host, port, method: 'POST', path: '/v3/watch', headers: { 'content-type': 'application/json' } }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        end(new AtollError(StatusCode.UNAVAILABLE, `etcd watch at ${endpoint} answered HTTP ${response.statusCode}`));
        return;
      }
      response.setEncoding('utf8');
      let buffered = '';
      response.on('data', (chunk: string) => {
        buffered += chunk;
        for (;;) {
          const newline = buffered.indexOf('\n');
          const line = (newline < 0 ? buffered : buffered.slice(0, newline)).trim();
          // The gateway separates messages with newlines; a message may arrive split.
          let message: { result?: RawHeader & { events?: Array<{ type?: string; kv?: RawKeyValue }>; canceled?: boolean; cancel_reason?: string }; error?: unknown };
          try {
            message = JSON.parse(line);
          } catch {
            if (newline < 0) break;
            buffered = buffered.slice(newline + 1);
            continue;
          }
          buffered = newline < 0 ? '' : buffered.slice(newline + 1);
          const result = message.result;
          if (result === undefined) {
            request.destroy();
            end(new AtollError(StatusCode.UNAVAILABLE, `etcd watch failed: ${JSON.stringify(message.error ?? message).slice(0, 200)}`));
            return;
          }
          if (result.canceled === true) {
            request.destroy();
            end(new AtollError(StatusCode.UNAVAILABLE, `etcd cancelled the watch: ${result.cancel_reason ?? 'no reason given'}`));
            return;
          }
          const events = (result.events ?? []).map((event) => ({ type: event.type === 'DELETE' ? 'delete' as const : 'put' as const, kv: keyValueOf(event.kv ?? {}) }));
          if (events.length > 0) onEvents(events, revisionOf(result));
          if (newline < 0) break;
        }
      });
      response.on('end', () => end(new AtollError(StatusCode.UNAVAILABLE, `etcd at ${endpoint} ended the watch stream`)));
      response.on('error', (error) => end(error));
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (notDelivered(error)) this.#preferred = (this.#preferred + 1) % this.endpoints.length;
      end(new AtollError(StatusCode.UNAVAILABLE, `etcd watch at ${endpoint} failed: ${error.message}`));
    });
    // The gateway keeps the stream open after the request body ends.
    request.end(JSON.stringify({ create_request: create }));
    const watch: Watch = {
      cancel: () => {
        request.destroy();
        end(null);
      },
      ended,
    };
    this.#watches.add(watch);
    return watch;
  }

  /** Cancels every watch; requests in flight finish or time out on their own. */
  close(): void {
    for (const watch of [...this.#watches]) watch.cancel();
  }

  async #call(path: string, body: unknown, options: { idempotent: boolean }): Promise<unknown> {
    const deadline = Date.now() + this.requestDeadlineMs;
    const text = JSON.stringify(body);
    const failures: string[] = [];
    for (let attempt = 0; attempt < this.endpoints.length; attempt++) {
      const index = (this.#preferred + attempt) % this.endpoints.length;
      const endpoint = this.endpoints[index]!;
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) break;
      // A read may go on to the other endpoints: a hung one gets only its share of the time.
      const attemptMs = options.idempotent ? remainingMs / (this.endpoints.length - attempt) : remainingMs;
      const outcome = await postJson(endpoint, `/v3/${path}`, text, attemptMs);
      if (outcome.kind === 'answer') {
        this.#preferred = index;
        return interpretAnswer(path, endpoint, outcome.status, outcome.body);
      }
      failures.push(`${endpoint}: ${outcome.message}`);
      // A request that may have reached etcd is not sent twice unless it is idempotent.
      if (outcome.kind === 'timeout' && !options.idempotent) {
        throw new AtollError(StatusCode.TIMEOUT, `etcd ${path}: no answer from ${endpoint} in ${Math.round(attemptMs)} ms; the request may or may not have taken effect`);
      }
      if (outcome.kind === 'failed' && !outcome.notDelivered && !options.idempotent) {
        throw new AtollError(StatusCode.UNAVAILABLE, `etcd ${path}: ${endpoint} failed after the request was sent (${outcome.message}); it may or may not have taken effect`, { retryAfterMs: 200 });
      }
    }
    this.#preferred = (this.#preferred + 1) % this.endpoints.length;
    throw new AtollError(StatusCode.UNAVAILABLE, `etcd is unreachable (${path}): ${failures.join('; ') || `deadline of ${this.requestDeadlineMs} ms passed`}`, { retryAfterMs: 500 });
  }
}

type PostOutcome =
  | { readonly kind: 'answer'; readonly status: number; readonly body: string }
  | { readonly kind: 'timeout'; readonly message: string }
  | { readonly kind: 'failed'; readonly message: string; readonly notDelivered: boolean };

function splitHostPort(endpoint: string): [string, number] {
  const colon = endpoint.lastIndexOf(':');
  return [endpoint.slice(0, colon).replace(/^\[|\]$/g, ''), Number(endpoint.slice(colon + 1))];
}

function postJson(endpoint: string, path: string, body: string, deadlineMs: number): Promise<PostOutcome> {
  const [host, port] = splitHostPort(endpoint);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: PostOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const request = httpRequest({ host, port, method: 'POST', path, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => settle({ kind: 'answer', status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', (error) => settle({ kind: 'failed', message: error.message, notDelivered: false }));
    });
    const timer = setTimeout(() => {
      settle({ kind: 'timeout', message: `no answer in ${Math.round(deadlineMs)} ms` });
      request.destroy();
    }, deadlineMs);
    request.on('error', (error: NodeJS.ErrnoException) => settle({ kind: 'failed', message: error.message, notDelivered: notDelivered(error) }));
    request.end(body);
  });
}

function interpretAnswer(path: string, endpoint: string, status: number, body: string): unknown {
  let parsed: { error?: unknown; message?: string; code?: number } & Record<string, unknown>;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new AtollError(StatusCode.UNAVAILABLE, `etcd ${path} at ${endpoint}: answer is not JSON (HTTP ${status}): ${body.slice(0, 200)}`, { retryAfterMs: 200 });
  }
  if (status === 200 && parsed.error === undefined) return parsed;
  // Unary calls answer {error, code, message}; streams {error: {grpc_code, message}}.
  const nested = typeof parsed.error === 'object' && parsed.error !== null ? parsed.error as { grpc_code?: number; message?: string } : null;
  const message = String(nested?.message ?? parsed.message ?? parsed.error ?? `HTTP ${status}`);
  const code = nested?.grpc_code ?? parsed.code;
  // gRPC code 5 (NotFound): e.g. "requested lease not found".
  if (code === 5 || /not found/.test(message)) throw new AtollError(StatusCode.NOT_FOUND, `etcd ${path}: ${message}`);
  // 3 (InvalidArgument), 11 (OutOfRange: compacted revision), 9 (FailedPrecondition).
  if (code === 3 || code === 11 || code === 9) throw new AtollError(StatusCode.INVALID_ARGUMENT, `etcd ${path}: ${message}`);
  throw new AtollError(StatusCode.UNAVAILABLE, `etcd ${path} at ${endpoint}: ${message}`, { retryAfterMs: 200 });
}
