// The server process of bench:rpc: an RPC server with the Diagnostics service and the
// bare echo baseline, on ports it prints as one JSON line. It exits when stdin closes.
import { RpcServer, registerDiagnostics } from '../../src/rpc/index.js';
import { startBareEchoServer } from './bare-echo.js';

const secret = process.argv[2] ?? '';
const rpc = new RpcServer({ secret, instance: 'bench-server', limits: { payloadBytesMax: 8 * 1024 * 1024 } });
registerDiagnostics(rpc);
const rpcPort = await rpc.listen('127.0.0.1', 0);
const bare = await startBareEchoServer('127.0.0.1');
process.stdout.write(`${JSON.stringify({ rpcPort, barePort: bare.port })}\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  bare.server.close();
  await rpc.stop();
  process.exit(0);
});
