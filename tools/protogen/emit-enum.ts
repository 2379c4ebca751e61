/** Emits a proto enum as a TypeScript numeric enum with the proto names and numbers. */
import type { CodeWriter } from './code-writer.js';
import type { ResolvedEnum } from './schema.js';

export function emitEnum(code: CodeWriter, enumType: ResolvedEnum): void {
  const declaration = enumType.declaration;
  code.doc(declaration.comment, declaration.deprecated);
  code.block(`export enum ${enumType.typeScriptName} {`, () => {
    for (const value of declaration.values) {
      code.doc(value.comment, value.deprecated);
      code.line(`${value.name} = ${value.number},`);
    }
  });
}
