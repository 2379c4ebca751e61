/**
 * The top-level encode and decode drivers behind every generated MessageCodec, kept
 * out of generated code so each message adds only its own measure/write/read functions.
 */
import { Buffer } from 'node:buffer';
import { ProtoEncodeError } from './errors.js';
import { messageBytesMax } from './limits.js';
import { ProtoReader } from './reader.js';
import { ProtoWriter } from './writer.js';

type Measure<T> = (message: T, writer: ProtoWriter) => number;
type Write<T> = (message: T, writer: ProtoWriter) => void;
type Read<T> = (reader: ProtoReader) => T;

/**
 * One writer serves all encodes: encoding is synchronous and runs no application code,
 * so calls cannot interleave. The busy flag still guards against re-entry (say, a
 * getter on a message that encodes another message) by falling back to a fresh writer.
 */
const sharedWriter = new ProtoWriter();
let sharedWriterBusy = false;

/**
 * Output buffers come from a shared slab. Profiling the benchmark showed a third of
 * encode time in `new Uint8Array(size)`: above 64 bytes V8 gives every typed array its
 * own off-heap backing store, which costs an allocation, a zero fill and GC tracking.
 * A `subarray` of a slab is just a view object. Like Node's Buffer pool this means
 * `encoded.buffer` is shared: use `byteOffset`/`byteLength` with it, never the whole
 * ArrayBuffer. A retained small message keeps at most one slab alive.
 */
const slabBytes = 16 * 1024;
/** Larger messages get a buffer of their own so they never pin a slab. */
const pooledAllocationBytesMax = 2 * 1024;
let slab = new Uint8Array(slabBytes);
let slabOffset = 0;

function allocate(size: number): Uint8Array {
  if (size === 0) return new Uint8Array(0);
  if (size > pooledAllocationBytesMax) {
    // Not zero-filled: the write pass covers every byte (finish() asserts it).
    const own = Buffer.allocUnsafeSlow(size);
    return new Uint8Array(own.buffer, own.byteOffset, size);
  }
  // A slab whose ArrayBuffer a caller transferred (postMessage) is detached and reads
  // as length 0; it is replaced like a full one.
  if (slabOffset + size > slab.length) {
    slab = new Uint8Array(slabBytes);
    slabOffset = 0;
  }
  const bytes = slab.subarray(slabOffset, slabOffset + size);
  // Keep 8-byte alignment so callers may lay typed-array views over whole words.
  slabOffset = (slabOffset + size + 7) & ~7;
  return bytes;
}

function measureChecked<T>(message: T, measure: Measure<T>, writer: ProtoWriter, typeName: string): number {
  writer.beginMeasure();
  const size = measure(message, writer);
  if (size > messageBytesMax) {
    throw new ProtoEncodeError(`${typeName}: encoded size ${size} bytes exceeds the ${messageBytesMax}-byte limit`);
  }
  return size;
}

export function encodeMessage<T>(message: T, measure: Measure<T>, write: Write<T>, typeName: string): Uint8Array {
  const reentered = sharedWriterBusy;
  const writer = reentered ? new ProtoWriter() : sharedWriter;
  sharedWriterBusy = true;
  try {
    const size = measureChecked(message, measure, writer, typeName);
    const bytes = allocate(size);
    writer.beginWrite(bytes, 0);
    write(message, writer);
    writer.finish(size);
    return bytes;
  } finally {
    if (!reentered) sharedWriterBusy = false;
  }
}

export function encodeMessageInto<T>(
  message: T,
  buffer: Uint8Array,
  offset: number,
  measure: Measure<T>,
  write: Write<T>,
  typeName: string,
): number {
  if (!Number.isInteger(offset) || offset < 0 || offset > buffer.length) {
    throw new ProtoEncodeError(`${typeName}: offset ${offset} is outside the ${buffer.length}-byte buffer`);
  }
  const reentered = sharedWriterBusy;
  const writer = reentered ? new ProtoWriter() : sharedWriter;
  sharedWriterBusy = true;
  try {
    const size = measureChecked(message, measure, writer, typeName);
    if (size > buffer.length - offset) {
      throw new ProtoEncodeError(`${typeName}: message needs ${size} bytes but only ${buffer.length - offset} remain after offset ${offset}`);
    }
    writer.beginWrite(buffer, offset);
    write(message, writer);
    writer.finish(offset + size);
    return offset + size;
  } finally {
    if (!reentered) sharedWriterBusy = false;
  }
}

export function encodedMessageSize<T>(message: T, measure: Measure<T>, typeName: string): number {
  // Measuring records lengths in the writer, so it takes the writer like an encode does.
  const reentered = sharedWriterBusy;
  const writer = reentered ? new ProtoWriter() : sharedWriter;
  sharedWriterBusy = true;
  try {
    return measureChecked(message, measure, writer, typeName);
  } finally {
    if (!reentered) sharedWriterBusy = false;
  }
}

export function decodeMessage<T>(bytes: Uint8Array, read: Read<T>): T {
  return read(new ProtoReader(bytes));
}
