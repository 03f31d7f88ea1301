// Attention checks: one visible token returns its value row, hand-computed weights, causal
// masking, and grouped-query sharing equal to plain multi-head attention with repeated k/v.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attention } from './attention.js';
import { maxAbsDiff, randomMatrix } from './test-helpers.js';

test('with a single token the output is the value row, causal or not', () => {
  const q = randomMatrix(2 * 4, 1);
  const k = randomMatrix(2 * 4, 2);
  const v = randomMatrix(2 * 4, 3);
  for (const causal of [true, false]) {
    assert.deepEqual(attention(q, k, v, { tokens: 1, numHeads: 2, numKvHeads: 2, headDim: 4, causal }), v);
  }
});

test('weights are softmax(q·k / sqrt(headDim)) over visible keys', () => {
  // headDim 4 → scale 1/2; scores for token 1 are [0, 2 ln 3 / 2] → weights [1/4, 3/4].
  const q = Float64Array.from([0, 0, 0, 0, 1, 0, 0, 0]);
  const k = Float64Array.from([0, 0, 0, 0, 2 * Math.log(3), 0, 0, 0]);
  const v = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const bidirectional = attention(q, k, v, { tokens: 2, numHeads: 1, numKvHeads: 1, headDim: 4, causal: false });
  const causal = attention(q, k, v, { tokens: 2, numHeads: 1, numKvHeads: 1, headDim: 4, causal: true });
  // Token 0's query is zero: uniform over both tokens without a mask, only itself with one.
  assert.ok(maxAbsDiff(bidirectional.subarray(0, 4), [3, 4, 5, 6]) < 1e-15);
  assert.deepEqual([...causal.subarray(0, 4)], [1, 2, 3, 4]);
  const mixed = [0.25 * 1 + 0.75 * 5, 0.25 * 2 + 0.75 * 6, 0.25 * 3 + 0.75 * 7, 0.25 * 4 + 0.75 * 8];
  assert.ok(maxAbsDiff(causal.subarray(4), mixed) < 1e-14);
  assert.ok(maxAbsDiff(bidirectional.subarray(4), mixed) < 1e-14);
});

test('causal output at token t ignores keys and values after t', () => {
  const shape = { tokens: 4, numHeads: 2, numKvHeads: 2, headDim: 3, causal: true };
  const q = randomMatrix(4 * 6, 4);
  const k = randomMatrix(4 * 6, 5);
  const v = randomMatrix(4 * 6, 6);
  const base = attention(q, k, v, shape);
  const k2 = k.slice();
  const v2 = v.slice();
  k2.fill(9, 12);
  v2.fill(-9, 12);
  const changed = attention(q, k2, v2, shape);
  assert.deepEqual(changed.subarray(0, 12), base.subarray(0, 12));
  assert.ok(maxAbsDiff(changed.subarray(12), base.subarray(12)) > 0.1);
});

test('grouped-query attention equals multi-head attention with each kv head repeated', () => {
  // 4 query heads over 2 kv heads: heads 0,1 read kv 0 and heads 2,3 read kv 1.
  const tokens = 3;
  const headDim = 2;
  const q = randomMatrix(tokens * 4 * headDim, 7);
  const k = randomMatrix(tokens * 2 * headDim, 8);
  const v = randomMatrix(tokens * 2 * headDim, 9);
  const repeat = (x: Float64Array) => {
    const out = new Float64Array(tokens * 4 * headDim);
    for (let t = 0; t < tokens; t++) {
      for (let h = 0; h < 4; h++) {
        const source = (t * 2 + Math.floor(h / 2)) * headDim;
        out.set(x.subarray(source, source + headDim), (t * 4 + h) * headDim);
      }
    }
    return out;
  };
  for (const causal of [true, false]) {
    const grouped = attention(q, k, v, { tokens, numHeads: 4, numKvHeads: 2, headDim, causal });
    const full = attention(q, repeat(k), repeat(v), { tokens, numHeads: 4, numKvHeads: 4, headDim, causal });
    assert.deepEqual(grouped, full);
  }
});
