// Why the instance HTTP server could not bind. Every instance has four ports, so the
// message says which one it was and for which instance: "address in use" alone sends
// the operator looking at the wrong port.

export class HttpListenError extends Error {
  override readonly name = 'HttpListenError';
  /** The system error code: EADDRINUSE, EACCES, EADDRNOTAVAIL, ... */
  readonly code: string;
  readonly host: string;
  readonly port: number;

  constructor(options: { role: string; instance: string; host: string; port: number; cause: unknown }) {
    const code = systemErrorCode(options.cause);
    super(`cannot start HTTP server of ${options.role} ${options.instance}: ${describeFailure(code, options.host, options.port)}`, {
      cause: options.cause,
    });
    this.code = code;
    this.host = options.host;
    this.port = options.port;
  }
}

function describeFailure(code: string, host: string, port: number): string {
  const where = `HTTP port ${port} on ${host}`;
  switch (code) {
    case 'EADDRINUSE':
      return `${where} is already in use (EADDRINUSE); another process or instance holds it, choose another HTTP port`;
    case 'EACCES':
      return `${where} needs privileges this process lacks (EACCES); use a port above 1023`;
    case 'EADDRNOTAVAIL':
      return `${where}: the address ${host} is not on this host (EADDRNOTAVAIL)`;
    default:
      return `${where}: listen failed (${code})`;
  }
}

function systemErrorCode(cause: unknown): string {
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}
