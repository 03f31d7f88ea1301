// Tests of the dtype conversions: known IEEE bit patterns, round-to-nearest-even at ties,
// every binary16 pattern against an independent formula, and reads from unaligned bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFloat32, encodeFloat32, f16BitsToFloat32, float32ToBf16Bits, float32ToF16Bits } from './dtype.js';

// Independent reference for binary16: sign * 2^(e-15) * (1 + m/1024), or 2^-14 * m/1024 when e = 0.
function referenceF16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  return e === 0 ? sign * 2 ** -14 * (m / 1024) : sign * 2 ** (e - 15) * (1 + m / 1024);
}

describe('F16 encoding', () => {
  const cases: Array<[string, number, number]> = [
    ['1.0', 1, 0x3c00],
    ['-2.0', -2, 0xc000],
    ['largest finite', 65504, 0x7bff],
    ['just below the overflow tie', 65519, 0x7bff],
    ['the overflow tie 65520 (rounds to even = infinity)', 65520, 0x7c00],
    ['0.1', 0.1, 0x2e66],
    ['1/3', 1 / 3, 0x3555],
    ['smallest normal', 2 ** -14, 0x0400],
    ['largest subnormal', 1023 * 2 ** -24, 0x03ff],
    ['smallest subnormal', 2 ** -24, 0x0001],
    ['1e-7, a subnormal (1.68 units of 2^-24)', 1e-7, 0x0002],
    ['2^-25, a tie with zero (rounds to even = zero)', 2 ** -25, 0x0000],
    ['just above 2^-25', 2 ** -25 * 1.0001, 0x0001],
    ['1.5 * 2^-24, a subnormal tie (rounds up to even 2)', 1.5 * 2 ** -24, 0x0002],
    ['1 + 2^-11, a tie (rounds down to even 1.0)', 1 + 2 ** -11, 0x3c00],
    ['1 + 3 * 2^-11, a tie (rounds up to even)', 1 + 3 * 2 ** -11, 0x3c02],
    ['below half the smallest subnormal', 1e-9, 0x0000],
    ['-0', -0, 0x8000],
    ['+infinity', Infinity, 0x7c00],
    ['-infinity', -Infinity, 0xfc00],
    ['beyond the range', 1e6, 0x7c00],
  ];
  for (const [label, value, bits] of cases) {
    it(`encodes ${label} as 0x${bits.toString(16).padStart(4, '0')}`, () => {
      assert.equal(float32ToF16Bits(value).toString(16), bits.toString(16));
    });
  }

  it('encodes NaN as a NaN pattern', () => {
    const bits = float32ToF16Bits(NaN);
    assert.equal(bits & 0x7c00, 0x7c00);
    assert.notEqual(bits & 0x3ff, 0);
  });

  it('rounds random float32 values to the nearest binary16', () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20000; i++) {
      const value = Math.fround((random() - 0.5) * 2 ** (random() * 40 - 26));
      const bits = float32ToF16Bits(value);
      const error = Math.abs(value - f16BitsToFloat32(bits));
      // Both neighbours in magnitude (same sign) are at least as far away.
      for (const neighbour of [bits - 1, bits + 1]) {
        if ((neighbour & 0x7fff) === 0x7fff || (neighbour & 0x8000) !== (bits & 0x8000)) continue;
        assert.ok(Math.abs(value - f16BitsToFloat32(neighbour)) >= error, `${value} -> 0x${bits.toString(16)}`);
      }
    }
  });
});

describe('F16 decoding', () => {
  it('decodes all 65536 patterns exactly, and re-encodes every non-NaN to itself', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = f16BitsToFloat32(bits);
      const expected = referenceF16(bits);
      if (Number.isNaN(expected)) {
        assert.ok(Number.isNaN(value), `0x${bits.toString(16)}`);
        continue;
      }
      assert.ok(Object.is(value, expected), `0x${bits.toString(16)}: ${value} vs ${expected}`);
      assert.equal(float32ToF16Bits(value), bits);
    }
  });

  it('decodes little-endian bytes through the lookup table', () => {
    const bytes = new Uint8Array([0x00, 0x3c, 0xff, 0x7b, 0x01, 0x00, 0x00, 0xfc, 0x00, 0x7e]);
    const values = decodeFloat32('F16', bytes);
    assert.deepEqual([...values.subarray(0, 4)], [1, 65504, 2 ** -24, -Infinity]);
    assert.ok(Number.isNaN(values[4]));
  });
});

describe('BF16', () => {
  const cases: Array<[string, number, number]> = [
    ['1.0', 1, 0x3f80],
    ['pi (rounds down)', Math.PI, 0x4049],
    ['0.1 (rounds up)', 0.1, 0x3dcd],
    ['1 + 2^-8, a tie (rounds down to even)', 1 + 2 ** -8, 0x3f80],
    ['1 + 3 * 2^-8, a tie (rounds up to even)', 1 + 3 * 2 ** -8, 0x3f82],
    ['the largest float32 (rounds to infinity)', 3.4028234663852886e38, 0x7f80],
    ['-infinity', -Infinity, 0xff80],
    ['-0', -0, 0x8000],
  ];
  for (const [label, value, bits] of cases) {
    it(`encodes ${label} as 0x${bits.toString(16)}`, () => {
      assert.equal(float32ToBf16Bits(value).toString(16), bits.toString(16));
    });
  }

  it('keeps NaN a NaN', () => {
    const bits = float32ToBf16Bits(NaN);
    assert.equal(bits & 0x7f80, 0x7f80);
    assert.notEqual(bits & 0x7f, 0);
    assert.ok(Number.isNaN(decodeFloat32('BF16', encodeFloat32('BF16', new Float32Array([NaN])))[0]));
  });

  it('decodes as the upper 16 bits of a float32', () => {
    const values = decodeFloat32('BF16', new Uint8Array([0x80, 0x3f, 0x49, 0x40, 0x80, 0xff]));
    assert.deepEqual([...values], [1, 3.140625, -Infinity]);
  });
});

describe('decodeFloat32 and encodeFloat32', () => {
  it('write little-endian bytes', () => {
    assert.deepEqual([...encodeFloat32('F16', new Float32Array([1, -2]))], [0x00, 0x3c, 0x00, 0xc0]);
    assert.deepEqual([...encodeFloat32('BF16', new Float32Array([1]))], [0x80, 0x3f]);
    assert.deepEqual([...encodeFloat32('F32', new Float32Array([1]))], [0x00, 0x00, 0x80, 0x3f]);
  });

  it('read every float dtype from bytes at an odd offset', () => {
    const values = [1.5, -0.25, 1024, 0];
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const encoded = encodeFloat32(dtype, new Float32Array(values));
      const shifted = new Uint8Array(encoded.byteLength + 1);
      shifted.set(encoded, 1);
      assert.deepEqual([...decodeFloat32(dtype, shifted.subarray(1))], values, dtype);
    }
    const f64 = new Uint8Array(8 * values.length + 1);
    const view = new DataView(f64.buffer);
    values.forEach((v, i) => view.setFloat64(1 + 8 * i, v, true));
    assert.deepEqual([...decodeFloat32('F64', f64.subarray(1))], values);
  });

  it('rejects a byte count that is not a whole number of values', () => {
    assert.throws(() => decodeFloat32('F32', new Uint8Array(6)), /6 bytes are not a whole number of F32 values/);
  });
});
