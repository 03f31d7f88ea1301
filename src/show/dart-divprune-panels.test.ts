// stagePanels for DART and DivPrune records on a 4x4 grid: DART's image pivots are marked and the
// legend says what the marks are; DivPrune's stage before the decoder is captioned so, and its
// record (fewer tokens entering layer 0 than the grid has) is accepted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ReductionRecord } from '../generate/prefill.js';
import { stagePanels } from './stage-panels.js';

const GRID = { imageTokens: 16, classTokens: 0 };

describe('stage panels of dart and divprune', () => {
  it("marks DART's image pivots among the kept patches", () => {
    const record: ReductionRecord = {
      strategy: 'dart',
      options: {},
      stages: [{ afterLayer: 2, keptImageTokens: [0, 3, 5, 6, 9, 15], created: [], order: [0, 3, 5, 6, 9, 15], detail: { imagePivots: [5, 9], textPivots: [0] } }],
      imageTokensPerLayer: [16, 16, 6, 6],
    };
    const { panels, legend } = stagePanels(record, GRID);
    assert.equal(panels.length, 2);
    assert.deepEqual(panels[1]!.marked, [[5], [9]]);
    assert.equal(panels[1]!.caption, 'after 2 layers: 6 kept (37.5%)');
    assert.deepEqual(
      legend.map((e) => e.swatch),
      ['mark', 'dimmed'],
    );
  });

  it("captions DivPrune's stage as before the decoder", () => {
    const record: ReductionRecord = {
      strategy: 'divprune',
      options: { ratio: 0.25 },
      stages: [{ afterLayer: 0, keptImageTokens: [1, 4, 10, 14], created: [], order: [1, 4, 10, 14], detail: { selectionOrder: [10, 1, 14, 4] } }],
      imageTokensPerLayer: [4, 4, 4],
    };
    const { panels, legend } = stagePanels(record, GRID);
    assert.equal(panels[1]!.caption, 'before the decoder: 4 kept (25%)');
    assert.deepEqual(panels[1]!.keptPatches, [1, 4, 10, 14]);
    assert.deepEqual(panels[1]!.marked, []);
    assert.deepEqual(legend, []);
  });
});
