/** Builds generated source line by line with two-space indentation. */
export class CodeWriter {
  private readonly lines: string[] = [];
  private depth = 0;

  line(text = ''): void {
    this.lines.push(text === '' ? '' : '  '.repeat(this.depth) + text);
  }

  /** Writes `opening`, runs `body` one level deeper, then writes `closing`. */
  block(opening: string, body: () => void, closing = '}'): void {
    this.line(opening);
    this.depth++;
    body();
    this.depth--;
    this.line(closing);
  }

  indent(body: () => void): void {
    this.depth++;
    body();
    this.depth--;
  }

  /** A TSDoc block from a .proto comment; `*\/` inside the text is escaped. */
  doc(comment: string | undefined, deprecated = false): void {
    const lines = comment === undefined ? [] : comment.split('\n');
    while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
    if (deprecated) lines.push('@deprecated');
    if (lines.length === 0) return;
    const escaped = lines.map((text) => text.replace(/\*\//g, '*\\/'));
    if (escaped.length === 1) {
      this.line(`/** ${escaped[0]} */`);
      return;
    }
    this.line('/**');
    for (const text of escaped) this.line(text === '' ? ' *' : ` * ${text}`);
    this.line(' */');
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

/** A single-quoted JS string literal. */
export function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}
