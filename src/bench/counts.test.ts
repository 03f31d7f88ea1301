// Tests of the image-token counts the bench reports: the counts per stage and MustDrop's two
// averages, on hand examples.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { averageAfterPruning, averageProcessed, stageCounts } from './counts.js';

/** Counts entering each of `layers` layers when the count becomes counts[s] at boundaries[s - 1]. */
function perLayer(layers: number, boundaries: readonly number[], counts: readonly number[]): number[] {
  return Array.from({ length: layers }, (_, layer) => counts[boundaries.filter((b) => b <= layer).length]!);
}

describe('MustDrop averages', () => {
  it('reproduce (2·N0 + 4·|S1| + 4·|S2| + 4·|S3| + 18·|S4|) / 32 for filters after layers 2, 6, 10, 14', () => {
    const counts = perLayer(32, [3, 7, 11, 15], [576, 400, 300, 200, 100]);
    assert.equal(averageAfterPruning(counts, [3, 7, 11, 15]), (2 * 576 + 4 * 400 + 4 * 300 + 4 * 200 + 18 * 100) / 32);
    assert.equal(averageProcessed(counts), (3 * 576 + 4 * 400 + 4 * 300 + 4 * 200 + 17 * 100) / 32);
  });

  it('generalise to another layer list and depth', () => {
    // Filters after layers 1 and 3 of 8: layers 0 | 1 2 | 3 4 5 6 7 in the paper's convention.
    const counts = [10, 10, 6, 6, 3, 3, 3, 3];
    assert.equal(averageAfterPruning(counts, [2, 4]), (1 * 10 + 2 * 6 + 5 * 3) / 8);
    assert.equal(averageProcessed(counts), 44 / 8);
  });
});

describe('stageCounts', () => {
  it('lists the image’s tokens, a vision merge, then the count after each drop', () => {
    assert.deepEqual(stageCounts(576, perLayer(12, [3, 6, 9], [576, 288, 144, 72]), [3, 6, 9]), [576, 288, 144, 72]);
    assert.deepEqual(stageCounts(576, perLayer(6, [2], [500, 420]), [2]), [576, 500, 420]);
    assert.deepEqual(stageCounts(576, Array<number>(4).fill(576), []), [576]);
  });
});
