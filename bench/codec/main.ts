/**
 * Codec benchmark: encode and decode ops/s of a ten-field message (three uint64 ids,
 * two uint32s, a string, 64 bytes, a bool, an enum and a nested message) for
 *   - our generated code (bench/codec/generated/bench.ts),
 *   - protobufjs, reflection-generated from the same bench.proto at run time (it emits
 *     the same encoder/decoder source as its static codegen), with its default Long
 *     support and again with Long disabled (64-bit values as numbers, its fastest mode),
 *   - JSON.stringify/parse, with the bytes field as base64 as a JSON API would send it.
 * Each case runs a fixed number of timed rounds of a fixed iteration count after a
 * warm-up; the best round is reported. The last line printed is one JSON object.
 *
 * Run: npm run bench:codec
 */
import { Buffer } from 'node:buffer';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import { FileType, WriteRequest } from './generated/bench.js';

const warmUpIterations = 200_000;
const roundIterations = 200_000;
const roundCount = 7;

interface Result {
  readonly name: string;
  readonly encodeOpsPerSecond: number;
  readonly decodeOpsPerSecond: number;
  readonly encodedBytes: number;
}

/** Best-of-rounds ops/s; `sink` keeps the work observable so it cannot be optimized away. */
function measure(operation: () => number): number {
  let sink = 0;
  for (let index = 0; index < warmUpIterations; index++) sink += operation();
  let best = 0;
  for (let round = 0; round < roundCount; round++) {
    const start = process.hrtime.bigint();
    for (let index = 0; index < roundIterations; index++) sink += operation();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    best = Math.max(best, roundIterations / seconds);
  }
  if (sink === -1) console.log('unreachable');
  return Math.round(best);
}

const data = new Uint8Array(64);
for (let index = 0; index < data.length; index++) data[index] = (index * 37) & 0xff;

const message: WriteRequest = {
  volumeId: 42,
  inode: 1_234_567_890_123,
  offset: 2 ** 40 + 4096,
  size: 4096,
  mode: 0o100644,
  path: '/volumes/42/data/file-000123.bin',
  data,
  sync: true,
  fileType: FileType.FILE_TYPE_REGULAR,
  modified: { seconds: 1_763_700_000, nanos: 123_456_789 },
};

function benchmarkGenerated(): Result {
  const encoded = WriteRequest.encode(message);
  const roundTrip = WriteRequest.decode(encoded);
  if (roundTrip.inode !== message.inode || roundTrip.path !== message.path) throw new Error('generated round trip failed');
  return {
    name: 'atoll generated',
    encodeOpsPerSecond: measure(() => WriteRequest.encode(message).length),
    decodeOpsPerSecond: measure(() => WriteRequest.decode(encoded).size),
    encodedBytes: encoded.length,
  };
}

function benchmarkProtobufjs(name: string, type: protobuf.Type): Result {
  const encoded = type.encode(message as unknown as Record<string, unknown>).finish();
  if (Buffer.compare(Buffer.from(encoded), Buffer.from(WriteRequest.encode(message))) !== 0) {
    throw new Error('protobufjs and generated code encode the benchmark message differently');
  }
  return {
    name,
    encodeOpsPerSecond: measure(() => type.encode(message as unknown as Record<string, unknown>).finish().length),
    decodeOpsPerSecond: measure(() => (type.decode(encoded) as unknown as { size: number }).size),
    encodedBytes: encoded.length,
  };
}

function benchmarkJson(): Result {
  const toJson = (value: WriteRequest): string => JSON.stringify({ ...value, data: Buffer.from(value.data.buffer, value.data.byteOffset, value.data.length).toString('base64') });
  const fromJson = (text: string): WriteRequest => {
    const parsed = JSON.parse(text) as WriteRequest & { data: string };
    return { ...parsed, data: Buffer.from(parsed.data, 'base64') };
  };
  const encoded = toJson(message);
  return {
    name: 'JSON (base64 bytes)',
    encodeOpsPerSecond: measure(() => toJson(message).length),
    decodeOpsPerSecond: measure(() => fromJson(encoded).size),
    encodedBytes: Buffer.byteLength(encoded),
  };
}

function format(value: number): string {
  return `${(value / 1e6).toFixed(2)}M`.padStart(10);
}

function main(): void {
  const protoPath = join(dirname(fileURLToPath(import.meta.url)), '../../../bench/codec/bench.proto');
  const results: Result[] = [benchmarkGenerated()];
  results.push(benchmarkProtobufjs('protobufjs (Long)', protobuf.loadSync(protoPath).lookupType('atoll.bench.WriteRequest')));
  // Without the long package protobufjs reads 64-bit values as numbers: its fastest mode.
  protobuf.util.Long = null as unknown as typeof protobuf.util.Long;
  protobuf.configure();
  results.push(benchmarkProtobufjs('protobufjs (no Long)', protobuf.loadSync(protoPath).lookupType('atoll.bench.WriteRequest')));
  results.push(benchmarkJson());

  console.log(`node ${process.version}, ${roundCount} rounds x ${roundIterations} ops, best round`);
  console.log(`${'codec'.padEnd(24)}${'encode/s'.padStart(10)}${'decode/s'.padStart(10)}${'bytes'.padStart(8)}`);
  for (const result of results) {
    console.log(`${result.name.padEnd(24)}${format(result.encodeOpsPerSecond)}${format(result.decodeOpsPerSecond)}${String(result.encodedBytes).padStart(8)}`);
  }
  console.log(JSON.stringify({ node: process.version, roundIterations, roundCount, results }));
}

main();
