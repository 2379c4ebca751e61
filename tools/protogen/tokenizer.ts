/**
 * Splits .proto text into tokens with positions, and attaches to each token the
 * comment block that documents it, so declarations can carry their comments into the
 * generated TSDoc.
 *
 * Comment attachment follows protoc: a leading comment is the run of comments that
 * ends on the line directly above the token (no blank line between) and starts on a
 * line after the previous token. A comment after code on the same line documents that
 * code (trailing), not the next declaration, and is not attached.
 */
import { ProtoParseError, type SourcePosition } from './parse-error.js';

export type TokenKind = 'identifier' | 'integer' | 'float' | 'string' | 'symbol' | 'end';

export interface Token {
  readonly kind: TokenKind;
  /** Source text (for strings: the decoded value). */
  readonly text: string;
  readonly position: SourcePosition;
  /** Documentation comment directly above the token, without comment markers. */
  readonly leadingComment: string | undefined;
}

interface PendingComment {
  text: string;
  startLine: number;
  endLine: number;
}

const symbolCharacters = new Set(['{', '}', '(', ')', '[', ']', '<', '>', ';', ',', '=', '-', '+', ':', '/', '.']);

function isIdentifierStart(character: string): boolean {
  return (character >= 'a' && character <= 'z') || (character >= 'A' && character <= 'Z') || character === '_';
}

function isIdentifierPart(character: string): boolean {
  return isIdentifierStart(character) || isDigit(character);
}

function isDigit(character: string): boolean {
  return character >= '0' && character <= '9';
}

