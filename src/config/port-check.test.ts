import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:net';
import { PortUnavailableError, checkPortsFree, explainListenError, listenOrExplain } from './port-check.js';

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  const port = await listenOrExplain(server, '127.0.0.1', 0, 'test', 'test holder');
  return { server, port };
}

function close(server: Server): Promise<void> {
  return new Promise((resolvePromise) => server.close(() => resolvePromise()));
}

test('a port held by another server is named with its key and purpose', async () => {
  const held = await holdPort();
  try {
    await assert.rejects(
      checkPortsFree('127.0.0.1', [
        { key: 'port', port: 0, purpose: 'service RPC' },
        { key: 'raft-heartbeat-port', port: held.port, purpose: 'Raft heartbeats' },
      ]),
      (error: unknown) => {
        assert.ok(error instanceof PortUnavailableError);
        // The holder is this very process: found through /proc on Linux, unknown elsewhere.
        const owner = process.platform === 'linux' ? ` by pid ${process.pid} \\(.*port-check\\.test\\.js.*\\): stop it` : ': stop the program using it';
        assert.match(error.message, new RegExp(`^port ${held.port} \\(raft-heartbeat-port, Raft heartbeats\\) is already in use on 127\\.0\\.0\\.1${owner} or choose another --raft-heartbeat-port$`));
        assert.equal(error.key, 'raft-heartbeat-port');
        assert.equal(error.problem, 'in-use');
        return true;
      },
    );
  } finally {
    await close(held.server);
  }
});

test('free ports pass the check and stay free afterwards', async () => {
  const probe = await holdPort();
  await close(probe.server);
  await checkPortsFree('127.0.0.1', [{ key: 'port', port: probe.port, purpose: 'service RPC' }, { key: 'http-port', port: 0, purpose: 'HTTP' }]);
  // the throwaway server is closed: the real one can listen
  const real = createServer();
  assert.equal(await listenOrExplain(real, '127.0.0.1', probe.port, 'port', 'service RPC'), probe.port);
  await close(real);
});

test('listenOrExplain returns the chosen port for 0 and explains a taken port', async () => {
  const held = await holdPort();
  assert.ok(held.port > 0);
  const second = createServer();
  try {
    await assert.rejects(listenOrExplain(second, '127.0.0.1', held.port, 'http-port', 'HTTP admin and metrics'), {
      name: 'PortUnavailableError',
      message: `port ${held.port} (http-port, HTTP admin and metrics) is already in use on 127.0.0.1: stop the program using it or choose another --http-port`,
    });
    assert.equal(second.listening, false);
  } finally {
    await close(held.server);
  }
});

test('a host that is not an address of this machine is explained', async () => {
  // 192.0.2.0/24 is reserved for documentation and never assigned to an interface.
  const server = createServer();
  await assert.rejects(listenOrExplain(server, '192.0.2.1', 0, 'port', 'service RPC'), (error: unknown) => {
    assert.ok(error instanceof PortUnavailableError);
    assert.equal(error.problem, 'address-not-available');
    assert.equal(error.message, 'port 0 (port, service RPC) cannot be opened: 192.0.2.1 is not an address of this machine: check --host');
    return true;
  });
});

test('permission denied names the port and says why low ports fail', () => {
  const denied = Object.assign(new Error('listen EACCES'), { code: 'EACCES' });
  const explained = explainListenError(denied, '0.0.0.0', 80, 'http-port', 'HTTP admin and metrics');
  assert.equal(explained?.message, 'port 80 (http-port, HTTP admin and metrics) cannot be opened on 0.0.0.0: permission denied (ports below 1024 need privileges): choose another --http-port');
  assert.equal(explained?.cause, denied);
  assert.equal(explainListenError(new Error('other'), '0.0.0.0', 80, 'http-port', 'HTTP'), undefined);
});
