// Where a JSON text stops being JSON. Node 20's JSON.parse names a position for some
// errors and not for others ("Unexpected token 'x', ... is not valid JSON"), and a
// config error that does not say which line is broken sends the user reading the whole
// file. This scanner runs only after JSON.parse has failed, to find the line and a
// short reason; JSON.parse remains the parser of record.

export interface JsonSyntaxProblem {
  /** 0-based character offset of the first bad character (text length for a cut-off text). */
  readonly offset: number;
  readonly reason: string;
  /** 1-based line and column of `offset`. */
  readonly line: number;
  readonly column: number;
}

/** Nesting deeper than this is reported instead of recursing further. */
const nestingDepthMax = 512;

class SyntaxStop {
  constructor(readonly offset: number, readonly reason: string) {}
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let index = 0; index < offset && index < text.length; index++) {
    if (text[index] === '\n') {
      line++;
      lineStart = index + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Returns undefined when the text is valid JSON. */
export function findJsonSyntaxProblem(text: string): JsonSyntaxProblem | undefined {
  let position = 0;

  const describeHere = (): string => (position >= text.length ? 'unexpected end of file' : `unexpected ${JSON.stringify(text[position])}`);
  const stop = (reason: string = describeHere()): never => {
    throw new SyntaxStop(position, reason);
  };
  const skipWhitespace = (): void => {
    while (position < text.length && ' \t\n\r'.includes(text[position])) position++;
  };
  const expect = (character: string): void => {
    if (text[position] !== character) stop(`${describeHere()}, expected ${JSON.stringify(character)}`);
    position++;
  };

  const scanString = (): void => {
    expect('"');
    for (;;) {
      if (position >= text.length) stop('unterminated string');
      const character = text[position];
      if (character === '"') {
        position++;
        return;
      }
      if (character === '\\') {
        position++;
        const escaped = text[position];
        if (escaped === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(position + 1, position + 5))) stop('bad \\u escape in string');
          position += 5;
        } else if (escaped !== undefined && '"\\/bfnrt'.includes(escaped)) {
          position++;
        } else {
          stop('bad escape in string');
        }
      } else if (character < ' ') {
        stop(character === '\n' ? 'line break inside a string' : 'control character inside a string');
      } else {
        position++;
      }
    }
  };

  const scanValue = (depth: number): void => {
    if (depth > nestingDepthMax) stop(`nested more than ${nestingDepthMax} levels deep`);
    skipWhitespace();
    const character = text[position];
    if (character === '{') {
      position++;
      skipWhitespace();
      if (text[position] === '}') {
        position++;
        return;
      }
      for (;;) {
        skipWhitespace();
        if (text[position] !== '"') stop(`${describeHere()}, expected a "quoted" key`);
        scanString();
        skipWhitespace();
        expect(':');
        scanValue(depth + 1);
        skipWhitespace();
        if (text[position] === ',') {
          position++;
          skipWhitespace();
          if (text[position] === '}') stop('trailing comma before "}"');
          continue;
        }
        expect('}');
        return;
      }
    }
    if (character === '[') {
      position++;
      skipWhitespace();
      if (text[position] === ']') {
        position++;
        return;
      }
      for (;;) {
        scanValue(depth + 1);
        skipWhitespace();
        if (text[position] === ',') {
          position++;
          skipWhitespace();
          if (text[position] === ']') stop('trailing comma before "]"');
          continue;
        }
        expect(']');
        return;
      }
    }
    if (character === '"') return scanString();
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, position)) {
        position += literal.length;
        return;
      }
    }
    const number = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(position));
    if (number !== null) {
      position += number[0].length;
      return;
    }
    stop();
  };

  try {
    scanValue(0);
    skipWhitespace();
    if (position < text.length) stop(`${describeHere()} after the end of the value`);
    return undefined;
  } catch (error) {
    if (!(error instanceof SyntaxStop)) throw error;
    return { offset: error.offset, reason: error.reason, ...lineAndColumn(text, error.offset) };
  }
}
