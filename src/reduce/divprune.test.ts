// DivPrune: the shared conformance suite, then the spec's rules (divprune.md section 2): the kept
// count with Python's rounding, the greedy max-min selection and its ties, renumbered positions,
// and option errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError } from '../errors.js';
import { divPrune, divPruneKept, maxMinDiverse } from './divprune.js';
import { reducerFromFlags } from './registry.js';
import { runStrategyConformance } from './conformance.case.test.js';

runStrategyConformance('divprune ratio 0.5', () => divPrune({ ratio: 0.5 }));
runStrategyConformance('divprune keep 5', () => divPrune({ keep: 5 }));

describe('divprune rules', () => {
  it('keeps int(round(ratio x N)) with Python rounding, or the count given', () => {
    assert.equal(divPruneKept({ ratio: 0.098, keep: null }, 576), 56);
    assert.equal(divPruneKept({ ratio: 0.5, keep: null }, 5), 2); // 2.5 to the even neighbour
    assert.equal(divPruneKept({ ratio: 0.5, keep: null }, 7), 4);
    assert.equal(divPruneKept({ ratio: 0.5, keep: 64 }, 576), 64);
  });

  it('picks the most isolated token first, then the farthest from those picked; first index on ties', () => {
    // Points on a line, distance |a - b|: 0, 1, 2, 10, 10.5, 20.
    const xs = [0, 1, 2, 10, 10.5, 20];
    const N = xs.length;
    const D = Float32Array.from({ length: N * N }, (_, k) => Math.abs(xs[Math.floor(k / N)]! - xs[k % N]!));
    // Second-smallest per column: 1, 1, 1, 0.5, 0.5, 9.5 -> token 5; then farthest from 20: token 0;
    // then max of min(|x-20|, |x|): 10 (10) beats 10.5 (9.5); then 2 (2) vs 1 (1) vs 10.5 (0.5).
    assert.deepEqual(maxMinDiverse(D, N, 4), [5, 0, 3, 2]);
    // Ties go to the first index: three equal points, each its own nearest at distance 0.
    const tied = Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(maxMinDiverse(tied, 3, 3), [0, 1, 2]);
  });

  it('acts on the input embeddings and renumbers positions', () => {
    const strategy = divPrune();
    assert.deepEqual(strategy.boundaries, [0]);
    assert.equal(strategy.positionPolicy, 'reindex');
    assert.deepEqual(strategy.plannedImageTokensPerLayer!(576, 3), [56, 56, 56]);
  });

  it('rejects bad options with a clear error', async () => {
    assert.throws(() => divPrune({ ratio: 0 }), (e: unknown) => e instanceof OptionError && /divprune ratio/.test(e.message));
    assert.throws(() => divPrune({ ratio: 1.5 }), (e: unknown) => e instanceof OptionError && /divprune ratio/.test(e.message));
    assert.throws(() => divPrune({ ratio: 0.5, keep: 3 }), (e: unknown) => e instanceof OptionError && /divprune keep/.test(e.message));
    assert.throws(() => divPrune({ keep: 0 }), OptionError);
    assert.throws(() => reducerFromFlags('dart', { divpruneKeep: 3 }), (e: unknown) => e instanceof OptionError && /--divprune-\*/.test(e.message));
    // A count the image cannot give is refused when the image is known.
    const sequence = { hidden: new Float32Array(4 * 2), positions: [0, 1, 2, 3], imageStart: 1, imageTokens: [0, 1], keyTokens: [] };
    const context = { layer: 0, originalImageTokens: 2, sequence, numHeads: 1, attention: undefined, scoresAtNextLayer: () => Promise.reject(new Error('unused')) };
    await assert.rejects(divPrune({ keep: 3 }).onBoundary(context), (e: unknown) => e instanceof OptionError && /divprune keep/.test(e.message) && /\[1, 2\]/.test(e.message));
    await assert.rejects(divPrune({ ratio: 0.1 }).onBoundary(context), (e: unknown) => e instanceof OptionError && /divprune ratio/.test(e.message));
  });
});
