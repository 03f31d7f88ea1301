// ggml's two reference block quantisations, as llama.cpp's quantize_row_q8_0_ref and
// quantize_row_q4_0_ref compute them (ggml-quants.c), so a GGUF written here holds the bytes
// llama.cpp's own converter would write for the same float weights. A block is 32 consecutive values
// of a row; its scale d is stored as IEEE binary16 in front of the quants.
//   q8_0: d = max|x| / 127, q = round(x / d) (half away from zero), int8. 2 + 32 = 34 bytes.
//   q4_0: d = (the value of largest magnitude, sign kept) / -8, q = min(15, trunc(x / d + 8.5)),
//         4 bits; byte j holds value j in its low nibble and value j + 16 in its high one. 2 + 16 = 18 bytes.
// The arithmetic is float32's, as in C (Math.fround at every step the C code rounds).
import { f16BitsToFloat32, float32ToF16Bits } from '../checkpoint/dtype.js';

export const GGML_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;
export const Q4_0_BLOCK_BYTES = 18;

const f = Math.fround;

/** C's roundf: halves away from zero. */
function roundAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

function checkLength(values: Float32Array): number {
  if (values.length % GGML_BLOCK !== 0) throw new RangeError(`ggml blocks need a multiple of ${GGML_BLOCK} values, got ${values.length}`);
  return values.length / GGML_BLOCK;
}

export function quantizeQ8_0(values: Float32Array, out = new Uint8Array(checkLength(values) * Q8_0_BLOCK_BYTES)): Uint8Array {
  const blocks = checkLength(values);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const quants = new Int8Array(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < blocks; b++) {
    const x = b * GGML_BLOCK;
    const o = b * Q8_0_BLOCK_BYTES;
    let amax = 0;
    for (let j = 0; j < GGML_BLOCK; j++) amax = Math.max(amax, Math.abs(values[x + j]!));
    const d = f(amax / 127);
    const id = d !== 0 ? f(1 / d) : 0;
    view.setUint16(o, float32ToF16Bits(d), true);
    for (let j = 0; j < GGML_BLOCK; j++) quants[o + 2 + j] = roundAway(f(values[x + j]! * id));
  }
  return out;
}

export function quantizeQ4_0(values: Float32Array, out = new Uint8Array(checkLength(values) * Q4_0_BLOCK_BYTES)): Uint8Array {
  const blocks = checkLength(values);
  const half = GGML_BLOCK / 2;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let b = 0; b < blocks; b++) {
    const x = b * GGML_BLOCK;
    const o = b * Q4_0_BLOCK_BYTES;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < GGML_BLOCK; j++) {
      const v = values[x + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f(max / -8);
    const id = d !== 0 ? f(1 / d) : 0;
    view.setUint16(o, float32ToF16Bits(d), true);
    for (let j = 0; j < half; j++) {
      // (int8_t)(x0 + 8.5f) truncates toward zero; x0 + 8.5 >= 0.5 here, so trunc is floor.
      const q0 = Math.min(15, Math.trunc(f(f(values[x + j]! * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(f(f(values[x + half + j]! * id) + 8.5)));
      out[o + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** The values a q8_0 tensor stands for (ggml's dequantize_row_q8_0). */
export function dequantizeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < count / GGML_BLOCK; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = f16BitsToFloat32(view.getUint16(o, true));
    for (let j = 0; j < GGML_BLOCK; j++) out[b * GGML_BLOCK + j] = f(view.getInt8(o + 2 + j) * d);
  }
  return out;
}

/** The values a q4_0 tensor stands for (ggml's dequantize_row_q4_0). */
export function dequantizeQ4_0(bytes: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const half = GGML_BLOCK / 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < count / GGML_BLOCK; b++) {
    const o = b * Q4_0_BLOCK_BYTES;
    const d = f16BitsToFloat32(view.getUint16(o, true));
    for (let j = 0; j < half; j++) {
      const byte = bytes[o + 2 + j]!;
      out[b * GGML_BLOCK + j] = f(((byte & 0x0f) - 8) * d);
      out[b * GGML_BLOCK + half + j] = f(((byte >> 4) - 8) * d);
    }
  }
  return out;
}
