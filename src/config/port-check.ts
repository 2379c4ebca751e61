// Start-up refuses a port that is taken, with a message naming the port, its key and
// what it is for. Without this the user gets "EADDRINUSE 0.0.0.0:17030" from deep in a
// Raft transport, minutes into a staged start, and has to work out which setting it was.

import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { type Server, createServer } from 'node:net';
import { type DataDirLockOwner, describeInstance } from './data-dir-lock.js';
import { describePortOwner, findPortOwner } from './port-owner.js';

export type PortProblem = 'in-use' | 'permission-denied' | 'address-not-available';

export class PortUnavailableError extends AtollError {
  override readonly name = 'PortUnavailableError';
  constructor(
    message: string,
    readonly host: string,
    readonly port: number,
    /** Key name (`raft-heartbeat-port`). */
    readonly key: string,
    readonly purpose: string,
    readonly problem: PortProblem,
    cause: unknown,
  ) {
    super(StatusCode.UNAVAILABLE, message, { cause });
  }
}

export interface PortToCheck {
  readonly key: string;
  readonly port: number;
  readonly purpose: string;
}

/**
 * Turns a listen error into a PortUnavailableError with a message that says what to
 * change, or returns undefined for errors that are not about the port or address.
 */
export function explainListenError(error: unknown, host: string, port: number, key: string, purpose: string): PortUnavailableError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const what = `port ${port} (${key}, ${purpose})`;
  switch (code) {
    case 'EADDRINUSE':
      return new PortUnavailableError(
        `${what} is already in use on ${host}: stop the program using it or choose another --${key}`,
        host, port, key, purpose, 'in-use', error,
      );
    case 'EACCES':
      return new PortUnavailableError(
        `${what} cannot be opened on ${host}: permission denied${port > 0 && port < 1024 ? ' (ports below 1024 need privileges)' : ''}: choose another --${key}`,
        host, port, key, purpose, 'permission-denied', error,
      );
    case 'EADDRNOTAVAIL':
      return new PortUnavailableError(
        `${what} cannot be opened: ${host} is not an address of this machine: check --host`,
        host, port, key, purpose, 'address-not-available', error,
      );
    default:
      return undefined;
  }
}

/**
 * Listens and returns the port actually bound (the chosen one when `port` is 0).
 * `exclusive` keeps cluster workers from silently sharing a port another worker holds.
 */
export function listenOrExplain(server: Server, host: string, port: number, key: string, purpose: string): Promise<number> {
  return new Promise((resolvePromise, rejectPromise) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      rejectPromise(explainListenError(error, host, port, key, purpose) ?? error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      const address = server.address();
      resolvePromise(typeof address === 'object' && address !== null ? address.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, exclusive: true });
  });
}

/**
 * Binds a throwaway server on each non-zero port and closes it again, before anything
 * slow starts, so a taken port fails the start at once. Ports are checked in order and
 * the first problem is thrown. Another program can still take a port between this check
 * and the real listen; `listenOrExplain` gives the same message in that case (without
 * the owner). A taken port's message names `self` and the port's owner, when known:
 * `port 17230 (raft-heartbeat-port, Raft heartbeats) of metanode-2 (metanode, config
 * /etc/atoll/metanode-2.toml) is already in use on 127.0.0.1 by instance metanode-1
 * (metanode, config /etc/atoll/metanode-1.toml; pid 4242): stop it or choose another
 * --raft-heartbeat-port`.
 */
export async function checkPortsFree(host: string, ports: readonly PortToCheck[], self?: DataDirLockOwner): Promise<void> {
  for (const { key, port, purpose } of ports) {
    if (port === 0) continue;
    const probe = createServer();
    try {
      await listenOrExplain(probe, host, port, key, purpose);
    } catch (error) {
      if (!(error instanceof PortUnavailableError) || error.problem !== 'in-use') throw error;
      throw await explainTakenPort(error, self);
    }
    await new Promise<void>((resolvePromise) => probe.close(() => resolvePromise()));
  }
}

async function explainTakenPort(error: PortUnavailableError, self: DataDirLockOwner | undefined): Promise<PortUnavailableError> {
  const owner = await findPortOwner(error.host, error.port).catch(() => undefined);
  if (owner === undefined && self === undefined) return error;
  const ours = self === undefined ? '' : ` of ${describeInstance(self)}`;
  const by = owner === undefined ? '' : ` by ${describePortOwner(owner)}`;
  const stop = owner === undefined ? 'stop the program using it' : 'stop it';
  return new PortUnavailableError(
    `port ${error.port} (${error.key}, ${error.purpose})${ours} is already in use on ${error.host}${by}: ${stop} or choose another --${error.key}`,
    error.host, error.port, error.key, error.purpose, 'in-use', error.cause,
  );
}
