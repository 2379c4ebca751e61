/** Where something is in a .proto file; line and column are 1-based. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export function formatPosition(position: SourcePosition): string {
  return `${position.file}:${position.line}:${position.column}`;
}

/**
 * A .proto file the generator cannot accept, pointing at the offending token so an
 * editor can jump to it (`file:line:column: message`).
 */
export class ProtoParseError extends Error {
  readonly code = 'ATOLL_ERR_PROTO_PARSE';
  readonly position: SourcePosition;

  constructor(message: string, position: SourcePosition) {
    super(`${formatPosition(position)}: ${message}`);
    this.name = 'ProtoParseError';
    this.position = position;
  }
}
