/**
 * Recursive-descent parser for the proto3 subset AtollFS uses (see proto/README.md).
 * Anything outside the subset is rejected with its position rather than ignored, so a
 * .proto that parses here means what it says.
 */
import {
  isScalarType,
  type EnumDeclaration,
  type EnumValueDeclaration,
  type FieldDeclaration,
  type FieldLabel,
  type ImportDeclaration,
  type MessageDeclaration,
  type MethodDeclaration,
  type OneofDeclaration,
  type ProtoFile,
  type ReservedDeclaration,
  type ScalarType,
  type ServiceDeclaration,
  type TypeReference,
} from './ast.js';
import { ProtoParseError, type SourcePosition } from './parse-error.js';
import { tokenize, type Token } from './tokenizer.js';

/** Largest field number protobuf allows (2^29 - 1). */
const fieldNumberMax = 0x1fff_ffff;
/** Field numbers protobuf reserves for its own implementation. */
const implementationReservedFrom = 19_000;
const implementationReservedTo = 19_999;
const int32Min = -0x8000_0000;
const int32Max = 0x7fff_ffff;
/** Method ids are positive and fit a signed 32-bit field of any RPC frame format. */
const methodIdMax = 0x7fff_ffff;

const mapKeyTypes: ReadonlySet<ScalarType> = new Set<ScalarType>([
  'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string',
]);

/** Option values are only inspected for the few options we honor; others are skipped. */
type OptionValue = { kind: 'identifier' | 'integer' | 'float' | 'string' | 'aggregate'; text: string; token: Token };

interface ParsedOption {
  name: string;
  value: OptionValue;
  token: Token;
}

export function parseProto(text: string, fileName: string): ProtoFile {
  return new Parser(tokenize(text, fileName)).parseFile(fileName);
}

class Parser {
  private index = 0;

  constructor(private readonly tokens: Token[]) {}

