// torchTopk against torch 1.13's CPU topk on values full of ties (test-fixtures/parity/selection-goldens.json,
// written by tools/python/selection_parity.py): both of ATen's paths, both directions, NaN as the largest.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { torchTopk } from './torch-topk.js';

const { topk } = JSON.parse(readFileSync(new URL('../../test-fixtures/parity/selection-goldens.json', import.meta.url), 'utf8')) as {
  topk: { values: (number | null)[]; k: number; largest: boolean; indices: number[] }[];
};

describe('torchTopk', () => {
  it('returns tied values in torch.topk order (nth_element + sort, and partial_sort when k * 64 <= n)', () => {
    assert.ok(topk.some((c) => c.k * 64 <= c.values.length) && topk.some((c) => c.k * 64 > c.values.length));
    for (const c of topk) {
      const values = c.values.map((v) => (v === null ? NaN : v));
      assert.deepEqual(torchTopk(values, c.k, c.largest), c.indices, `n ${values.length}, k ${c.k}, largest ${c.largest}`);
    }
  });

  it('is not "lowest index first": the ties of the parity model come out the other way', () => {
    // Two equal maxima out of 15, k = 2 (nth_element path): torch returned [14, 5] on SparseVLM's centre scores.
    const values = Array.from({ length: 15 }, (_, i) => (i === 5 || i === 14 ? 1.25 : i / 20));
    assert.deepEqual(torchTopk(values, 2), [14, 5]);
  });

  it('refuses k outside 0..n', () => {
    assert.throws(() => torchTopk([1, 2], 3), RangeError);
    assert.deepEqual(torchTopk([1, 2], 0), []);
  });
});
