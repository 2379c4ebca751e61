// Where log lines go: stderr or a file, written synchronously (see logger.ts for why),
// and made safe for a server to depend on:
// - a log device that refuses writes (disk full, stderr pipe gone) is reported once on
//   fd 2 and never crashes the process: pino's sonic-boom stream emits 'error', and an
//   'error' nobody listens to is an uncaught exception;
// - lines waiting for a refusing device are bounded (logBufferBytesMax), then dropped;
// - a log file that cannot be opened fails createLogger with the path in the message
//   (sonic-boom in sync mode would tell only an 'error' listener and drop every line);
// - a line logged after the file was closed goes to stderr instead of throwing.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino } from 'pino';

/** Bytes of log lines held in memory while the log device refuses writes; beyond, lines are dropped. */
export const logBufferBytesMax = 16 * 1024 * 1024;

// pino's file destination, named through pino so that we do not import its dependency.
type SonicBoomStream = ReturnType<typeof pino.destination>;

export function openStderrDestination(): pino.DestinationStream {
  const stream = pino.destination({ dest: 2, sync: true, maxLength: logBufferBytesMax });
  reportFailuresOnce(stream, 'stderr');
  return stream;
}

export class LogFile implements pino.DestinationStream {
  readonly filePath: string;
  #stream: SonicBoomStream | undefined;

  constructor(filePath: string) {
    this.filePath = filePath;
    try {
      mkdirSync(dirname(filePath), { recursive: true });
      closeSync(openSync(filePath, 'a'));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new Error(`cannot open log file ${filePath}: ${typeof code === 'string' ? code : String(error)}`, { cause: error });
    }
    this.#stream = pino.destination({ dest: filePath, sync: true, append: true, maxLength: logBufferBytesMax });
    reportFailuresOnce(this.#stream, filePath);
  }

  write(line: string): void {
    if (this.#stream === undefined) writeToStderr(line);
    else this.#stream.write(line);
  }

  /** Opens the path again, after logrotate renamed the file. */
  reopen(): void {
    this.#stream?.reopen();
  }

  /** Flushes and closes the file; later lines go to stderr. A second close does nothing. */
  async close(): Promise<void> {
    const stream = this.#stream;
    if (stream === undefined) return;
    this.#stream = undefined;
    await new Promise<void>((resolve) => {
      stream.once('close', () => resolve());
      // Already reported by reportFailuresOnce; the file is gone either way.
      stream.once('error', () => resolve());
      stream.end();
    });
  }
}

function reportFailuresOnce(stream: SonicBoomStream, where: string): void {
  let reported = false;
  const report = (message: string, error?: unknown) => {
    if (reported) return;
    reported = true;
    const code = (error as { code?: unknown } | undefined)?.code;
    writeToStderr(
      `${JSON.stringify({
        level: 'error',
        time: new Date().toISOString(),
        pid: process.pid,
        msg: message,
        ...(error === undefined ? {} : { err: { code: typeof code === 'string' ? code : undefined, message: String((error as Error).message ?? error) } }),
      })}\n`,
    );
  };
  stream.on('error', (error: unknown) => report(`cannot write log to ${where}; lines wait in memory up to ${logBufferBytesMax} bytes, then are dropped`, error));
  stream.on('drop', () => report(`log lines to ${where} are being dropped: more than ${logBufferBytesMax} bytes waiting`));
}

function writeToStderr(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    // Nowhere left to report to.
  }
}
