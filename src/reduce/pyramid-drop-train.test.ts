// PyramidDrop's training ranking against the spec (algorithms.md 2.5): query rows are the last
// instruction token of every answer span, scores the head- and row-mean attention over the image
// columns, kept counts int(N x ratio) of the original N, ascending; rows without an image or an
// answer keep everything.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OptionError } from '../errors.js';
import type { BoundaryRow, TrainingBoundary } from '../runtime/training-runtime.js';
import { lastInstructionTokens, pyramidDropTraining } from './pyramid-drop-train.js';

const I = -100;

function row(labels: number[], imageStart: number, imageCount: number): BoundaryRow {
  return {
    length: labels.length,
    positions: labels.map((_, i) => i),
    labels: Int32Array.from(labels),
    imageStart,
    imageTokens: Array.from({ length: imageCount }, (_, i) => i),
  };
}

describe('PyramidDrop training', () => {
  test('last instruction tokens: the position before each answer span', () => {
    //              0  1  2  3  4  5  6  7  8  9
    const labels = [I, I, I, I, 5, 2, I, I, 7, 2];
    assert.deepEqual(lastInstructionTokens(row(labels, 1, 2)), [3, 7]);
    assert.deepEqual(lastInstructionTokens(row([I, I, I], 0, 2)), []);
  });

  test('scores average heads and every answer span\'s query; keeps int(N x ratio) of the original N, ascending', async () => {
    const strategy = pyramidDropTraining({ layers: [1, 2], ratios: [0.5, 0.25] });
    // Row 0: BOS, 8 image tokens (1..8), text 9..10, answer 11, text 12..13, answer 14 (length 15).
    const labels0 = [I, I, I, I, I, I, I, I, I, I, I, 4, I, I, 9];
    const rows = [row(labels0, 1, 8), row([I, I, I, 3], -1, 0), row([I, I, I, I, I], 1, 3)];
    const asked: { row: number; queries: number[] }[] = [];
    const H = 2;
    const T = labels0.length;
    // Head 0 favours image tokens 6 and 2 from query 10; head 1 favours 6 and 7 from query 13.
    const favoured: Record<number, Record<number, number[]>> = { 0: { 10: [6, 2], 13: [3] }, 1: { 10: [1], 13: [6, 7] } };
    const boundary = (layer: number): TrainingBoundary => ({
      layer,
      originalImageTokens: 8,
      length: T,
      hidden: new Float32Array(0),
      rows,
      async nextLayerAttention(r, queries) {
        asked.push({ row: r, queries: [...queries] });
        const probs = new Float32Array(H * queries.length * T).fill(0.01);
        queries.forEach((q, qi) => {
          for (let h = 0; h < H; h++) for (const image of favoured[h]![q] ?? []) probs[(h * queries.length + qi) * T + 1 + image] = 0.5;
        });
        return probs;
      },
    });
    const plans = await strategy.boundary(boundary(1));
    assert.deepEqual(asked, [{ row: 0, queries: [10, 13] }], 'rows without an image or an answer are not scored');
    // Column sums: 6 -> 1.0, 2 -> 0.5, 1 -> 0.5, 3 -> 0.5, 7 -> 0.5; ties go to the lower index.
    assert.deepEqual(plans, [{ keep: [1, 2, 3, 6] }, null, null]);
    const second = await strategy.boundary(boundary(2));
    assert.deepEqual(second?.[0], { keep: [1, 6] }, 'int(8 x 0.25) = 2 of the ORIGINAL 8');
    assert.equal(await strategy.boundary(boundary(3)), undefined, 'no drop off the layer list');
  });

  test('layer counts must leave a next layer to score with', () => {
    assert.throws(() => pyramidDropTraining({ layers: [2, 4] }).checkModel(4), OptionError);
    pyramidDropTraining({ layers: [2] }).checkModel(4);
  });
});
