// SparseVLM: the shared conformance suite, then the spec's rules (sparsevlm.md sections 2-4): text
// raters, the float32 rank rule, the kept count's truncation and N-1 cap, the no-op stage,
// recycling counts and weights, and option errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError } from '../errors.js';
import { matrixRank, sparseVlm, textRaters } from './sparsevlm.js';
import { runStrategyConformance } from './conformance.case.test.js';
import type { CreatedToken, PrefillSequence, TokenPlan } from './types.js';

const COUNTS_SKIP = {
  test: 'image tokens per layer are as declared',
  reason: 'the kept counts follow the rank of the rater attention and the recycled clusters: they depend on the data',
};
runStrategyConformance('sparsevlm layers 1,3 scale 3 bias 1', () => sparseVlm({ layers: [1, 3], scale: 3, bias: 1 }), { skip: [COUNTS_SKIP] });
runStrategyConformance('sparsevlm layers 2,4,5 scale 2 seed 7', () => sparseVlm({ layers: [2, 4, 5], scale: 2, seed: 7 }), { skip: [COUNTS_SKIP] });
runStrategyConformance('sparsevlm without recycling', () => sparseVlm({ layers: [2], scale: 2, recycle: false }), { skip: [COUNTS_SKIP] });

/** A prompt of width 2: 1 text token, 3 image tokens, `text` after them. */
function prompt(image: number[][], text: number[][]): PrefillSequence {
  const rows = [[0, 0], ...image, ...text];
  return { hidden: Float32Array.from(rows.flat()), positions: rows.map((_, i) => i), imageStart: 1, imageTokens: image.map((_, i) => i), keyTokens: [] };
}

describe('sparsevlm rules', () => {
  it('rates with the text tokens whose mean softmax share over the image rows exceeds the mean', () => {
    // Image rows all along x: text 0 (x = 3) takes most of every softmax, text 2 (x = 1) some, text 1 none.
    const input = prompt([[1, 0], [2, 0], [1, 0]], [[3, 0], [-2, 0], [1, 0]]);
    assert.deepEqual(textRaters(input, 2), [0]);
  });

  it('ranks as torch.linalg.matrix_rank does in float32', () => {
    assert.equal(matrixRank([Float64Array.from([1, 2, 3]), Float64Array.from([2, 4, 6])]), 1);
    assert.equal(matrixRank([Float64Array.from([1, 2, 3]), Float64Array.from([2, 4, 6 + 1e-3])]), 2);
    // A difference far below max(m, n) x eps_f32 x sigma_max counts for nothing.
    assert.equal(matrixRank([Float64Array.from([1, 2, 3]), Float64Array.from([2, 4, 6 + 1e-9])]), 1);
  });

  /** Runs one pruning stage on 6 image tokens with 2 raters whose attention is given. */
  async function stage(options: Parameters<typeof sparseVlm>[0], rater0: number[], rater1: number[]) {
    const image = [[1, 0], [0, 1], [1, 1], [2, 0], [0, 2], [3, 3]];
    const text = [[5, 0], [0, 5], [0, 0]];
    const input = prompt(image, text);
    const strategy = sparseVlm({ layers: [1], ...options });
    const forPrompt = strategy.forPrompt!({ ...input }, 4);
    // Raters: texts 0 and 1 (text 2, all zeros, gets the smallest share). One head, keys = 10 tokens.
    const T = input.positions.length;
    const rows = forPrompt.attentionRowsBefore!(1, input)!;
    assert.deepEqual(rows, [7, 8]);
    const attention = new Float32Array(2 * T);
    attention.set([0, ...rater0, 0, 0, 0], 0);
    attention.set([0, ...rater1, 0, 0, 0], T);
    return (await forPrompt.onBoundary({ layer: 1, originalImageTokens: 6, sequence: input, numHeads: 1, attention, scoresAtNextLayer: () => Promise.reject(new Error('unused')) })) as TokenPlan & { detail: Record<string, unknown> };
  }

  it('keeps min(int(rank x scale + bias), N - 1) by the mean rater score, in block order, and recycles the best int(0.3 n) + 1 dropped', async () => {
    // Rank 2; scale 1.25, bias 0.1: int(2.6) = 2 kept. Mean scores: 0.3, 0.05, 0.2, 0.25, 0.1, 0.1.
    const plan = await stage({ scale: 1.25, bias: 0.1 }, [0.4, 0.1, 0.2, 0.1, 0.1, 0.1], [0.2, 0.0, 0.2, 0.4, 0.1, 0.1]);
    assert.deepEqual(plan.detail.rank, 2);
    assert.deepEqual(plan.detail.k, 2);
    assert.deepEqual(plan.tokens.slice(0, 2), [0, 3]);
    // Dropped 1, 2, 4, 5: int(0.3 x 4) + 1 = 2 candidates, best first: 2 (0.2), then of the tied 4 and 5
    // (0.1 each) the one torch.topk returns, 5 (torch 1.13: d[s[d].topk(2)[1]] = [2, 5]); one cluster.
    assert.deepEqual(plan.detail.candidates, [2, 5]);
    const built = plan.tokens.slice(2) as CreatedToken[];
    assert.equal(built.length, 1);
    assert.deepEqual(built[0]!.members, [2, 5]);
    assert.deepEqual(built[0]!.weights, [Math.fround(1 / Math.fround(2 + Math.fround(1e-6))), Math.fround(1 / Math.fround(2 + Math.fround(1e-6)))]);
  });

  it('caps the kept count at N - 1 and keeps everything, recycling nothing, when the rank equals N', async () => {
    const capped = await stage({ scale: 13.5 }, [0.4, 0.1, 0.2, 0.1, 0.1, 0.1], [0.2, 0.0, 0.2, 0.4, 0.1, 0.1]);
    assert.equal(capped.detail.k, 5);
    const noRecycle = await stage({ scale: 1.25, bias: 0.1, recycle: false }, [0.4, 0.1, 0.2, 0.1, 0.1, 0.1], [0.2, 0.0, 0.2, 0.4, 0.1, 0.1]);
    assert.deepEqual((noRecycle as unknown as { keep: number[] }).keep, [0, 3]);
  });

  it('rejects bad options with a clear error', () => {
    assert.throws(() => sparseVlm({ preset: 128, scale: 2 }), (e: unknown) => e instanceof OptionError && /sparsevlm preset/.test(e.message));
    assert.throws(() => sparseVlm({ preset: 100 as 64 }), OptionError);
    assert.throws(() => sparseVlm({ layers: [3, 3] }), (e: unknown) => e instanceof OptionError && /increasing/.test(e.message));
    assert.throws(() => sparseVlm({ layers: [0] }), OptionError);
    assert.throws(() => sparseVlm({ recycleRatio: 1 }), OptionError);
    assert.throws(() => sparseVlm({ scale: -1 }), OptionError);
    assert.throws(() => sparseVlm({ layers: [3, 8] }).checkModel(8), (e: unknown) => e instanceof OptionError && /below the decoder's 8 layers/.test(e.message));
    sparseVlm().checkModel(8); // the code's default list runs on shallower decoders, its deeper layers never reached
    assert.deepEqual(sparseVlm().forPrompt!(prompt([[1, 0]], [[1, 0]]), 8).boundaries, [3, 7]);
    assert.throws(() => sparseVlm().forPrompt!(prompt([[1, 0]], []), 8), (e: unknown) => e instanceof OptionError && /text after the image/.test(e.message));
  });
});