  // ---- token helpers -------------------------------------------------------

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index++;
    return token;
  }

  private fail(message: string, token: Token | SourcePosition = this.peek()): never {
    throw new ProtoParseError(message, 'position' in token ? token.position : token);
  }

  private describe(token: Token): string {
    if (token.kind === 'end') return 'end of file';
    if (token.kind === 'string') return `string ${JSON.stringify(token.text)}`;
    return `'${token.text}'`;
  }

  private isSymbol(symbol: string, offset = 0): boolean {
    const token = this.peek(offset);
    return token.kind === 'symbol' && token.text === symbol;
  }

  private isKeyword(word: string, offset = 0): boolean {
    const token = this.peek(offset);
    return token.kind === 'identifier' && token.text === word;
  }

  private expectSymbol(symbol: string): Token {
    if (!this.isSymbol(symbol)) this.fail(`expected '${symbol}' but found ${this.describe(this.peek())}`);
    return this.next();
  }

  private expectKeyword(word: string): Token {
    if (!this.isKeyword(word)) this.fail(`expected '${word}' but found ${this.describe(this.peek())}`);
    return this.next();
  }

  /** A simple (undotted) identifier: names of declarations. */
  private expectName(what: string): Token {
    const token = this.peek();
    if (token.kind !== 'identifier' || token.text.includes('.')) {
      this.fail(`expected ${what} but found ${this.describe(token)}`);
    }
    return this.next();
  }

  private expectString(what: string): Token {
    const token = this.peek();
    if (token.kind !== 'string') this.fail(`expected ${what} (a string) but found ${this.describe(token)}`);
    this.next();
    // Adjacent string literals concatenate, as in C.
    let text = token.text;
    while (this.peek().kind === 'string') text += this.next().text;
    return { ...token, text };
  }

  private expectInteger(what: string, allowNegative: boolean): { value: number; token: Token } {
    const first = this.peek();
    let negative = false;
    if (allowNegative && this.isSymbol('-')) {
      this.next();
      negative = true;
    }
    const token = this.peek();
    if (token.kind !== 'integer') this.fail(`expected ${what} (an integer) but found ${this.describe(token)}`);
    this.next();
    const text = token.text;
    let magnitude: number;
    if (/^0[xX]/.test(text)) magnitude = parseInt(text.slice(2), 16);
    else if (/^0[0-7]+$/.test(text)) magnitude = parseInt(text.slice(1), 8);
    else if (/^0[0-9]+$/.test(text)) this.fail(`invalid octal literal '${text}'`, token);
    else magnitude = parseInt(text, 10);
    if (!Number.isSafeInteger(magnitude!)) this.fail(`${what} ${text} is too large`, token);
    return { value: negative ? -magnitude! : magnitude!, token: first };
  }

  private skipEmptyStatements(): void {
    while (this.isSymbol(';')) this.next();
  }

  // ---- file ----------------------------------------------------------------

  parseFile(fileName: string): ProtoFile {
    const first = this.peek();
    if (!this.isKeyword('syntax')) {
      this.fail(`expected 'syntax = "proto3";' as the first statement but found ${this.describe(first)}`);
    }
    this.next();
    this.expectSymbol('=');
    const syntax = this.expectString('syntax');
    if (syntax.text !== 'proto3') this.fail(`only proto3 is supported, not "${syntax.text}"`, syntax);
    this.expectSymbol(';');

    let packageName: string | undefined;
    const imports: ImportDeclaration[] = [];
    const messages: MessageDeclaration[] = [];
    const enums: EnumDeclaration[] = [];
    const services: ServiceDeclaration[] = [];

    for (;;) {
      this.skipEmptyStatements();
      const token = this.peek();
      if (token.kind === 'end') break;
      if (token.kind !== 'identifier') this.fail(`expected a top-level declaration but found ${this.describe(token)}`);
      switch (token.text) {
        case 'package': {
          if (packageName !== undefined) this.fail('duplicate package statement');
          this.next();
          const name = this.next();
          if (name.kind !== 'identifier' || name.text.startsWith('.')) this.fail(`expected a package name but found ${this.describe(name)}`, name);
          packageName = name.text;
          this.expectSymbol(';');
          break;
        }
        case 'import': {
          this.next();
          if (this.isKeyword('weak')) this.fail('weak imports are not supported');
          if (this.isKeyword('public')) this.fail('public imports are not supported: import each file you use');
          const path = this.expectString('import path');
          this.expectSymbol(';');
          imports.push({ path: path.text, position: token.position });
          break;
        }
        case 'option':
          this.parseOption();
          break;
        case 'message':
          messages.push(this.parseMessage());
          break;
        case 'enum':
          enums.push(this.parseEnum());
          break;
        case 'service':
          services.push(this.parseService());
          break;
        case 'extend':
          this.parseExtend();
          break;
        default:
          this.fail(`unexpected ${this.describe(token)} at top level`);
      }
    }
    return { fileName, packageName: packageName ?? '', imports, messages, enums, services, comment: first.leadingComment };
  }

  /**
   * `extend google.protobuf.XOptions { ... }` declares custom options such as
   * `method_id` for protoc; we read those options by name, so the block is skipped.
   * Any other extension is a proto2 feature and is rejected.
   */
  private parseExtend(): void {
    const keyword = this.next();
    const target = this.next();
    if (target.kind !== 'identifier' || !/^\.?google\.protobuf\.[A-Za-z]+Options$/.test(target.text)) {
      this.fail(`extensions are not supported (only 'extend google.protobuf.*Options' for custom options)`, keyword);
    }
    this.skipBalancedBraces();
  }

  private skipBalancedBraces(): void {
    const open = this.expectSymbol('{');
    let depth = 1;
    while (depth > 0) {
      const token = this.next();
      if (token.kind === 'end') this.fail("unterminated block: missing '}'", open);
      if (token.kind === 'symbol' && token.text === '{') depth++;
      if (token.kind === 'symbol' && token.text === '}') depth--;
    }
  }

  // ---- options -------------------------------------------------------------

  /** `option name = value;` */
  private parseOption(): ParsedOption {
    this.expectKeyword('option');
    const option = this.parseOptionAssignment();
    this.expectSymbol(';');
    return option;
  }

  /** `name = value` where name is `ident`, `(full.ident)` or `(full.ident).sub`. */
  private parseOptionAssignment(): ParsedOption {
    const token = this.peek();
    let name = '';
    if (this.isSymbol('(')) {
      this.next();
      const inner = this.next();
      if (inner.kind !== 'identifier') this.fail(`expected an option name but found ${this.describe(inner)}`, inner);
      this.expectSymbol(')');
      name = `(${inner.text.replace(/^\./, '')})`;
    } else {
      const plain = this.next();
      if (plain.kind !== 'identifier') this.fail(`expected an option name but found ${this.describe(plain)}`, plain);
      name = plain.text;
    }
    // Sub-field selection after a custom option: `(foo).bar.baz` lexes as one '.bar.baz' identifier.
    while (this.peek().kind === 'identifier' && this.peek().text.startsWith('.')) name += this.next().text;
    this.expectSymbol('=');
    return { name, value: this.parseOptionValue(), token };
  }

  private parseOptionValue(): OptionValue {
    const token = this.peek();
    if (this.isSymbol('{')) {
      this.skipBalancedBraces();
      return { kind: 'aggregate', text: '', token };
    }
    if (this.isSymbol('-') || this.isSymbol('+')) {
      const sign = this.next().text === '-' ? '-' : '';
      const number = this.next();
      if (number.kind !== 'integer' && number.kind !== 'float' && !(number.kind === 'identifier' && (number.text === 'inf' || number.text === 'nan'))) {
        this.fail(`expected a number after '${sign || '+'}' but found ${this.describe(number)}`, number);
      }
      return { kind: number.kind === 'integer' ? 'integer' : 'float', text: sign + number.text, token };
    }
    if (token.kind === 'string') return { kind: 'string', text: this.expectString('option value').text, token };
    if (token.kind === 'identifier' || token.kind === 'integer' || token.kind === 'float') {
      this.next();
      return { kind: token.kind, text: token.text, token };
    }
    this.fail(`expected an option value but found ${this.describe(token)}`);
  }

  private booleanOption(option: ParsedOption): boolean {
    if (option.value.kind !== 'identifier' || (option.value.text !== 'true' && option.value.text !== 'false')) {
      this.fail(`option ${option.name} must be true or false`, option.value.token);
    }
    return option.value.text === 'true';
  }

  /** `[name = value, ...]` after a field or enum value. */
  private parseBracketOptions(): ParsedOption[] {
    const options: ParsedOption[] = [];
    if (!this.isSymbol('[')) return options;
    this.next();
    for (;;) {
      options.push(this.parseOptionAssignment());
      if (this.isSymbol(',')) {
        this.next();
        continue;
      }
      this.expectSymbol(']');
      return options;
    }
  }

  // ---- messages ------------------------------------------------------------

  private parseMessage(): MessageDeclaration {
    const keyword = this.expectKeyword('message');
    const name = this.expectName('a message name');
    const message: MessageDeclaration = {
      name: name.text,
      fields: [],
      oneofs: [],
      messages: [],
      enums: [],
      reserved: { ranges: [], names: [] },
      deprecated: false,
      comment: keyword.leadingComment,
      position: name.position,
    };
    let deprecated = false;
    this.expectSymbol('{');
    for (;;) {
      this.skipEmptyStatements();
      if (this.isSymbol('}')) {
        this.next();
        break;
      }
      const token = this.peek();
      if (token.kind === 'end') this.fail(`missing '}' closing message ${message.name}`, keyword);
      if (token.kind !== 'identifier') this.fail(`expected a field or declaration in message ${message.name} but found ${this.describe(token)}`);
      switch (token.text) {
        case 'message':
          message.messages.push(this.parseMessage());
          continue;
        case 'enum':
          message.enums.push(this.parseEnum());
          continue;
        case 'oneof':
          this.parseOneof(message);
          continue;
        case 'reserved':
          this.parseReserved(message.reserved, 'field');
          continue;
        case 'option': {
          const option = this.parseOption();
          if (option.name === 'deprecated') deprecated = this.booleanOption(option);
          continue;
        }
        case 'extensions':
        case 'extend':
          this.fail('extensions are a proto2 feature and are not supported');
        case 'required':
          this.fail("'required' is not allowed in proto3");
        case 'group':
          this.fail('groups are a proto2 feature and are not supported');
        default:
          message.fields.push(this.parseField(undefined));
      }
    }
    return { ...message, deprecated };
  }

  private parseOneof(message: MessageDeclaration): void {
    const keyword = this.expectKeyword('oneof');
    const name = this.expectName('a oneof name');
    const oneof: OneofDeclaration = { name: name.text, comment: keyword.leadingComment, position: name.position };
    message.oneofs.push(oneof);
    this.expectSymbol('{');
    let count = 0;
    for (;;) {
      this.skipEmptyStatements();
      if (this.isSymbol('}')) {
        this.next();
        break;
      }
      if (this.peek().kind === 'end') this.fail(`missing '}' closing oneof ${oneof.name}`, keyword);
      if (this.isKeyword('option')) {
        this.parseOption();
        continue;
      }
      if (this.isKeyword('repeated') || this.isKeyword('optional')) this.fail(`fields in oneof ${oneof.name} cannot be '${this.peek().text}'`);
      if (this.isKeyword('map')) this.fail(`map fields cannot be in oneof ${oneof.name}`);
      message.fields.push(this.parseField(oneof.name));
      count++;
    }
    if (count === 0) this.fail(`oneof ${oneof.name} has no fields`, keyword);
  }

  private parseField(oneof: string | undefined): FieldDeclaration {
    const first = this.peek();
    let label: FieldLabel = 'singular';
    if (this.isKeyword('repeated') || this.isKeyword('optional')) {
      // `optional` or `repeated` followed by '=' would be a field *named* so; proto allows it.
      if (!this.isSymbol('=', 2)) label = this.next().text as FieldLabel;
    }
    let mapKey: ScalarType | undefined;
    let type: TypeReference;
    if (this.isKeyword('map') && this.isSymbol('<', 1)) {
      if (label !== 'singular') this.fail(`map fields cannot be '${label}'`, first);
      this.next();
      this.next();
      const keyToken = this.next();
      if (keyToken.kind !== 'identifier' || !isScalarType(keyToken.text) || !mapKeyTypes.has(keyToken.text)) {
        this.fail(`map key type must be an integer type, bool or string, not ${this.describe(keyToken)}`, keyToken);
      }
      mapKey = keyToken.text as ScalarType;
      this.expectSymbol(',');
      if (this.isKeyword('map')) this.fail('map values cannot be maps');
      type = this.parseTypeReference();
      this.expectSymbol('>');
      label = 'repeated';
    } else {
      type = this.parseTypeReference();
    }
    const name = this.expectName('a field name');
    this.expectSymbol('=');
    const { value: number, token: numberToken } = this.expectInteger('field number', false);
    if (number < 1 || number > fieldNumberMax) this.fail(`field number ${number} is outside 1..${fieldNumberMax}`, numberToken);
    if (number >= implementationReservedFrom && number <= implementationReservedTo) {
      this.fail(`field number ${number} is reserved by protobuf (${implementationReservedFrom}..${implementationReservedTo})`, numberToken);
    }
    let packed: boolean | undefined;
    let deprecated = false;
    for (const option of this.parseBracketOptions()) {
      if (option.name === 'packed') packed = this.booleanOption(option);
      else if (option.name === 'deprecated') deprecated = this.booleanOption(option);
      else if (option.name === 'default') this.fail('default values are not allowed in proto3', option.token);
    }
    this.expectSymbol(';');
    return {
      name: name.text,
      number,
      label,
      type,
      mapKey,
      oneof,
      packed,
      deprecated,
      comment: first.leadingComment,
      position: name.position,
    };
  }

  private parseTypeReference(): TypeReference {
    const token = this.peek();
    if (token.kind !== 'identifier') this.fail(`expected a field type but found ${this.describe(token)}`);
    this.next();
    if (isScalarType(token.text)) return { kind: 'scalar', scalar: token.text };
    if (token.text === 'group') this.fail('groups are a proto2 feature and are not supported', token);
    return { kind: 'named', name: token.text, position: token.position };
  }

  private parseReserved(reserved: ReservedDeclaration, what: 'field' | 'enum value'): void {
    const keyword = this.expectKeyword('reserved');
    const ranges = reserved.ranges as Array<{ from: number; to: number }>;
    const names = reserved.names as string[];
    const numberMax = what === 'field' ? fieldNumberMax : int32Max;
    for (;;) {
      const token = this.peek();
      if (token.kind === 'string') {
        names.push(this.next().text);
      } else if (token.kind === 'identifier' && what === 'field') {
        // Editions allow bare identifiers in reserved names; accept them too.
        names.push(this.next().text);
      } else {
        const from = this.expectInteger(`reserved ${what} number`, what === 'enum value');
        let to = from.value;
        if (this.isKeyword('to')) {
          this.next();
          if (this.isKeyword('max')) {
            this.next();
            to = numberMax;
          } else {
            to = this.expectInteger(`reserved ${what} number`, what === 'enum value').value;
          }
        }
        if (to < from.value) this.fail(`reserved range ${from.value} to ${to} is empty`, from.token);
        ranges.push({ from: from.value, to });
      }
      if (this.isSymbol(',')) {
        this.next();
        continue;
      }
      if (!this.isSymbol(';')) this.fail(`expected ',' or ';' in reserved statement but found ${this.describe(this.peek())}`);
      this.next();
      break;
    }
    if (ranges.length === 0 && names.length === 0) this.fail('empty reserved statement', keyword);
  }

  // ---- enums ---------------------------------------------------------------

  private parseEnum(): EnumDeclaration {
    const keyword = this.expectKeyword('enum');
    const name = this.expectName('an enum name');
    const values: EnumValueDeclaration[] = [];
    const reserved: ReservedDeclaration = { ranges: [], names: [] };
    let allowAlias = false;
    let deprecated = false;
    this.expectSymbol('{');
    for (;;) {
      this.skipEmptyStatements();
      if (this.isSymbol('}')) {
        this.next();
        break;
      }
      const token = this.peek();
      if (token.kind === 'end') this.fail(`missing '}' closing enum ${name.text}`, keyword);
      if (this.isKeyword('option') && !this.isSymbol('=', 1)) {
        const option = this.parseOption();
        if (option.name === 'allow_alias') allowAlias = this.booleanOption(option);
        else if (option.name === 'deprecated') deprecated = this.booleanOption(option);
        continue;
      }
      if (this.isKeyword('reserved') && !this.isSymbol('=', 1)) {
        this.parseReserved(reserved, 'enum value');
        continue;
      }
      const valueName = this.expectName('an enum value name');
      this.expectSymbol('=');
      const { value: number, token: numberToken } = this.expectInteger('enum value', true);
      if (number < int32Min || number > int32Max) this.fail(`enum value ${number} does not fit int32`, numberToken);
      let valueDeprecated = false;
      for (const option of this.parseBracketOptions()) {
        if (option.name === 'deprecated') valueDeprecated = this.booleanOption(option);
      }
      this.expectSymbol(';');
      values.push({ name: valueName.text, number, deprecated: valueDeprecated, comment: token.leadingComment, position: valueName.position });
    }
    if (values.length === 0) this.fail(`enum ${name.text} has no values`, name);
    return { name: name.text, values, allowAlias, reserved, deprecated, comment: keyword.leadingComment, position: name.position };
  }

  // ---- services ------------------------------------------------------------

  private parseService(): ServiceDeclaration {
    const keyword = this.expectKeyword('service');
    const name = this.expectName('a service name');
    const methods: MethodDeclaration[] = [];
    let deprecated = false;
    this.expectSymbol('{');
    for (;;) {
      this.skipEmptyStatements();
      if (this.isSymbol('}')) {
        this.next();
        break;
      }
      const token = this.peek();
      if (token.kind === 'end') this.fail(`missing '}' closing service ${name.text}`, keyword);
      if (this.isKeyword('option')) {
        const option = this.parseOption();
        if (option.name === 'deprecated') deprecated = this.booleanOption(option);
        continue;
      }
      if (!this.isKeyword('rpc')) this.fail(`expected 'rpc' in service ${name.text} but found ${this.describe(token)}`);
      methods.push(this.parseMethod());
    }
    return { name: name.text, methods, deprecated, comment: keyword.leadingComment, position: name.position };
  }

  private parseMethod(): MethodDeclaration {
    const keyword = this.expectKeyword('rpc');
    const name = this.expectName('an rpc name');
    const requestType = this.parseMethodType(name.text);
    this.expectKeyword('returns');
    const responseType = this.parseMethodType(name.text);
    let methodId: number | undefined;
    let deprecated = false;
    if (this.isSymbol('{')) {
      this.next();
      for (;;) {
        this.skipEmptyStatements();
        if (this.isSymbol('}')) {
          this.next();
          break;
        }
        if (this.peek().kind === 'end') this.fail(`missing '}' closing rpc ${name.text}`, keyword);
        const option = this.parseOption();
        if (/^\((?:[A-Za-z_][A-Za-z0-9_]*\.)*method_id\)$/.test(option.name)) {
          if (methodId !== undefined) this.fail(`rpc ${name.text} declares method_id twice`, option.token);
          if (option.value.kind !== 'integer') this.fail(`method_id of rpc ${name.text} must be an integer`, option.value.token);
          const id = Number(option.value.text);
          if (!Number.isSafeInteger(id) || id < 1 || id > methodIdMax) {
            this.fail(`method_id ${option.value.text} of rpc ${name.text} is outside 1..${methodIdMax}`, option.value.token);
          }
          methodId = id;
        } else if (option.name === 'deprecated') {
          deprecated = this.booleanOption(option);
        }
      }
    } else {
      this.expectSymbol(';');
    }
    return { name: name.text, requestType, responseType, methodId, deprecated, comment: keyword.leadingComment, position: name.position };
  }

  private parseMethodType(methodName: string): TypeReference & { kind: 'named' } {
    this.expectSymbol('(');
    if (this.isKeyword('stream') && this.peek(1).kind === 'identifier') {
      this.fail(`streaming rpc ${methodName} is not supported`);
    }
    const token = this.peek();
    if (token.kind !== 'identifier' || isScalarType(token.text)) {
      this.fail(`expected a message type for rpc ${methodName} but found ${this.describe(token)}`);
    }
    this.next();
    this.expectSymbol(')');
    return { kind: 'named', name: token.text, position: token.position };
  }
}
