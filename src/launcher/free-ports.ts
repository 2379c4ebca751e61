// Ports for the instances of a cluster on one host, chosen at random below the kernel's
// ephemeral range (Linux: `net.ipv4.ip_local_port_range`, 32768-60999 by default).
//
// A port inside that range is also the local port of outgoing connections: while an
// instance is down (between the plan and the spawn, during a restart, after a reboot of
// a saved local cluster) any process on the host may take its port for a connection, and
// the instance then cannot bind it. Below the range only another listener can take it.
// Each port is checked free by binding it, and all are held until every one is chosen,
// so none is handed out twice in one call.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/** Lowest port chosen: above the well-known and most registered service ports. */
export const portMin = 20_000;
/** Start of Linux's default ephemeral range; used when the kernel's cannot be read. */
export const ephemeralPortStartDefault = 32_768;
/** Fewest ports the range below the ephemeral one must hold to be used at all. */
const rangePortsMin = 1_000;
const attemptsPerPort = 50;

/** The first port of the kernel's ephemeral range (`ip_local_port_range`). */
export function ephemeralPortStart(rangeFile = '/proc/sys/net/ipv4/ip_local_port_range'): number {
  try {
    const first = Number.parseInt(readFileSync(rangeFile, 'utf8').trim().split(/\s+/)[0] ?? '', 10);
    return Number.isInteger(first) && first > 0 && first <= 65_535 ? first : ephemeralPortStartDefault;
  } catch {
    return ephemeralPortStartDefault;
  }
}

async function tryListen(host: string, port: number): Promise<Server | null> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}

export interface FreePortsOptions {
  /** First port of the range; `portMin` by default. */
  readonly portFirst?: number;
  /** Exclusive end of the range; the kernel's ephemeral start by default. */
  readonly portEnd?: number;
  /** A number in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

/**
 * `count` distinct ports free on `host`, in [portMin, ephemeral start). When the kernel's
 * ephemeral range starts so low that fewer than 1,000 ports lie below it, the kernel
 * chooses (listen on port 0), as the only choice left.
 */
export async function freePorts(host: string, count: number, options: FreePortsOptions = {}): Promise<number[]> {
  const portEnd = options.portEnd ?? ephemeralPortStart();
  const portFirst = options.portFirst ?? portMin;
  const random = options.random ?? Math.random;
  const fromKernel = options.portFirst === undefined && portEnd - portFirst < rangePortsMin;
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      let found = false;
      for (let attempt = 0; attempt < attemptsPerPort && !found; attempt++) {
        const port = fromKernel ? 0 : portFirst + Math.floor(random() * (portEnd - portFirst));
        if (ports.includes(port)) continue;
        const server = await tryListen(host, port);
        if (server === null) continue;
        held.push(server);
        const bound = (server.address() as { port: number }).port;
        if (ports.includes(bound)) continue;
        ports.push(bound);
        found = true;
      }
      if (!found) throw new Error(`free ports: no free port on ${host} in ${portFirst}-${portEnd - 1} after ${attemptsPerPort} tries`);
    }
  } finally {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  }
  return ports;
}
