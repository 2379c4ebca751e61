// The example deployments in examples/ load through the real loader and pass the
// one-host check, host by host, so they cannot rot as keys change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatHostPort, loadConfig, type DatanodeConfig, type MasterConfig, type MetanodeConfig } from '../config/index.js';
import { checkConfigFiles, parseConfigFileArgument, type ConfigFileArgument } from './config-command.js';

// The examples sit at the repository root, the compiled test in dist/src/cli/.
const examplesDir = fileURLToPath(new URL('../../../examples/', import.meta.url));
const atoll = fileURLToPath(new URL('../../../bin/atoll.js', import.meta.url));

/** Directories holding .toml files: one host each. */
async function hostDirectories(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    assert.ok(depth < 4, `examples nest too deep at ${dir}`);
    const entries = await readdir(dir, { withFileTypes: true });
    if (entries.some((entry) => entry.isFile() && entry.name.endsWith('.toml'))) found.push(dir);
    for (const entry of entries) if (entry.isDirectory()) await walk(join(dir, entry.name), depth + 1);
  };
  await walk(root, 0);
  return found.sort();
}

/** A copy of the examples with the secret files an operator would create next to them. */
async function examplesWithSecrets(): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'atoll-examples-'));
  await cp(examplesDir, copy, { recursive: true });
  for (const dir of await hostDirectories(copy)) {
    await writeFile(join(dir, 'cluster.secret'), 'example-cluster-secret-0123456789abcdef\n');
    await writeFile(join(dir, 'admin.token'), 'example-admin-token-0123456789abcdef\n');
  }
  return copy;
}

async function tomlFiles(dir: string): Promise<ConfigFileArgument[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.toml')).sort();
  return names.map((name) => {
    const parsed = parseConfigFileArgument(join(dir, name));
    assert.ok(typeof parsed !== 'string', parsed as string);
    return parsed;
  });
}

