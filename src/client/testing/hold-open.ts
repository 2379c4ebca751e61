// TEST ONLY: a client process that opens one file of a volume, prints `open <ino>` and
// waits to be killed: a client that dies with a file open (its session must expire).
// Usage: node hold-open.js <masters> <volume> <path> <leaseSec>  (secret on stdin)
import { Volume } from '../volume.js';

const [masters, volumeName, path, leaseSec] = process.argv.slice(2);
const secret = await new Promise<string>((resolve) => {
  let text = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => (text += chunk));
  process.stdin.on('end', () => resolve(text.trim()));
});
const volume = await Volume.open({ masters: masters!, volume: volumeName!, clusterSecret: secret, limits: { sessionLeaseSec: Number(leaseSec) } });
const handle = await volume.open(path!);
process.stdout.write(`open ${handle.ino}\n`);
// Kept alive until killed (bounded by the test's own timeout).
setInterval(() => undefined, 1_000);
