// Child process for logger.test.ts, for the behaviours that only show at process level
// (what reaches stderr or a file when the process exits, whether it crashes).
// Usage: node logger-process-fixture.js <scenario> [stderr | file path]
//   fatal-then-exit: logs many lines and a fatal one, then exits at once with 70, the
//                    way a server dies on a broken invariant;
//   log-after-close: logs to the file, closes it, logs again (that line goes to stderr);
//   device-full:     logs to /dev/full (every write fails with ENOSPC), then prints
//                    `still running` on stdout.
import { closeLogger, createLogger } from './logger.js';

const scenario = process.argv[2];
const target = process.argv[3] ?? 'stderr';

function loggerFor(destination: string) {
  return createLogger({
    role: 'metanode',
    instance: 'fixture',
    level: 'info',
    destination: destination === 'stderr' ? 'stderr' : { filePath: destination },
  });
}

switch (scenario) {
  case 'fatal-then-exit': {
    const logger = loggerFor(target);
    // Enough lines that an asynchronous writer would still have some buffered at exit.
    for (let line = 0; line < 1000; line += 1) logger.info({ line }, 'filler');
    logger.fatal({ err: new Error('invariant broken') }, 'fatal right before exit');
    process.exit(70);
  }
  case 'log-after-close': {
    const logger = loggerFor(target);
    logger.info('before close');
    await closeLogger(logger);
    logger.info('after close');
    break;
  }
  case 'device-full': {
    const logger = loggerFor('/dev/full');
    for (let line = 0; line < 3; line += 1) logger.info({ line }, 'lost');
    // The error is emitted on the next tick; give it that tick before declaring survival.
    await new Promise((resolve) => setImmediate(resolve));
    process.stdout.write('still running\n');
    break;
  }
  default:
    process.stderr.write(`unknown scenario: ${String(scenario)}\n`);
    process.exit(2);
}
