// PyramidDrop: the shared conformance suite, then the spec's rules (section 2): scoring with the next
// layer for the last prompt row, int(N * ratio) of the original N, renumbered positions, options.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError } from '../errors.js';
import { pyramidDrop, pyramidDropKept } from './pyramid-drop.js';
import { runStrategyConformance } from './conformance.case.test.js';

runStrategyConformance('pdrop layers 2,3,4 ratios 0.5,0.25,0.125', () => pyramidDrop({ layers: [2, 3, 4], ratios: [0.5, 0.25, 0.125] }));
runStrategyConformance('pdrop layers 1,4 lambda 0.4', () => pyramidDrop({ layers: [1, 4], lambda: 0.4 }));

describe('pdrop rules', () => {
  it('keeps int(N * ratio) of the original count', () => {
    assert.deepEqual([0.5, 0.25, 0.125].map((r) => pyramidDropKept(576, r)), [288, 144, 72]);
    assert.deepEqual([0.4, 0.4 ** 2, 0.4 ** 3].map((r) => pyramidDropKept(576, r)), [230, 92, 36]);
    assert.deepEqual([0.6, 0.6 ** 2, 0.6 ** 3].map((r) => pyramidDropKept(2880, r)), [1728, 1036, 622]);
  });

  it('defaults to the paper: layers 8,16,24 with lambda 0.5', () => {
    const strategy = pyramidDrop();
    assert.deepEqual(strategy.options, { layers: [8, 16, 24], ratios: [0.5, 0.25, 0.125] });
    assert.equal(strategy.positionPolicy, 'reindex');
    const perLayer = strategy.plannedImageTokensPerLayer!(576, 32);
    assert.deepEqual([perLayer[7], perLayer[8], perLayer[15], perLayer[16], perLayer[24], perLayer[31]], [576, 288, 288, 144, 72, 72]);
    assert.equal(perLayer.reduce((a, b) => a + b, 0) / 32, 270); // PyramidDrop issue #22's average
  });

  it('scores the last prompt row with the next layer and keeps the top tokens in order', async () => {
    const strategy = pyramidDrop({ layers: [2], ratios: [0.5] });
    const sequence = { hidden: new Float32Array(0), positions: [0, 1, 2, 3, 4, 5], imageStart: 1, imageTokens: [3, 5, 8, 9], keyTokens: [] };
    const asked: number[][] = [];
    const plan = await strategy.onBoundary({
      layer: 2,
      originalImageTokens: 4,
      sequence,
      numHeads: 2,
      attention: undefined,
      async scoresAtNextLayer(rows) {
        asked.push([...rows]);
        // Two heads, one row, six keys; image columns 1..4 average 0.1, 0.3, 0.05, 0.2.
        return Float32Array.from([0.1, 0.1, 0.3, 0.1, 0.2, 0.2, 0.1, 0.1, 0.3, 0.0, 0.2, 0.3]);
      },
    });
    assert.deepEqual(asked, [[5]]);
    assert.deepEqual(plan, { keep: [1, 3] });
  });

  it('rejects bad options with a clear error', () => {
    const fails = (options: Parameters<typeof pyramidDrop>[0], ...mentions: RegExp[]) =>
      assert.throws(() => pyramidDrop(options), (e: unknown) => e instanceof OptionError && mentions.every((m) => m.test(e.message)));
    fails({ layers: [8, 8, 24] }, /pdrop layers/, /increasing/);
    fails({ layers: [16, 8] }, /increasing/);
    fails({ layers: [8, 16], ratios: [0.5, 0.75] }, /pdrop ratios/, /decreasing/);
    fails({ layers: [8, 16], ratios: [1.5, 0.5] }, /\(0, 1\]/);
    fails({ layers: [8, 16], ratios: [0.5] }, /one ratio per layer/);
    fails({ lambda: 1.2 }, /lambda/);
    fails({ ratios: [0.5, 0.25, 0.1], lambda: 0.5 }, /not both/);
    assert.throws(() => pyramidDrop({ layers: [8, 16, 32] }).checkModel(32), (e: unknown) => e instanceof OptionError && /32/.test(e.message));
  });
});
