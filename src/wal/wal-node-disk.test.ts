// The write-ahead log's behaviour suite on the real file system (real fdatasync).
import { mkdtemp, open, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeDisk } from '../disk/index.js';
import { describeWalBehaviour } from './testing/wal-suite.js';

describeWalBehaviour('NodeDisk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atoll-wal-'));
  return {
    disk: new NodeDisk(),
    dir,
    async corruptByte(path, position) {
      const handle = await open(path, 'r+');
      try {
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, position);
        byte[0] = byte[0]! ^ 0xff;
        await handle.write(byte, 0, 1, position);
      } finally {
        await handle.close();
      }
    },
    cutFile: (path, length) => truncate(path, length),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
