/**
 * Little-endian float/double bytes through one shared scratch buffer. Copying four or
 * eight bytes through a Float32Array/Float64Array view is what protobufjs does and is
 * faster than a DataView per call; the byte order of the host is detected once so a
 * big-endian host still produces little-endian wire bytes.
 */
const scratchFloat32 = new Float32Array(1);
const scratchFloat64 = new Float64Array(1);
const scratchBytes32 = new Uint8Array(scratchFloat32.buffer);
const scratchBytes64 = new Uint8Array(scratchFloat64.buffer);

scratchFloat32[0] = -0;
const hostIsLittleEndian = scratchBytes32[3] === 0x80;

export function writeFloat32(bytes: Uint8Array, offset: number, value: number): void {
  scratchFloat32[0] = value;
  if (hostIsLittleEndian) {
    bytes[offset] = scratchBytes32[0]; bytes[offset + 1] = scratchBytes32[1];
    bytes[offset + 2] = scratchBytes32[2]; bytes[offset + 3] = scratchBytes32[3];
  } else {
    bytes[offset] = scratchBytes32[3]; bytes[offset + 1] = scratchBytes32[2];
    bytes[offset + 2] = scratchBytes32[1]; bytes[offset + 3] = scratchBytes32[0];
  }
}

export function readFloat32(bytes: Uint8Array, offset: number): number {
  if (hostIsLittleEndian) {
    scratchBytes32[0] = bytes[offset]; scratchBytes32[1] = bytes[offset + 1];
    scratchBytes32[2] = bytes[offset + 2]; scratchBytes32[3] = bytes[offset + 3];
  } else {
    scratchBytes32[3] = bytes[offset]; scratchBytes32[2] = bytes[offset + 1];
    scratchBytes32[1] = bytes[offset + 2]; scratchBytes32[0] = bytes[offset + 3];
  }
  return scratchFloat32[0];
}

export function writeFloat64(bytes: Uint8Array, offset: number, value: number): void {
  scratchFloat64[0] = value;
  if (hostIsLittleEndian) {
    for (let index = 0; index < 8; index++) bytes[offset + index] = scratchBytes64[index];
  } else {
    for (let index = 0; index < 8; index++) bytes[offset + index] = scratchBytes64[7 - index];
  }
}

export function readFloat64(bytes: Uint8Array, offset: number): number {
  if (hostIsLittleEndian) {
    for (let index = 0; index < 8; index++) scratchBytes64[index] = bytes[offset + index];
  } else {
    for (let index = 0; index < 8; index++) scratchBytes64[7 - index] = bytes[offset + index];
  }
  return scratchFloat64[0];
}
