// TEST ONLY: ports for test clusters, chosen at random below the kernel's ephemeral range
// (Linux: 32768 and up). A port the kernel hands out (listen(0), freePorts) lies inside
// that range, where any outgoing connection of any process on the host may take it as
// its local port while the instance that planned it is down (between the plan and the
// spawn, or during a restart): the instance then cannot bind it. Below the range only
// another listener can take it; each port is checked free (bound and held until all are
// chosen) and the test cluster plans again if one was taken before its instance bound it.
import { createServer, type Server } from 'node:net';

export const testPortMin = 20_000;
/** Exclusive: the default start of Linux's ip_local_port_range. */
export const testPortEnd = 32_768;
const attemptsPerPort = 50;

async function tryListen(host: string, port: number): Promise<Server | null> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}

/** `count` distinct free ports in [testPortMin, testPortEnd). */
export async function testPorts(host: string, count: number): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      let found = false;
      for (let attempt = 0; attempt < attemptsPerPort && !found; attempt++) {
        const port = testPortMin + Math.floor(Math.random() * (testPortEnd - testPortMin));
        if (ports.includes(port)) continue;
        const server = await tryListen(host, port);
        if (server === null) continue;
        held.push(server);
        ports.push(port);
        found = true;
      }
      if (!found) throw new Error(`test ports: no free port in ${testPortMin}-${testPortEnd - 1} after ${attemptsPerPort} tries`);
    }
  } finally {
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  }
  return ports;
}
