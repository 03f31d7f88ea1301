// The prefill attention graphs against the float64 reference attention, multi-head and grouped-query:
// the context of both kernels (GroupQueryAttention and MatMul/Softmax) in one call and in query blocks
// (a block attends to the keys up to its last row), and the attention rows the strategies rank with
// (probabilities of chosen query rows), with relative error <= 1e-5.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attention } from '../reference/attention.js';
import { softmax } from '../reference/math.js';
import { floatTensor, GraphSession, int64Tensor } from '../../runtime/session.js';
import { mulberry32 } from '../../util/prng.js';
import { buildPrefillAttentionGraph, buildPrefillAttentionRowsGraph, queryBlocks, type AttentionShape, type PrefillKernel } from './attention.js';
import { relativeError } from '../reference/test-helpers.js';

const TOLERANCE = 1e-5;

/** Token-major q [T, H*Hd] and k, v [T, Hk*Hd], as the reference takes them. */
function randomInputs(shape: AttentionShape, T: number, seed: number) {
  const next = mulberry32(seed);
  const matrix = (heads: number) => Float64Array.from({ length: T * heads * shape.headDim }, () => 4 * next() - 2);
  return { q: matrix(shape.numHeads), k: matrix(shape.numKvHeads), v: matrix(shape.numKvHeads) };
}

/** [T, heads*Hd] -> [heads, T, Hd] (times `scale`), the graph's query and value layout. */
function headMajor(x: Float64Array, T: number, heads: number, Hd: number, scale = 1): Float32Array {
  const out = new Float32Array(x.length);
  for (let t = 0; t < T; t++) for (let h = 0; h < heads; h++) for (let d = 0; d < Hd; d++) out[(h * T + t) * Hd + d] = scale * x[(t * heads + h) * Hd + d]!;
  return out;
}

/** [T, Hk*Hd] -> [Hk, Hd, T], the graph's key layout. */
function keysTransposed(k: Float64Array, T: number, Hk: number, Hd: number): Float32Array {
  const out = new Float32Array(k.length);
  for (let t = 0; t < T; t++) for (let h = 0; h < Hk; h++) for (let d = 0; d < Hd; d++) out[(h * Hd + d) * T + t] = k[(t * Hk + h) * Hd + d]!;
  return out;
}

/** Reference probabilities [H, R, T] of query rows `rows`, causal. */
function referenceRows(shape: AttentionShape, T: number, q: Float64Array, k: Float64Array, rows: readonly number[]): number[] {
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
  const out: number[] = [];
  for (let h = 0; h < H; h++) {
    const kv = Math.floor(h / (H / Hk));
    for (const row of rows) {
      const scores = Float64Array.from({ length: T }, (_, j) => {
        if (j > row) return -Infinity;
        let dot = 0;
        for (let d = 0; d < Hd; d++) dot += q[(row * H + h) * Hd + d]! * k[(j * Hk + kv) * Hd + d]!;
        return dot / Math.sqrt(Hd);
      });
      out.push(...softmax(scores));
    }
  }
  return out;
}

const SHAPES: readonly (AttentionShape & { label: string })[] = [
  { label: 'multi-head', numHeads: 4, numKvHeads: 4, headDim: 8 },
  { label: 'grouped-query', numHeads: 4, numKvHeads: 2, headDim: 16 },
];
const KERNELS: readonly PrefillKernel[] = ['gqa', 'matmul'];

describe('prefill attention graphs against the float64 reference', () => {
  const T = 9;
  for (const shape of SHAPES) {
    const { numHeads: H, numKvHeads: Hk, headDim: Hd } = shape;
    const { q, k, v } = randomInputs(shape, T, 5);
    const query = floatTensor(headMajor(q, T, H, Hd, Hd ** -0.5), [Hk, (H / Hk) * T, Hd]);
    const keyT = floatTensor(keysTransposed(k, T, Hk, Hd), [Hk, Hd, T]);
    const value = floatTensor(headMajor(v, T, Hk, Hd), [Hk, T, Hd]);
    for (const kernel of KERNELS) {
      it(`${kernel} kernel, ${shape.label}: the context in one call and in blocks of 4 query rows`, async () => {
        const context = attention(q, k, v, { tokens: T, numHeads: H, numKvHeads: Hk, headDim: Hd, causal: true });
        const session = await GraphSession.create(buildPrefillAttentionGraph(shape, kernel));
        try {
          for (const blocks of [queryBlocks(T, T), queryBlocks(T, 4)]) {
            const joined = new Float32Array(T * H * Hd);
            for (const block of blocks) {
              const out = await session.run({ query, key_t: keyT, value, block: int64Tensor(block) });
              assert.deepEqual(out.context!.dims, [block[1] - block[0], H * Hd]);
              joined.set(out.context!.data as Float32Array, block[0] * H * Hd);
            }
            const error = relativeError(joined, context);
            assert.ok(error <= TOLERANCE, `${blocks.length} block(s): relative error ${error.toExponential(2)}`);
          }
        } finally {
          await session.release();
        }
      });
    }

    it(`attention rows, ${shape.label}`, async () => {
      const rows = [8, 0, 4];
      const session = await GraphSession.create(buildPrefillAttentionRowsGraph(shape));
      try {
        const out = await session.run({ query, key_t: keyT, attention_rows: int64Tensor(rows) });
        assert.deepEqual(out.attentions!.dims, [H, rows.length, T]);
        const error = relativeError(out.attentions!.data as Float32Array, referenceRows(shape, T, q, k, rows));
        assert.ok(error <= TOLERANCE, `relative error ${error.toExponential(2)}`);
      } finally {
        await session.release();
      }
    });
  }
});

describe('query blocks', () => {
  it('cover [0, T) in order, the last one short', () => {
    assert.deepEqual(queryBlocks(9, 4), [[0, 4], [4, 8], [8, 9]]);
    assert.deepEqual(queryBlocks(2968), [[0, 1024], [1024, 2048], [2048, 2968]]);
    assert.deepEqual(queryBlocks(616), [[0, 616]]);
  });
});
