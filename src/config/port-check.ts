// Start-up refuses a port that is taken, with a message naming the port, its key and
// what it is for. Without this the user gets "EADDRINUSE 0.0.0.0:17030" from deep in a
// Raft transport, minutes into a staged start, and has to work out which setting it was.

import { AtollError } from '../errors/atoll-error.js';
import { StatusCode } from '../proto/generated/common.js';
import { type Server, createServer } from 'node:net';

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
 * and the real listen; `listenOrExplain` gives the same message in that case.
 */
export async function checkPortsFree(host: string, ports: readonly PortToCheck[]): Promise<void> {
  for (const { key, port, purpose } of ports) {
    if (port === 0) continue;
    const probe = createServer();
    await listenOrExplain(probe, host, port, key, purpose);
    await new Promise<void>((resolvePromise) => probe.close(() => resolvePromise()));
  }
}
