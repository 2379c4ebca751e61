/**
 * Emits a service as a constant table keyed by lowerCamelCase method name. The RPC
 * layer dispatches on `id`, which the .proto declares per method, so renaming or
 * reordering methods never changes the wire.
 */
import { quote, type CodeWriter } from './code-writer.js';
import type { ModuleNames } from './emit-message.js';
import type { ResolvedService } from './schema.js';

export function emitService(code: CodeWriter, service: ResolvedService, names: ModuleNames): void {
  code.doc(service.declaration.comment, service.declaration.deprecated);
  code.block(`export const ${service.typeScriptName} = {`, () => {
    for (const method of service.methods) {
      code.doc(method.declaration.comment, method.declaration.deprecated);
      code.block(`${method.typeScriptName}: {`, () => {
        code.line(`id: ${method.methodId},`);
        code.line(`name: ${quote(method.declaration.name)},`);
        code.line(`service: ${quote(service.fullName)},`);
        code.line(`request: ${names.typeName(method.request)},`);
        code.line(`response: ${names.typeName(method.response)},`);
      }, '},');
    }
  }, '} as const satisfies protobuf.ServiceDefinition;');
}
