// The quantised layouts against onnxruntime's own kernels: a graph with one quantised Linear must
// equal an f32 MatMul by the dequantised weight (so packing order, nibble order and scale layout are
// what the contrib ops read), and the quantisation error itself stays within its step.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../onnx/builder.js';
import { Ops } from '../onnx/ops.js';
import { linear } from '../models/linear.js';
import { transposed, type WeightSource } from '../models/weights.js';
import { GraphSession, floatTensor } from '../runtime/session.js';
import { mulberry32 } from '../util/prng.js';
import { linearPlan, type LinearEncoding } from './format.js';
import { dequantizeInt4 } from './int4.js';
import { dequantizeInt8 } from './int8.js';
import { dequantizeInt8Blocks } from './int8-blocks.js';
import { quantizeInt4, quantizeInt8, quantizeInt8Blocks } from './row-pool.js';
import { OptionError } from '../errors.js';
import { float32Rows } from './weight-rows.js';

const OUT = 48;
const IN = 80; // not a multiple of 32: a partial last block
const ROWS = 5;

function uniform(length: number, seed: number, scale = 1): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length }, () => (2 * next() - 1) * scale);
}

/** x [R, K] times w [K, N] in float64. */
function matMul(x: Float32Array, w: Float32Array, rows: number, K: number, N: number): Float64Array {
  const out = new Float64Array(rows * N);
  for (let r = 0; r < rows; r++) for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) out[r * N + n]! += x[r * K + k]! * w[k * N + n]!;
  return out;
}

