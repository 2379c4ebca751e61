// Child process for logger.test.ts: logs a fatal line and exits at once, the way a
// server dies on a broken invariant. The test checks that the line was not lost.
// Usage: node logger-exit-fixture.js <stderr | file path>
import { createLogger } from './logger.js';

const target = process.argv[2] ?? 'stderr';
const logger = createLogger({
  role: 'metanode',
  instance: 'exit-fixture',
  level: 'info',
  destination: target === 'stderr' ? 'stderr' : { filePath: target },
});
// Enough lines that an asynchronous writer would still have some buffered at exit.
for (let line = 0; line < 1000; line += 1) logger.info({ line }, 'filler');
logger.fatal({ err: new Error('invariant broken') }, 'fatal right before exit');
process.exit(70);
