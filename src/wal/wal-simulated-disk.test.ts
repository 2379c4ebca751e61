// The write-ahead log's behaviour suite on SimulatedDisk.
import assert from 'node:assert/strict';
import { SimulatedDisk } from '../disk/index.js';
import { describeWalBehaviour } from './testing/wal-suite.js';

describeWalBehaviour('SimulatedDisk', async () => {
  const disk = new SimulatedDisk();
  await disk.makeDirectory('/instance');
  return {
    disk,
    dir: '/instance',
    async corruptByte(path, position) {
      disk.corrupt(path, position);
    },
    async cutFile(path, length) {
      const file = await disk.openForAppend(path);
      await file.truncate(length);
      await file.sync();
      await file.close();
    },
    async cleanup() {
      assert.equal(disk.openFileCount(), 0, 'every file is closed');
    },
  };
});
