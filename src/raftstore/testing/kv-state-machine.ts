// A small key-value state machine for tests, the simulator and the real-process test.
// Commands are JSON: {op: 'put', key, value} returns the previous value (or null);
// {op: 'append', key, value} returns the new value; {op: 'cas', key, expected, value}
// (expected null: the key must be absent) returns whether it swapped.
import { createHash } from 'node:crypto';
import type { GroupStateMachine } from '../types.js';

export class KeyValueStateMachine implements GroupStateMachine {
  readonly values = new Map<string, string>();
  appliedIndex = 0;
  appliedCount = 0;

  apply(index: number, command: Uint8Array): unknown {
    const { op, key, value, expected } = JSON.parse(Buffer.from(command).toString('utf8')) as { op: string; key: string; value: string; expected?: string | null };
    this.appliedIndex = index;
    this.appliedCount += 1;
    const previous = this.values.get(key) ?? null;
    switch (op) {
      case 'put':
        this.values.set(key, value);
        return previous;
      case 'append': {
        const next = (previous ?? '') + value;
        this.values.set(key, next);
        return next;
      }
      case 'cas': {
        if (previous !== (expected ?? null)) return false;
        this.values.set(key, value);
        return true;
      }
      default:
        throw new Error(`key-value state machine: unknown op ${op}`);
    }
  }

  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify([...this.values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  }

  restore(state: Uint8Array, index: number): void {
    this.values.clear();
    if (state.length > 0) for (const [key, value] of JSON.parse(Buffer.from(state).toString('utf8')) as Array<[string, string]>) this.values.set(key, value);
    this.appliedIndex = index;
  }

  // A digest that is equal on replicas with equal state.
  stateHash(): string {
    return createHash('sha256').update(this.snapshot()).digest('hex');
  }
}

export function putCommand(key: string, value: string): Uint8Array {
  return Buffer.from(JSON.stringify({ op: 'put', key, value }));
}

export function appendCommand(key: string, suffix: string): Uint8Array {
  return Buffer.from(JSON.stringify({ op: 'append', key, value: suffix }));
}

export function casCommand(key: string, expected: string | null, value: string): Uint8Array {
  return Buffer.from(JSON.stringify({ op: 'cas', key, expected, value }));
}
