// CRC-32 (IEEE 802.3, the zlib polynomial) over a range of bytes, without creating a view.
// Small ranges (frame headers, short records) run a slicing-by-8 table loop here, which
// measured about 2x faster than zlib.crc32 on 160 bytes because no Buffer view and no
// native call is needed; larger ranges go to zlib's native code, which wins from about
// 400 bytes on.
import { crc32 as zlibCrc32 } from 'node:zlib';

const nativeFromBytes = 384;

const table = new Int32Array(256 * 8);
for (let byte = 0; byte < 256; byte++) {
  let crc = byte;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  table[byte] = crc;
}
for (let byte = 0; byte < 256; byte++) {
  let crc = table[byte]!;
  for (let slice = 1; slice < 8; slice++) {
    crc = table[crc & 0xff]! ^ (crc >>> 8);
    table[slice * 256 + byte] = crc;
  }
}

// CRC-32 of bytes[start, end), continuing from `initial` (the CRC of what came before).
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  if (end - start >= nativeFromBytes) {
    const range = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
    return zlibCrc32(range, initial) >>> 0;
  }
  let crc = ~initial;
  let index = start;
  for (; index + 8 <= end; index += 8) {
    const low = (bytes[index]! | (bytes[index + 1]! << 8) | (bytes[index + 2]! << 16) | (bytes[index + 3]! << 24)) ^ crc;
    const high = bytes[index + 4]! | (bytes[index + 5]! << 8) | (bytes[index + 6]! << 16) | (bytes[index + 7]! << 24);
    crc =
      table[1792 + (low & 0xff)]! ^
      table[1536 + ((low >>> 8) & 0xff)]! ^
      table[1280 + ((low >>> 16) & 0xff)]! ^
      table[1024 + (low >>> 24)]! ^
      table[768 + (high & 0xff)]! ^
      table[512 + ((high >>> 8) & 0xff)]! ^
      table[256 + ((high >>> 16) & 0xff)]! ^
      table[high >>> 24]!;
  }
  for (; index < end; index++) crc = table[(crc ^ bytes[index]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
