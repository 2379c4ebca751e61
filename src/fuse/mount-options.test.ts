import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountOptionString, resolveMountOptions } from './mount-options.js';
import { parseMounts } from './mount-table.js';

test('the default options: big writes, kernel permission checks, short caches', () => {
  assert.equal(
    mountOptionString(resolveMountOptions({}, true)),
    'atoll,subtype=atoll,big_writes,max_write=1048576,default_permissions,allow_other,attr_timeout=1,entry_timeout=1,negative_timeout=0',
  );
});

test('allow_other only when permitted or asked for; zero timeouts are kept', () => {
  const options = mountOptionString(resolveMountOptions({ bigWrites: false, attrTimeoutSeconds: 0, entryTimeoutSeconds: 0 }, false));
  assert.equal(options, 'atoll,subtype=atoll,default_permissions,attr_timeout=0,entry_timeout=0,negative_timeout=0');
  assert.match(mountOptionString(resolveMountOptions({ allowOther: true }, false)), /allow_other/);
});

test('an option that would split or escape the option string is refused', () => {
  assert.throws(() => mountOptionString(resolveMountOptions({ fsName: 'a,b' }, false)), /only letters/);
  assert.throws(() => mountOptionString(resolveMountOptions({ extra: ['x y'] }, false)), /only letters/);
  assert.throws(() => mountOptionString(resolveMountOptions({ attrTimeoutSeconds: -1 }, false)), /timeout/);
});

test('/proc/mounts lines are parsed with their octal escapes', () => {
  const [entry] = parseMounts('atoll /tmp/a\\040b fuse.atoll rw,nosuid 0 0\n');
  assert.deepEqual(entry, { source: 'atoll', mountPoint: '/tmp/a b', type: 'fuse.atoll', options: 'rw,nosuid' });
});
