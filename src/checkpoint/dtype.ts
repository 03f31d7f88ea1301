// The safetensors element types and exact conversions between their little-endian bytes and
// Float32Array: F16 and BF16 decode exactly, and encode with round-to-nearest-even.

export type Dtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
/** Dtypes whose values `decodeFloat32` can turn into float32 (F64 loses precision, as a cast would). */
export type FloatDtype = 'F32' | 'F16' | 'BF16' | 'F64';
/** Dtypes the writer can produce from float32 values. */
export type WritableDtype = 'F32' | 'F16' | 'BF16';

export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BYTES, value);
}

export function isFloatDtype(dtype: Dtype): dtype is FloatDtype {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64';
}

/**
 * Typed arrays use the host's byte order and files are little-endian, so raw bytes may be
 * reinterpreted as a typed array only when this is true; otherwise conversions go through DataView.
 */
export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Scratch cell for reading and writing the bits of one float32.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The float32 value of an IEEE binary16 bit pattern; exact for every pattern, NaNs stay NaN. */
export function f16BitsToFloat32(bits: number): number {
  const sign = (bits & 0x8000) << 16;
  const exponent = (bits >>> 10) & 0x1f;
  let mantissa = bits & 0x3ff;
  let f32Bits: number;
  if (exponent === 0x1f) {
    f32Bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent !== 0) {
    f32Bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa === 0) {
    f32Bits = sign;
  } else {
    // Subnormal half (mantissa * 2^-24): normalise it, since every such value is a normal float32.
    let e = 113;
    while ((mantissa & 0x400) === 0) {
      mantissa <<= 1;
      e--;
    }
    f32Bits = sign | (e << 23) | ((mantissa & 0x3ff) << 13);
  }
  scratchU32[0] = f32Bits >>> 0;
  return scratchF32[0]!;
}

/** The binary16 bit pattern nearest to `value` (as float32), ties to even; overflow gives infinity. */
export function float32ToF16Bits(value: number): number {
  scratchF32[0] = value;
  const bits = scratchU32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const halfExponent = exponent - 112;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent >= 1) {
    // Dropping 13 mantissa bits; a carry out of the mantissa correctly bumps the exponent,
    // up to infinity for values from 65520 on.
    let half = (halfExponent << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
    return sign | half;
  }
  // Subnormal or zero half: the result counts units of 2^-24, i.e. the full 24-bit significand
  // shifted right by `shift`. Below 2^-25 (shift > 24) everything rounds to zero.
  const shift = 14 - halfExponent;
  if (shift > 24) return sign;
  const significand = mantissa | 0x800000;
  let half = significand >>> shift;
  const rest = significand & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
  return sign | half;
}

/** The bfloat16 bit pattern nearest to `value` (as float32), ties to even; NaN stays a quiet NaN. */
export function float32ToBf16Bits(value: number): number {
  scratchF32[0] = value;
  const bits = scratchU32[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

// All 65536 binary16 values, built on first use: a table lookup is several times faster than
// decoding bit fields per element when loading billions of weights.
let f16Table: Float32Array | undefined;
/** Every binary16 bit pattern's value as float32, indexed by the pattern. */
export function float16Table(): Float32Array {
  if (f16Table === undefined) {
    f16Table = new Float32Array(0x10000);
    for (let bits = 0; bits < 0x10000; bits++) f16Table[bits] = f16BitsToFloat32(bits);
  }
  return f16Table;
}

/** Decodes little-endian `bytes` of a float dtype; `bytes` may sit at any (even odd) offset. */
export function decodeFloat32(dtype: FloatDtype, bytes: Uint8Array): Float32Array {
  const size = DTYPE_BYTES[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes are not a whole number of ${dtype} values`);
  }
  const count = bytes.byteLength / size;
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN_HOST) {
        // Byte copy, so the source's alignment does not matter.
        new Uint8Array(out.buffer).set(bytes);
      } else {
        for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      }
      break;
    case 'F16': {
      const table = float16Table();
      if (LITTLE_ENDIAN_HOST && bytes.byteOffset % 2 === 0) {
        // Aligned: read the halves as one Uint16Array, several times faster than DataView.
        const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
        for (let i = 0; i < count; i++) out[i] = table[halves[i]!]!;
      } else {
        for (let i = 0; i < count; i++) out[i] = table[view.getUint16(i * 2, true)]!;
      }
      break;
    }
    case 'BF16': {
      // A bfloat16 is the upper half of a float32, so widen it into the float32's bit pattern.
      const outBits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) outBits[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      break;
  }
  return out;
}

/**
 * Little-endian bytes of `values` in `dtype`. For F32 on a little-endian host this is a view of
 * `values` itself (no copy), so callers must not modify `values` while the bytes are in use.
 */
export function encodeFloat32(dtype: WritableDtype, values: Float32Array): Uint8Array {
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN_HOST) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
    return out;
  }
  const encode = dtype === 'F16' ? float32ToF16Bits : float32ToBf16Bits;
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(i * 2, encode(values[i]!), true);
  return out;
}
