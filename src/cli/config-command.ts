// `atoll config check FILE...`: loads several instance configs meant for one host through
// the real loader and reports what would clash between them (ports, data directories and
// disks, instance names), naming both configs. Offline: nothing is started or bound.
import { basename } from 'node:path';
import { ConfigError, loadConfig, serverRoles, type ServerRole } from '../config/index.js';
import { checkHostInstances, type HostInstance, type HostProblem } from '../config/host-check.js';
import { exitCodes } from './exit-codes.js';

const usageText = `usage: atoll config check [--json] [<role>:]<file> ...

Loads the config files of the instances meant to run on one host (TOML or JSON, as
'atoll <role> --config <file>' reads them) and reports every port used twice, data
directory or disk shared by two instances (or one inside the other) and instance
name used twice, naming both files. Relative paths in a file are relative to the
file; a default data-dir is relative to the working directory, as at start.

The role of each file comes from a 'master:', 'metanode:' or 'datanode:' prefix, or
else from its name (it must contain exactly one of master, metanode, datanode).

  --json   print {"instances": [...], "problems": [...]} on one line

Exit codes: 0 the configs fit one host, 2 a clash or a config that does not load,
1 a bad command line.
`;

export interface ConfigFileArgument {
  readonly role: ServerRole;
  readonly file: string;
}

/** `metanode:path`, or a path whose file name names exactly one role. */
export function parseConfigFileArgument(argument: string): ConfigFileArgument | string {
  const prefixed = /^(master|metanode|datanode):(.+)$/.exec(argument);
  if (prefixed !== null) return { role: prefixed[1] as ServerRole, file: prefixed[2]! };
  const name = basename(argument);
  const named = serverRoles.filter((role) => name.includes(role));
  if (named.length === 1) return { role: named[0]!, file: argument };
  return `cannot tell the role of ${argument} from its name: write master:${argument}, metanode:${argument} or datanode:${argument}`;
}

interface CheckReport {
  readonly instances: Array<{ file: string; role: ServerRole; instance: string; host: string; ports: Record<string, number>; dataDir: string; disks?: readonly string[] }>;
  readonly problems: Array<{ kind: HostProblem['kind'] | 'config'; files: readonly string[]; message: string }>;
}

/** Loads and checks; pure apart from reading the files. */
export function checkConfigFiles(files: readonly ConfigFileArgument[]): CheckReport {
  const instances: HostInstance[] = [];
  const report: CheckReport = { instances: [], problems: [] };
  for (const { role, file } of files) {
    try {
      const { config } = loadConfig(role, ['--config', file]);
      instances.push({ label: file, role, config });
      const disks = 'disks' in config ? { disks: config.disks } : {};
      report.instances.push({
        file,
        role,
        instance: config.instance,
        host: config.host,
        ports: { port: config.port, 'http-port': config.httpPort, 'raft-heartbeat-port': config.raftHeartbeatPort, 'raft-replica-port': config.raftReplicaPort },
        dataDir: config.dataDir,
        ...disks,
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      report.problems.push({ kind: 'config', files: [file], message: `${file} (${role}): ${error.message.replace(/\n/g, `\n${file} (${role}): `)}` });
    }
  }
  for (const problem of checkHostInstances(instances)) report.problems.push({ kind: problem.kind, files: problem.labels, message: problem.message });
  return report;
}

export async function configCommand(argv: readonly string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h' || rest.includes('--help') || rest.includes('-h')) {
    (verb === undefined ? process.stderr : process.stdout).write(usageText);
    return verb === undefined ? exitCodes.usage : exitCodes.ok;
  }
  if (verb !== 'check') {
    process.stderr.write(`atoll config: unknown verb '${verb}' (the verb is check; see atoll config --help)\n`);
    return exitCodes.usage;
  }
  const json = rest.includes('--json');
  const arguments_ = rest.filter((argument) => argument !== '--json');
  const unknownFlag = arguments_.find((argument) => argument.startsWith('-'));
  if (unknownFlag !== undefined) {
    process.stderr.write(`atoll config check: unknown option ${unknownFlag} (see atoll config --help)\n`);
    return exitCodes.usage;
  }
  if (arguments_.length === 0) {
    process.stderr.write('atoll config check: name at least one config file (see atoll config --help)\n');
    return exitCodes.usage;
  }
  const files: ConfigFileArgument[] = [];
  for (const argument of arguments_) {
    const parsed = parseConfigFileArgument(argument);
    if (typeof parsed === 'string') {
      process.stderr.write(`atoll config check: ${parsed}\n`);
      return exitCodes.usage;
    }
    files.push(parsed);
  }
  const report = checkConfigFiles(files);
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else if (report.problems.length === 0) {
    process.stdout.write(`${report.instances.length} ${report.instances.length === 1 ? 'instance' : 'instances'} fit one host: no shared port, directory or instance name\n`);
  } else {
    process.stdout.write(`${report.problems.map((problem) => problem.message).join('\n')}\n`);
  }
  if (report.problems.length > 0) process.stderr.write(`atoll config check: ${report.problems.length} ${report.problems.length === 1 ? 'problem' : 'problems'}\n`);
  return report.problems.length === 0 ? exitCodes.ok : exitCodes.problemsFound;
}
