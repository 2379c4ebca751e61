// Entry point of the `atoll` program: one binary, the role chosen by sub-command.
export async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write('usage: atoll <command> [options]\n');
    return argv.length === 0 ? 1 : 0;
  }
  process.stderr.write(`atoll: unknown command '${argv[0]}' (see atoll --help)\n`);
  return 1;
}
