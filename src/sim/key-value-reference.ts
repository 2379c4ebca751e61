// A plain key-value store that applies one input and returns its true output: the
// reference that tests and benchmarks generate histories against. Written apart from
// keyValueModel on purpose, so a mistake in the model is not repeated here.
import type { KeyValueInput, KeyValueOutput } from './key-value-model.js';

export function applyToReferenceStore(store: Map<string, string>, input: KeyValueInput): KeyValueOutput {
  const current = store.get(input.key);
  switch (input.kind) {
    case 'get':
      return current;
    case 'put':
      store.set(input.key, input.value);
      return undefined;
    case 'append':
      store.set(input.key, (current ?? '') + input.suffix);
      return undefined;
    case 'cas':
      if (current !== input.expected) return false;
      store.set(input.key, input.value);
      return true;
  }
}