test('every example config loads and every example host passes atoll config check', async () => {
  const root = await examplesWithSecrets();
  try {
    const hosts = await hostDirectories(root);
    assert.deepEqual(hosts.map((dir) => relative(root, dir)), ['multi-host/host-a', 'multi-host/host-b', 'multi-host/host-c', 'single-host']);
    for (const dir of hosts) {
      const report = checkConfigFiles(await tomlFiles(dir));
      assert.deepEqual(report.problems, [], `${relative(root, dir)}: ${report.problems.map((problem) => problem.message).join('\n')}`);
      assert.ok(report.instances.length >= 3, relative(root, dir));
    }
    // The same through the command, as the example READMEs run it.
    const single = join(root, 'single-host');
    const result = spawnSync(process.execPath, [atoll, 'config', 'check', ...(await readdir(single)).filter((name) => name.endsWith('.toml'))], { cwd: single, encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^9 instances fit one host/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the single-host example: three of each role on one address, masters that list each other, nodes that list every master', async () => {
  const root = await examplesWithSecrets();
  try {
    const report = checkConfigFiles(await tomlFiles(join(root, 'single-host')));
    const roles = report.instances.map((instance) => instance.role).sort();
    assert.deepEqual(roles, ['datanode', 'datanode', 'datanode', 'master', 'master', 'master', 'metanode', 'metanode', 'metanode']);
    assert.deepEqual(new Set(report.instances.map((instance) => instance.host)), new Set(['127.0.0.1']));
    assertMastersAgree(await loadAll(join(root, 'single-host')));
    // A clash is found: the same files twice share everything.
    const twice = checkConfigFiles([...(await tomlFiles(join(root, 'single-host'))), ...(await tomlFiles(join(root, 'single-host')))]);
    assert.ok(twice.problems.length >= 9 * 3, `${twice.problems.length} problems`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the multi-host example: a master on each of three hosts, two instances of a role on one host, every node lists every master', async () => {
  const root = await examplesWithSecrets();
  try {
    const all: Loaded[] = [];
    for (const host of ['host-a', 'host-b', 'host-c']) {
      const loaded = await loadAll(join(root, 'multi-host', host));
      assert.equal(loaded.filter((entry) => entry.role === 'master').length, 1, `${host} runs one master`);
      assert.equal(new Set(loaded.map((entry) => entry.config.host)).size, 1, `${host} has one address`);
      all.push(...loaded);
    }
    assert.equal(new Set(all.map((entry) => entry.config.host)).size, 3);
    assertMastersAgree(all);
    const perHostAndRole = new Map<string, number>();
    for (const entry of all) perHostAndRole.set(`${entry.config.host}/${entry.role}`, (perHostAndRole.get(`${entry.config.host}/${entry.role}`) ?? 0) + 1);
    assert.ok([...perHostAndRole.values()].some((count) => count >= 2), 'some host runs two instances of a role');
    assert.equal(new Set(all.map((entry) => entry.config.instance)).size, all.length, 'instance names are unique across the cluster');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

interface Loaded {
  readonly role: 'master' | 'metanode' | 'datanode';
  readonly config: MasterConfig | MetanodeConfig | DatanodeConfig;
}

async function loadAll(dir: string): Promise<Loaded[]> {
  return (await tomlFiles(dir)).map(({ role, file }) => ({ role, config: loadConfig(role, ['--config', file]).config }));
}

function assertMastersAgree(all: readonly Loaded[]): void {
  const masters = all.filter((entry) => entry.role === 'master').map((entry) => entry.config as MasterConfig);
  assert.equal(masters.length, 3);
  const addresses = masters.map((master) => formatHostPort({ host: master.host, port: master.port })).sort();
  for (const master of masters) assert.deepEqual(master.peers.map(formatHostPort).sort(), addresses, `${master.instance} lists every master, itself included`);
  for (const entry of all.filter((item) => item.role !== 'master')) {
    assert.deepEqual((entry.config as MetanodeConfig).masters.map(formatHostPort).sort(), addresses, `${entry.config.instance} lists every master`);
  }
}

test('the systemd units run atoll <role> --config /etc/atoll/<instance>.toml, and every example file is named after its instance', async () => {
  const systemdDir = join(examplesDir, 'systemd');
  const units = (await readdir(systemdDir)).sort();
  assert.deepEqual(units, ['atoll-datanode@.service', 'atoll-master@.service', 'atoll-metanode@.service']);
  for (const unit of units) {
    const role = /^atoll-([a-z]+)@\.service$/.exec(unit)![1];
    const text = readFileSync(join(systemdDir, unit), 'utf8');
    assert.match(text, new RegExp(`^ExecStart=/usr/bin/atoll ${role} --config /etc/atoll/%i\\.toml$`, 'm'), unit);
  }
  const root = await examplesWithSecrets();
  try {
    for (const dir of await hostDirectories(root)) {
      for (const { role, file } of await tomlFiles(dir)) {
        assert.equal(`${loadConfig(role, ['--config', file]).config.instance}.toml`, basename(file), `${file}: atoll-${role}@<instance> reads /etc/atoll/<instance>.toml`);
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the container arguments of the Kubernetes example load through the config loader', async () => {
  const manifest = readFileSync(join(examplesDir, 'kubernetes', 'atoll.yaml'), 'utf8');
  const secrets = await mkdtemp(join(tmpdir(), 'atoll-k8s-'));
  try {
    await writeFile(join(secrets, 'cluster.secret'), 'k8s-example-secret-0123456789abcdef\n');
    await writeFile(join(secrets, 'admin.token'), 'k8s-example-token-0123456789abcdef\n');
    const roles: string[] = [];
    for (const document of manifest.split(/^---$/m)) {
      const argsAt = document.indexOf('\n          args:\n');
      if (argsAt < 0) continue;
      const args: string[] = [];
      for (const line of document.slice(argsAt).split('\n').slice(2)) {
        const item = /^ {12}- "(.*)"$/.exec(line);
        if (item === null) break;
        args.push(item[1]!.replace('$(POD_NAME)', 'atoll-pod-0').replace('$(NODE_ZONE)', 'zone-a').replace('/etc/atoll/secret', secrets));
      }
      assert.deepEqual(args.slice(0, 2), ['node', '/opt/atoll/bin/atoll.js']);
      const role = args[2] as 'master' | 'metanode' | 'datanode';
      const { config } = loadConfig(role, args.slice(3));
      assert.equal(config.instance, 'atoll-pod-0');
      assert.equal(config.host, `atoll-pod-0.atoll-${role}.atoll.svc.cluster.local`);
      assert.ok(document.includes(`path: /healthz, port: http`) && document.includes(`path: /readyz, port: http`), `${role}: probes on /healthz and /readyz`);
      assert.ok(document.includes(`{ name: http, containerPort: ${config.httpPort} }`), `${role}: the probes' port is the HTTP port`);
      roles.push(role);
    }
    assert.deepEqual(roles, ['master', 'metanode', 'datanode']);
  } finally {
    await rm(secrets, { recursive: true, force: true });
  }
});