async function runLinear(weight: Float32Array, x: Float32Array, encoding: LinearEncoding): Promise<Float32Array> {
  const g = new GraphBuilder('linear');
  const op = new Ops(g);
  const source: WeightSource = { has: () => true, float32: () => weight };
  const input = g.input('x', 'float32', ['R', IN]);
  g.output(linear(g, op, source, 'w', input, OUT, IN, encoding), 'y', 'float32', ['R', OUT]);
  const session = await GraphSession.create(g);
  try {
    return (await session.run({ x: floatTensor(x, [ROWS, IN]) })).y!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('int4 (MatMulNBits layout)', () => {
  it('packs code j of a block into nibble j % 2 of byte j / 2, block by block along the input features', () => {
    // One output channel, 32 inputs: w[k] = (k % 16 - 8) / 8 puts code k % 16 at k (scale -(-1)/-8... = 1/8).
    const weight = Float32Array.from({ length: 32 }, (_, k) => ((k % 16) - 8) / 8);
    const q = quantizeInt4(float32Rows(weight, 1, 32), 16);
    assert.equal(q.kBlocks, 2);
    assert.deepEqual([...q.scales], [0.125, 0.125]);
    assert.deepEqual([...q.packed.subarray(0, 3)], [0x10, 0x32, 0x54]);
    assert.deepEqual(dequantizeInt4(q, 1, 32), weight);
  });

  for (const blockSize of [16, 32, 64]) {
    it(`block ${blockSize}: onnxruntime's MatMulNBits equals an f32 MatMul by the dequantised weight`, async () => {
      const weight = uniform(OUT * IN, 1);
      const x = uniform(ROWS * IN, 2);
      const q = quantizeInt4(float32Rows(weight, OUT, IN), blockSize);
      const dequantised = dequantizeInt4(q, OUT, IN);
      // Rounding error at most half a step, the step being the block's max |w| / 8.
      for (let n = 0; n < OUT; n++) {
        for (let k = 0; k < IN; k++) {
          const scale = Math.abs(q.scales[n * q.kBlocks + Math.floor(k / blockSize)]!);
          assert.ok(Math.abs(dequantised[n * IN + k]! - weight[n * IN + k]!) <= scale * 1.0001, `w[${n},${k}] off by more than a step`);
        }
      }
      const expected = matMul(x, transposed(dequantised, OUT, IN), ROWS, IN, OUT);
      const actual = await runLinear(weight, x, { kind: 'int4', blockSize });
      // Accuracy level 4 quantises x to int8 per block: the error is that of 8-bit activations.
      const scale = Math.max(...expected.map(Math.abs));
      assert.ok(maxAbsDiff(actual, expected) / scale < 2e-2, `relative error ${maxAbsDiff(actual, expected) / scale}`);
    });
  }
});

describe('int8 (per output channel, per-token activations)', () => {
  it('onnxruntime matches an f32 MatMul by the dequantised weight, to the activations\' 8-bit step', async () => {
    const weight = uniform(OUT * IN, 3);
    // Rows of very different magnitudes: per-token scales keep the small rows exact to their own step.
    const x = new Float32Array(ROWS * IN);
    for (let r = 0; r < ROWS; r++) x.set(uniform(IN, 10 + r, 10 ** (r - 2)), r * IN);
    const q = quantizeInt8(float32Rows(weight, OUT, IN));
    const expected = matMul(x, dequantizeInt8(q, OUT, IN), ROWS, IN, OUT);
    const actual = await runLinear(weight, x, { kind: 'int8' });
    for (let r = 0; r < ROWS; r++) {
      const row = (m: ArrayLike<number>) => Array.from({ length: OUT }, (_, n) => m[r * OUT + n]!);
      const scale = Math.max(...row(expected).map(Math.abs));
      const error = maxAbsDiff(row(actual), row(expected)) / scale;
      assert.ok(error < 1e-2, `row ${r} (activations ~1e${r - 2}): relative error ${error}`);
    }
  });

  it('quantises each output channel to [-127, 127] with max |w| / 127', () => {
    const weight = Float32Array.from([1, -0.6, 0.25, 0, 0, 0]); // [2 out, 3 in]; the second channel is all zeros
    const q = quantizeInt8(float32Rows(weight, 2, 3));
    assert.deepEqual([...q.scales], [Math.fround(1 / 127), 1]);
    assert.deepEqual([...q.codes], [127, 0, -76, 0, 32, 0]); // [in, out]
  });
});

describe('kernel candidates: int8 with per-tensor activations, 8-bit MatMulNBits', () => {
  it('int8-tensor: DynamicQuantizeMatMul matches an f32 MatMul by the dequantised weight, to the tensor\'s 8-bit step', async () => {
    const weight = uniform(OUT * IN, 3);
    const x = uniform(ROWS * IN, 4);
    const expected = matMul(x, dequantizeInt8(quantizeInt8(float32Rows(weight, OUT, IN)), OUT, IN), ROWS, IN, OUT);
    const actual = await runLinear(weight, x, { kind: 'int8-tensor' });
    const error = maxAbsDiff(actual, expected) / Math.max(...expected.map(Math.abs));
    assert.ok(error < 1e-2, `relative error ${error}`);
  });

  it('int8-blocks stores byte j of a block as its code + 128, with max |w| / 127 per block', () => {
    // One output channel, 6 inputs in blocks of 4: the last block is partial, padded with the zero point.
    const weight = Float32Array.from([0.5, -1, 0.25, 0, 2, -1.5]);
    const q = quantizeInt8Blocks(float32Rows(weight, 1, 6), 4);
    assert.equal(q.kBlocks, 2);
    assert.deepEqual([...q.scales], [Math.fround(1 / 127), Math.fround(2 / 127)]);
    assert.deepEqual([...q.codes], [128 + 64, 128 - 127, 128 + 32, 128, 128 + 127, 128 - 95, 128, 128]);
    const back = dequantizeInt8Blocks(q, 1, 6);
    for (let k = 0; k < 6; k++) assert.ok(Math.abs(back[k]! - weight[k]!) <= q.scales[Math.floor(k / 4)]! / 2 + 1e-7, `w[${k}]`);
  });

  for (const blockSize of [16, 32]) {
    it(`int8-blocks, block ${blockSize}: onnxruntime's 8-bit MatMulNBits equals an f32 MatMul by the dequantised weight`, async () => {
      const weight = uniform(OUT * IN, 5);
      const x = uniform(ROWS * IN, 6);
      const q = quantizeInt8Blocks(float32Rows(weight, OUT, IN), blockSize);
      const expected = matMul(x, transposed(dequantizeInt8Blocks(q, OUT, IN), OUT, IN), ROWS, IN, OUT);
      const actual = await runLinear(weight, x, { kind: 'int8-blocks', blockSize });
      // Accuracy level 4 quantises x to int8 per block, as for int4.
      const error = maxAbsDiff(actual, expected) / Math.max(...expected.map(Math.abs));
      assert.ok(error < 1e-2, `relative error ${error}`);
    });
  }
});

describe('weight format plans', () => {
  it('rejects an unknown format or block size', () => {
    assert.throws(() => linearPlan({ weights: 'q3' as never }), OptionError);
    assert.throws(() => linearPlan({ weights: 'q4', q4BlockSize: 24 }), OptionError);
  });
});