export function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  let line = 1;
  let lineStart = 0;
  let pending: PendingComment[] = [];
  let previousTokenLine = 0;

  const positionAt = (at: number): SourcePosition => ({ file, line, column: at - lineStart + 1 });
  const fail = (message: string, at: number): never => {
    throw new ProtoParseError(message, positionAt(at));
  };

  const leadingCommentFor = (tokenLine: number): string | undefined => {
    // Walk back from the comment nearest the token while the run has no blank lines.
    let nextLine = tokenLine;
    const run: PendingComment[] = [];
    for (let position = pending.length - 1; position >= 0; position--) {
      const comment = pending[position];
      if (comment.endLine < nextLine - 1 || comment.startLine <= previousTokenLine) break;
      run.unshift(comment);
      nextLine = comment.startLine;
    }
    pending = [];
    return run.length === 0 ? undefined : run.map((comment) => comment.text).join('\n');
  };

  const push = (kind: TokenKind, tokenText: string, start: number, startLine: number, startColumn: number): void => {
    const position = { file, line: startLine, column: startColumn };
    tokens.push({ kind, text: tokenText, position, leadingComment: leadingCommentFor(startLine) });
    previousTokenLine = line;
  };

  while (index < text.length) {
    const character = text[index];
    if (character === '\n') {
      index++;
      line++;
      lineStart = index;
      continue;
    }
    if (character === ' ' || character === '\t' || character === '\r' || character === '\f' || character === '\v') {
      index++;
      continue;
    }
    if (character === '/' && text[index + 1] === '/') {
      const end = text.indexOf('\n', index);
      const stop = end === -1 ? text.length : end;
      const body = text.slice(index + 2, stop).replace(/^ ?/, '').trimEnd();
      pending.push({ text: body, startLine: line, endLine: line });
      index = stop;
      continue;
    }
    if (character === '/' && text[index + 1] === '*') {
      const startLine = line;
      const end = text.indexOf('*/', index + 2);
      if (end === -1) fail('unterminated /* comment', index);
      const body = text.slice(index + 2, end);
      for (let at = index; at < end; at++) {
        if (text[at] === '\n') {
          line++;
          lineStart = at + 1;
        }
      }
      pending.push({ text: cleanBlockComment(body), startLine, endLine: line });
      index = end + 2;
      continue;
    }

    const start = index;
    const startLine = line;
    const startColumn = index - lineStart + 1;

    if (isIdentifierStart(character) || (character === '.' && isIdentifierStart(text[index + 1] ?? ''))) {
      // Dotted names (`foo.bar.Baz`, `.pkg.Type`) are one token.
      index++;
      while (index < text.length) {
        const next = text[index];
        if (isIdentifierPart(next)) index++;
        else if (next === '.' && isIdentifierStart(text[index + 1] ?? '')) index++;
        else break;
      }
      push('identifier', text.slice(start, index), start, startLine, startColumn);
      continue;
    }

    if (isDigit(character) || (character === '.' && isDigit(text[index + 1] ?? ''))) {
      let kind: TokenKind = 'integer';
      if (character === '0' && (text[index + 1] === 'x' || text[index + 1] === 'X')) {
        index += 2;
        const digitsStart = index;
        while (index < text.length && /[0-9a-fA-F]/.test(text[index])) index++;
        if (index === digitsStart) fail('hexadecimal literal without digits', start);
      } else {
        while (index < text.length && isDigit(text[index])) index++;
        if (text[index] === '.') {
          kind = 'float';
          index++;
          while (index < text.length && isDigit(text[index])) index++;
        }
        if (text[index] === 'e' || text[index] === 'E') {
          kind = 'float';
          index++;
          if (text[index] === '+' || text[index] === '-') index++;
          const exponentStart = index;
          while (index < text.length && isDigit(text[index])) index++;
          if (index === exponentStart) fail('float literal with an empty exponent', start);
        }
      }
      if (index < text.length && isIdentifierStart(text[index])) fail(`invalid number literal '${text.slice(start, index + 1)}'`, start);
      push(kind, text.slice(start, index), start, startLine, startColumn);
      continue;
    }

    if (character === '"' || character === "'") {
      index++;
      let value = '';
      for (;;) {
        if (index >= text.length || text[index] === '\n') fail('unterminated string literal', start);
        const next = text[index];
        if (next === character) {
          index++;
          break;
        }
        if (next === '\\') {
          const escaped = text[index + 1];
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v', '?': '?' };
          if (escaped === 'x' || escaped === 'X') {
            const hex = /^[0-9a-fA-F]{1,2}/.exec(text.slice(index + 2, index + 4));
            if (hex === null) fail('invalid \\x escape', index);
            value += String.fromCharCode(parseInt(hex![0], 16));
            index += 2 + hex![0].length;
          } else if (escaped !== undefined && /[0-7]/.test(escaped)) {
            const octal = /^[0-7]{1,3}/.exec(text.slice(index + 1, index + 4))![0];
            value += String.fromCharCode(parseInt(octal, 8));
            index += 1 + octal.length;
          } else if (escaped !== undefined && escaped in simple) {
            value += simple[escaped];
            index += 2;
          } else {
            fail(`invalid escape '\\${escaped ?? ''}'`, index);
          }
          continue;
        }
        value += next;
        index++;
      }
      push('string', value, start, startLine, startColumn);
      continue;
    }

    if (symbolCharacters.has(character)) {
      index++;
      push('symbol', character, start, startLine, startColumn);
      continue;
    }

    fail(`unexpected character '${character}'`, index);
  }
  tokens.push({ kind: 'end', text: '', position: positionAt(index), leadingComment: undefined });
  return tokens;
}

/**
 * Text of a block comment without its markers: a leading `*` column is removed if
 * every continuation line has one; otherwise the common indentation is.
 */
function cleanBlockComment(body: string): string {
  const lines = body.replace(/^\*/, '').split('\n');
  const continuation = lines.slice(1).filter((text) => text.trim() !== '');
  const starred = continuation.length > 0 && continuation.every((text) => /^\s*\*/.test(text));
  let cleaned: string[];
  if (starred) {
    cleaned = [lines[0], ...lines.slice(1).map((text) => text.replace(/^\s*\* ?/, ''))];
  } else {
    const indents = continuation.map((text) => /^\s*/.exec(text)![0].length);
    const common = indents.length === 0 ? 0 : Math.min(...indents);
    cleaned = [lines[0], ...lines.slice(1).map((text) => text.slice(Math.min(common, /^\s*/.exec(text)![0].length)))];
  }
  return cleaned.map((text) => text.trimEnd()).join('\n').trim();
}
