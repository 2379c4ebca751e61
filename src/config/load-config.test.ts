import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config-error.js';
import { describeFlags, describeSchemaFlags, loadConfig, redactConfig, resolveConfig } from './load-config.js';
import { listInstancePorts, roleSchemas, serverRoles } from './roles.js';
import {
  booleanKey,
  byteSizeKey,
  defineSchema,
  durationKey,
  kebabCase,
  optionalKey,
  stringListKey,
} from './schema.js';

const workingDirectory = mkdtempSync(join(tmpdir(), 'atoll-load-config-'));
after(() => rmSync(workingDirectory, { recursive: true, force: true }));
const options = { workingDirectory };

function write(name: string, text: string): string {
  const path = join(workingDirectory, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

function errorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error instanceof Error ? error.stack : String(error)}`);
    return error;
  }
  assert.fail('expected a ConfigError');
}

function messagesOf(run: () => unknown): string[] {
  return errorOf(run).errors.map((error) => error.message);
}

test('defaults alone give a complete master config', () => {
  const { config, positional } = loadConfig('master', [], options);
  assert.deepEqual(positional, []);
  assert.deepEqual({ ...config }, {
    host: '127.0.0.1',
    port: 17010,
    httpPort: 17020,
    raftHeartbeatPort: 17030,
    raftReplicaPort: 17040,
    instance: 'master-17010',
    dataDir: join(workingDirectory, 'atoll-data', 'master-17010'),
    zone: 'default',
    peers: [],
    adminToken: undefined,
    adminTokenFile: undefined,
    backend: 'raft',
    etcd: [],
    etcdPrefix: '/atollfs/atoll',
    etcdLeaseTtl: 5_000,
    clusterSecret: undefined,
    clusterSecretFile: undefined,
    logLevel: 'info',
  });
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.peers));
});

test('a master on etcd needs the etcd endpoints', () => {
  assert.throws(() => loadConfig('master', ['--backend', 'etcd'], options), /etcd.*backend etcd needs the etcd endpoints/s);
  const { config } = loadConfig('master', ['--backend', 'etcd', '--etcd', '127.0.0.1:2379,127.0.0.1:22379', '--etcd-lease-ttl', '3s'], options);
  assert.deepEqual(config.etcd.map((endpoint) => `${endpoint.host}:${endpoint.port}`), ['127.0.0.1:2379', '127.0.0.1:22379']);
  assert.equal(config.etcdLeaseTtl, 3_000);
});

test('flags beat the file, the file beats defaults', () => {
  const path = write('precedence.toml', 'port = 17011\nhttp-port = 17021\nzone = "rack-1"\n');
  const { config } = loadConfig('master', ['--config', path, '--http-port', '17022'], options);
  assert.equal(config.port, 17011); // file
  assert.equal(config.httpPort, 17022); // flag over file
  assert.equal(config.raftHeartbeatPort, 17030); // default
  assert.equal(config.zone, 'rack-1');
  assert.equal(config.instance, 'master-17011'); // derived from the resolved port
});

test('a JSON config file works like a TOML one', () => {
  const path = write('metanode.json', JSON.stringify({ port: 17211, 'memory-budget': '2GiB', engine: 'lmdb', masters: ['10.0.0.1:17010'] }));
  const { config } = loadConfig('metanode', [`--config=${path}`], options);
  assert.equal(config.port, 17211);
  assert.equal(config.memoryBudget, 2 * 2 ** 30);
  assert.equal(config.engine, 'lmdb');
  assert.deepEqual(config.masters, [{ host: '10.0.0.1', port: 17010 }]);
});

test('the background-work limits of a node: defaults, file values, and their bounds', () => {
  const defaults = loadConfig('datanode', [], options).config;
  assert.deepEqual([defaults.repairsInFlightMax, defaults.snapshotSendsMax, defaults.snapshotReceivesMax], [4, 8, 16]);
  const path = write('datanode-limits.toml', 'repairs-in-flight-max = 2\nsnapshot-sends-max = 3\nsnapshot-receives-max = 5\n');
  const fromFile = loadConfig('datanode', ['--config', path], options).config;
  assert.deepEqual([fromFile.repairsInFlightMax, fromFile.snapshotSendsMax, fromFile.snapshotReceivesMax], [2, 3, 5]);
  assert.equal(loadConfig('metanode', ['--snapshot-sends-max', '1'], options).config.snapshotSendsMax, 1);
  assert.deepEqual(messagesOf(() => loadConfig('datanode', ['--repairs-in-flight-max', '0'], options)), ['config: repairs-in-flight-max: must be an integer from 1 to 1024, got "0" (from flag --repairs-in-flight-max)']);
  assert.deepEqual(messagesOf(() => loadConfig('metanode', ['--repairs-in-flight-max', '2'], options)).length, 1, 'a metanode has no repairs');
});

test('repeated -p and --master accumulate, commas split, and flags replace the file list', () => {
  const path = write('datanode.toml', 'masters = ["127.0.0.1:17010", "127.0.0.1:17011"]\n');
  const addresses = (argv: string[]): string[] =>
    loadConfig('datanode', argv, options).config.masters.map((address) => `${address.host}:${address.port}`);
  assert.deepEqual(addresses(['--config', path]), ['127.0.0.1:17010', '127.0.0.1:17011']);
  assert.deepEqual(addresses(['--config', path, '-p', 'a:1', '-p', 'b:2']), ['a:1', 'b:2']);
  assert.deepEqual(addresses(['--master', 'a:1', '--master', 'b:2', '--masters', 'c:3,d:4']), ['a:1', 'b:2', 'c:3', 'd:4']);
  assert.deepEqual(addresses([]), ['127.0.0.1:17010']);
});

test('an empty or repeating list is refused', () => {
  assert.deepEqual(messagesOf(() => loadConfig('datanode', ['--masters='], options)), ['config: masters: must not be empty (from flag --masters)']);
  assert.deepEqual(messagesOf(() => loadConfig('master', ['--peers', 'a:1,b:2', '--peers', 'A:1'], options)), [
    'config: peers: lists A:1 twice (from flag --peers)',
  ]);
});

test('a list in the file must be an array', () => {
  const path = write('string-list.toml', 'masters = "127.0.0.1:17010"\n');
  assert.deepEqual(messagesOf(() => loadConfig('metanode', ['--config', path], options)), [
    `config: masters: must be a list (an array like ["a", "b"]), got "127.0.0.1:17010" (from file ${path})`,
  ]);
});

test('bad values name the key, the problem and the flag', () => {
  const cases: [string, string[], string][] = [
    ['master', ['--http-port', 'abc'], 'config: http-port: must be an integer from 0 to 65535, got "abc" (from flag --http-port)'],
    ['master', ['--port=65536'], 'config: port: must be an integer from 0 to 65535, got "65536" (from flag --port)'],
    ['master', ['--host', '10.0.0.1:17010'], 'config: host: must be a host name or IP address without a port, got "10.0.0.1:17010" (from flag --host)'],
    ['master', ['--log-level', 'verbose'], 'config: log-level: must be one of trace, debug, info, warn, error, fatal, got "verbose" (from flag --log-level)'],
    ['master', ['--instance', 'a b'], 'config: instance: must be up to 64 letters, digits, ".", "_" or "-", starting with a letter or digit, got "a b" (from flag --instance)'],
    ['metanode', ['--memory-budget', '10G'], 'config: memory-budget: unit "G" is ambiguous in "10G": write GiB (powers of 1024) or GB (powers of 1000) (from flag --memory-budget)'],
    ['metanode', ['--memory-budget', '1MiB'], 'config: memory-budget: must be at least 64MiB, got 1MiB (from flag --memory-budget)'],
    ['metanode', ['--engine', 'rocksdb'], 'config: engine: must be one of memory, lmdb, got "rocksdb" (from flag --engine)'],
    ['metanode', ['-p', '127.0.0.1'], 'config: masters: item "127.0.0.1": must be host:port like 127.0.0.1:17010, got "127.0.0.1" (the port is missing) (from flag -p)'],
    ['datanode', ['--disk-reserved', 'much'], 'config: disk-reserved: must be a byte size like 512MiB or 10GiB, got "much" (from flag --disk-reserved)'],
  ];
  for (const [role, argv, message] of cases) {
    assert.deepEqual(messagesOf(() => loadConfig(role as 'master', argv, options)), [message], argv.join(' '));
  }
});

test('bad values in the file name the file', () => {
  const path = write('bad-values.toml', 'port = "abc"\nhttp-port = 17020.5\n');
  const error = errorOf(() => loadConfig('master', ['--config', path], options));
  assert.deepEqual(error.errors.map((each) => [each.key, each.source, each.message]), [
    ['port', `file ${path}`, `config: port: must be an integer from 0 to 65535, got "abc" (from file ${path})`],
    ['http-port', `file ${path}`, `config: http-port: must be an integer from 0 to 65535, got 17020.5 (from file ${path})`],
  ]);
});

test('unknown keys in the file and unknown flags suggest the intended key', () => {
  const path = write('typos.toml', 'http_port = 1\nraftHeartbeatPort = 2\nlog-levle = "info"\nfavourite-colour = "blue"\nmasters = ["a:1"]\n');
  assert.deepEqual(messagesOf(() => loadConfig('master', ['--config', path, '--data-dri', 'x', '--master', 'a:1'], options)), [
    'config: data-dri: unknown flag --data-dri; did you mean --data-dir? (from flag --data-dri)',
    // masters belongs to metanode and datanode; a master is told about its peers
    'config: master: unknown flag --master; a master names the members of its group in --peers (from flag --master)',
    `config: http_port: unknown key; did you mean http-port? (from file ${path})`,
    `config: raftHeartbeatPort: unknown key; did you mean raft-heartbeat-port? (from file ${path})`,
    `config: log-levle: unknown key; did you mean log-level? (from file ${path})`,
    `config: favourite-colour: unknown key (from file ${path})`,
    `config: masters: unknown key; a master names the members of its group in peers (from file ${path})`,
  ]);
});

test('all problems are reported together in one ConfigError', () => {
  const path = write('several.toml', 'zone = 7\n');
  const error = errorOf(() => loadConfig('datanode', ['--config', path, '--port', 'x', '--bogus'], options));
  assert.equal(error.errors.length, 3);
  assert.equal(error.message.split('\n').length, 3);
  assert.equal(error.key, 'bogus');
  assert.equal(error.source, 'flag');
});

test('a file syntax error is reported with the flag errors', () => {
  const path = write('syntax.toml', 'port = \n');
  const messages = messagesOf(() => loadConfig('master', ['--config', path, '--port', 'x'], options));
  assert.equal(messages.length, 2);
  assert.match(messages[0], new RegExp(`^config: file ${path}, line 1, column \\d+: invalid TOML`));
  assert.equal(messages[1], 'config: port: must be an integer from 0 to 65535, got "x" (from flag --port)');
});

test('two equal non-zero ports of one instance are an error naming both keys', () => {
  assert.deepEqual(messagesOf(() => loadConfig('master', ['--http-port', '17010'], options)), [
    'config: http-port: same port as port (both 17010; port from default); each port of an instance must be different (from flag --http-port)',
  ]);
  const path = write('equal-ports.toml', 'raft-heartbeat-port = 5901\n');
  assert.deepEqual(messagesOf(() => loadConfig('metanode', ['--config', path, '--raft-replica-port=5901'], options)), [
    `config: raft-replica-port: same port as raft-heartbeat-port (both 5901; raft-heartbeat-port from file ${path}); each port of an instance must be different (from flag --raft-replica-port)`,
  ]);
  // 0 means "pick a free one", so several zeros do not collide
  const { config } = loadConfig('metanode', ['--port', '0', '--http-port', '0', '--raft-heartbeat-port', '0', '--raft-replica-port', '0'], options);
  assert.deepEqual(listInstancePorts(config).map((port) => port.port), [0, 0, 0, 0]);
});

test('relative paths are from the working directory in flags and from the file directory in files', () => {
  const path = write('conf/datanode.toml', 'data-dir = "state"\n');
  const fromFile = loadConfig('datanode', ['--config', path], options).config;
  assert.equal(fromFile.dataDir, join(workingDirectory, 'conf', 'state'));
  assert.deepEqual(fromFile.disks, [join(workingDirectory, 'conf', 'state', 'disk0')]);
  const fromFlag = loadConfig('datanode', ['--config', path, '--data-dir', 'elsewhere', '--disks', 'd1,/abs/d2'], options).config;
  assert.equal(fromFlag.dataDir, join(workingDirectory, 'elsewhere'));
  assert.deepEqual(fromFlag.disks, [join(workingDirectory, 'd1'), '/abs/d2']);
});

test('the instance name and data directory default from role and port', () => {
  const { config } = loadConfig('datanode', ['--port', '17311'], options);
  assert.equal(config.instance, 'datanode-17311');
  assert.equal(config.dataDir, join(workingDirectory, 'atoll-data', 'datanode-17311'));
  assert.equal(loadConfig('datanode', ['--port', '17311', '--instance', 'dn-a'], options).config.dataDir, join(workingDirectory, 'atoll-data', 'dn-a'));
});

test('a secret is read from its file, and the file beats an inline value only from a higher source', () => {
  const secretPath = write('secret', 's3cret\n');
  assert.equal(loadConfig('master', ['--cluster-secret-file', secretPath], options).config.clusterSecret, 's3cret');
  const inFile = write('secret-inline.toml', 'cluster-secret = "from-file"\n');
  const flagFileWins = loadConfig('master', ['--config', inFile, '--cluster-secret-file', secretPath], options).config;
  assert.equal(flagFileWins.clusterSecret, 's3cret');
  const inFileAsPath = write('secret-path.toml', `admin-token-file = "${secretPath}"\n`);
  const flagValueWins = loadConfig('master', ['--config', inFileAsPath, '--admin-token', 'tok'], options).config;
  assert.equal(flagValueWins.adminToken, 'tok');
  assert.equal(flagValueWins.adminTokenFile, undefined);
  assert.deepEqual(messagesOf(() => loadConfig('master', ['--cluster-secret', 'a', '--cluster-secret-file', secretPath], options)), [
    'config: cluster-secret-file: give either cluster-secret or cluster-secret-file, not both (from flag --cluster-secret-file)',
  ]);
  assert.deepEqual(messagesOf(() => loadConfig('datanode', ['--cluster-secret-file', 'nope'], options)), [
    `config: cluster-secret-file: cannot read ${join(workingDirectory, 'nope')}: no such file (from flag --cluster-secret-file)`,
  ]);
  assert.deepEqual(messagesOf(() => loadConfig('master', ['--cluster-secret='], options)), [
    'config: cluster-secret: must not be empty (leave the key out instead) (from flag --cluster-secret)',
  ]);
});

test('arguments that are not flags are returned as positional', () => {
  const { positional } = loadConfig('metanode', ['first', '--port', '1', 'second', '--', '--not-a-flag'], options);
  assert.deepEqual(positional, ['first', 'second', '--not-a-flag']);
});

// A schema with the key types no server role uses yet.
interface ToolConfig {
  readonly verbose: boolean;
  readonly timeout: number;
  readonly tags: readonly string[];
}
const toolSchema = defineSchema<ToolConfig>({
  name: 'tool',
  keys: {
    verbose: booleanKey({ default: false, description: 'say more' }),
    timeout: durationKey({ default: 5000, min: 100, description: 'how long to wait' }),
    tags: stringListKey({ default: ['a'], description: 'labels' }),
  },
});

test('on/off keys are set by --flag, --no-flag and file booleans', () => {
  assert.equal(resolveConfig(toolSchema, ['--verbose'], options).config.verbose, true);
  const path = write('tool.toml', 'verbose = true\ntimeout = "1m30s"\ntags = ["x", "y"]\n');
  const fromFile = resolveConfig(toolSchema, ['--config', path], options).config;
  assert.deepEqual({ ...fromFile, tags: [...fromFile.tags] }, { verbose: true, timeout: 90_000, tags: ['x', 'y'] });
  assert.equal(resolveConfig(toolSchema, ['--config', path, '--no-verbose'], options).config.verbose, false);
  const quoted = write('tool-quoted.toml', 'verbose = "yes"\n');
  assert.deepEqual(messagesOf(() => resolveConfig(toolSchema, ['--config', quoted, '--verbose=maybe'], options)), [
    'config: verbose: must be true or false, got "maybe" (from flag --verbose)',
  ]);
});

test('durations are parsed to milliseconds and checked against their range', () => {
  assert.equal(resolveConfig(toolSchema, ['--timeout', '200ms'], options).config.timeout, 200);
  assert.deepEqual(messagesOf(() => resolveConfig(toolSchema, ['--timeout', '5'], options)), [
    'config: timeout: must be a duration like 200ms, 5s or 1m30s, got "5" (give a unit: ms, s, m, h or d) (from flag --timeout)',
  ]);
  assert.deepEqual(messagesOf(() => resolveConfig(toolSchema, ['--timeout', '10ms'], options)), [
    'config: timeout: must be at least 100ms, got 10ms (from flag --timeout)',
  ]);
});

test('an optional key is absent unless given, and checked like its inner key when given', () => {
  const schema = defineSchema<{ capacity: number | undefined }>({
    name: 'optional-test',
    keys: { capacity: optionalKey(byteSizeKey({ default: 1, min: 1024, description: 'a size' })) },
  });
  assert.equal(resolveConfig(schema, [], options).config.capacity, undefined);
  assert.equal(resolveConfig(schema, ['--capacity', '2KiB'], options).config.capacity, 2048);
  assert.match(errorOf(() => resolveConfig(schema, ['--capacity', '10'], options)).message, /capacity: must be at least 1KiB, got 10B/);
  assert.match(describeSchemaFlags(schema), /--capacity <size>\s+a size \[default: none\]/);
});

test('help text lists every flag of a role with its default', () => {
  for (const role of serverRoles) {
    const help = describeFlags(role);
    for (const field of Object.keys(roleSchemas[role].keys)) assert.match(help, new RegExp(`--${kebabCase(field)}\\b`), `${role} ${field}`);
  }
  const datanode = describeFlags('datanode');
  assert.match(datanode, /-p, --masters, --master <host:port,\.\.\.>/);
  assert.match(datanode, /\[default: <data-dir>\/disk0\]/);
  assert.match(describeFlags('master'), /--raft-heartbeat-port <port> +port for Raft heartbeats.*\[default: 17030\]/);
  assert.match(describeSchemaFlags(toolSchema), /--\[no-\]verbose +say more \[default: false\]/);
});

test('redacting a config hides secrets and keeps the rest', () => {
  const { config } = loadConfig('master', ['--cluster-secret', 'hush', '--admin-token', 'tok'], options);
  const shown = redactConfig('master', config);
  assert.equal(shown.clusterSecret, '(hidden)');
  assert.equal(shown.adminToken, '(hidden)');
  assert.equal(shown.port, 17010);
  assert.equal(JSON.stringify(shown).includes('hush'), false);
});
