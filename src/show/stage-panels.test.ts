// stagePanels on hand-made reduction records over a 6x6 grid with two merged 3x3 windows: kept
// merged tokens keep all nine of their patches (checked in the drawn pixels too), outlines follow
// kept merged tokens, marks follow key tokens still present, captions count them, a class token
// shifts indices and stands for no patch, inconsistent records are refused; on a small LLaVA-NeXT
// layout newlines stand for no patch and captions count them, and flat crops count every crop's
// merges; and the title flattens a composition's nested options.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { GraphError } from '../errors.js';
import { stageEntry, type RecordToken, type ReductionRecord } from '../generate/reduction-record.js';
import type { RgbImage } from '../image/index.js';
import { drawStages, layout, patchRect } from './draw-stages.js';
import type { NextTokenLayout } from './next-tokens.js';
import { stagePanels, strategyTitle, tokenPatches } from './stage-panels.js';

/** 3x3 window (wy, wx) of the 6x6 grid, as patch indices. */
function windowOf(wy: number, wx: number): number[] {
  return Array.from({ length: 9 }, (_, i) => (wy * 3 + Math.floor(i / 3)) * 6 + wx * 3 + (i % 3));
}

const WIN0 = windowOf(0, 0);
const WIN3 = windowOf(1, 1);
/** The 18 patches outside both windows, in raster order: 3, 4, 5, 9, 10, 11, 15, ... */
const REST = Array.from({ length: 36 }, (_, p) => p).filter((p) => !WIN0.includes(p) && !WIN3.includes(p));
/** Post-merge order as MustDrop makes it: merged windows first, then the rest; 20 tokens. */
const ORDER = [WIN0, WIN3, ...REST.map((p) => [p])];

/** The vision stage's order: the two windows as built tokens s1c0, s1c1, then the rest as originals (shifted past a class token). */
function visionOrder(classTokens: number): RecordToken[] {
  return [...(classTokens ? [0] : []), 's1c0', 's1c1', ...REST.map((p) => p + classTokens)];
}

/**
 * A MustDrop record: the vision stage, then decoder stages given as places in the span the decoder
 * first saw. Keys: token 1 (merged window 3) and token 5 (patch REST[3] = 9).
 */
function record(stages: { afterLayer: number; firstSpan: number[] }[], classTokens = 0): ReductionRecord {
  const first = visionOrder(classTokens);
  const shifted = (patches: number[]) => patches.map((p) => p + classTokens);
  return {
    strategy: 'mustdrop',
    options: { window: 3 },
    stages: [
      stageEntry({ where: 'vision' }, first, [
        { id: 's1c0', members: shifted(WIN0) },
        { id: 's1c1', members: shifted(WIN3) },
      ]),
      ...stages.map(({ afterLayer, firstSpan }) => stageEntry({ afterLayer }, firstSpan.map((t) => first[t]!), [])),
    ],
    imageTokensPerLayer: [classTokens + 20, classTokens + 20, classTokens + 20],
    vision: { mergedWindows: [0, 3], imageTokenOrder: ORDER, keySet: [1 + classTokens, 5 + classTokens] },
  };
}

/** A decoder-only record (FastV, PyramidDrop): stages keep originals. */
function plainRecord(strategy: string, stages: { afterLayer: number; kept: number[] }[], imageTokensPerLayer: number[]): ReductionRecord {
  return { strategy, options: {}, stages: stages.map(({ afterLayer, kept }) => stageEntry({ afterLayer }, kept, [])), imageTokensPerLayer };
}

const GRID = { imageTokens: 36, classTokens: 0 };
const sorted = (patches: readonly number[]) => [...patches].sort((a, b) => a - b);

describe('tokenPatches', () => {
  it('maps original tokens to their patches', () => {
    const patchesOf = tokenPatches(plainRecord('fastv', [], [36]), GRID);
    assert.deepEqual([0, 7, 35].map(patchesOf), [[0], [7], [35]]);
  });

  it('gives a class token no patch and shifts the rest by one', () => {
    const patchesOf = tokenPatches(record([], 1), { imageTokens: 37, classTokens: 1 });
    assert.deepEqual(patchesOf(0), []);
    assert.deepEqual(patchesOf(1), [0]);
    assert.deepEqual(patchesOf(36), [35]);
  });

  it('refuses indices past the image tokens and a record whose counts disagree with the first span', () => {
    assert.throws(() => tokenPatches(record([]), GRID)(36), GraphError);
    assert.throws(() => tokenPatches({ ...record([]), imageTokensPerLayer: [21] }, GRID), GraphError);
  });
});

describe('stagePanels', () => {
  const reduction = record([
    { afterLayer: 3, firstSpan: [0, 1, 5, 7] },
    { afterLayer: 7, firstSpan: [1, 5] },
    { afterLayer: 11, firstSpan: [0, 7] },
  ]);
  const { panels, legend } = stagePanels(reduction, GRID);

  it('draws all tokens, the vision stage, then each stage', () => {
    assert.deepEqual(
      panels.map((p) => p.caption),
      [
        'all 36 image tokens',
        'vision: 2 windows merged (36 -> 20), 2 key tokens',
        'after 3 layers: 4 kept (11.1%), 2 of 2 key tokens',
        'after 7 layers: 2 kept (5.6%), 2 of 2 key tokens',
        'after 11 layers: 2 kept (5.6%), 0 of 2 key tokens',
      ],
    );
  });

  it('outlines every merged window and marks every key token in the vision panel, dimming nothing', () => {
    const vision = panels[1]!;
    assert.equal(vision.keptPatches, null);
    assert.deepEqual(vision.outlined, [WIN0, WIN3]);
    assert.deepEqual(vision.marked, [WIN3, [9]]);
  });

  it('keeps all nine patches of a kept merged token clear, outlines kept merged tokens and marks kept keys', () => {
    const [, , first, second, third] = panels;
    assert.deepEqual(sorted(first!.keptPatches!), sorted([...WIN0, ...WIN3, 9, 11]));
    assert.deepEqual(first!.outlined, [WIN0, WIN3]);
    assert.deepEqual(first!.marked, [WIN3, [9]]);
    assert.deepEqual(sorted(second!.keptPatches!), sorted([...WIN3, 9]));
    assert.deepEqual(second!.outlined, [WIN3]);
    assert.deepEqual(second!.marked, [WIN3, [9]]);
    assert.deepEqual(sorted(third!.keptPatches!), sorted([...WIN0, 11]));
    assert.deepEqual(third!.outlined, [WIN0]);
    assert.deepEqual(third!.marked, [], 'dropped keys are not marked');
  });

  it('explains outline, mark and dimming in the legend', () => {
    assert.deepEqual(
      legend.map((entry) => entry.swatch),
      ['outline', 'mark', 'dimmed'],
    );
  });

  it('leaves a kept merged window clear in the drawn picture and dims a dropped one', async () => {
    const image: RgbImage = { width: 72, height: 72, data: new Uint8Array(72 * 72 * 3).fill(150) };
    const png = await drawStages({ image, gridSize: 6, title: 't', panels: [panels[3]!] });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const at = layout(1, 72, 72).panels[0]!;
    // Sample each patch's pixel two in from its corner: clear of the 2-pixel outlines and of the marks.
    const sample = (patch: number) => {
      const r = patchRect(patch, 6, 72, 72);
      return data[((at.top + r.top + 2) * info.width + at.left + r.left + 2) * info.channels]!;
    };
    for (const p of WIN3) assert.equal(sample(p), 150, `patch ${p} of the kept merged window clear`);
    for (const p of [...WIN0, 3, 11]) assert.ok(sample(p) < 150, `patch ${p} dimmed`);
  });

  it('marks no key and adds no legend or key counts without a vision stage (FastV, PyramidDrop)', () => {
    const plain = stagePanels(plainRecord('fastv', [{ afterLayer: 2, kept: [0, 4] }], [36, 36, 2]), GRID);
    assert.deepEqual(plain.legend, []);
    assert.deepEqual(
      plain.panels.map((p) => [p.keptPatches, p.marked ?? [], p.caption]),
      [
        [null, [], 'all 36 image tokens'],
        [[0, 4], [], 'after 2 layers: 2 kept (5.6%)'],
      ],
    );
  });

  it('drops the class token from the kept patches under the full feature selection', () => {
    const { panels: full } = stagePanels(record([{ afterLayer: 1, firstSpan: [0, 2] }], 1), { imageTokens: 37, classTokens: 1 });
    assert.deepEqual(full[1]!.caption, 'vision: 2 windows merged (37 -> 21), 2 key tokens');
    assert.deepEqual(full[2]!.keptPatches, WIN3);
    assert.deepEqual(full[2]!.marked, [WIN3]);
  });
});

/** 2x2 tiles of 2x2 patches, feature rows 1 and 2 kept: tokens 0-3 base, 4-7 and 9-12 tile cells, 8 and 13 newlines. */
const NEXT: NextTokenLayout = { patchesPerSide: 2, tileRows: 2, tileCols: 2, grid: { top: 1, left: 0, height: 2, width: 4 } };
const NEXT_GRID = { imageTokens: 14, classTokens: 0, next: NEXT };

describe('stagePanels on LLaVA-NeXT', () => {
  const pdrop = (kept: number[], grid = NEXT_GRID): ReductionRecord => plainRecord('pdrop', [{ afterLayer: 1, kept }], [grid.imageTokens, kept.length]);

  it('maps base and tile tokens to their drawn patches and newlines to none', () => {
    const patchesOf = tokenPatches(pdrop([]), NEXT_GRID);
    assert.deepEqual([0, 3, 4, 7, 8, 9, 12, 13].map(patchesOf), [[0], [3], [4], [7], [], [8], [11], []]);
    assert.throws(() => patchesOf(14), GraphError);
  });

  it('counts base, tile and newline tokens in the captions, and keeps only patches clear', () => {
    const { panels, legend } = stagePanels(pdrop([0, 4, 8, 12]), NEXT_GRID);
    assert.deepEqual(
      panels.map((p) => [p.keptPatches, p.caption]),
      [
        [null, 'all 14 image tokens: base 4 (left), tiles 8 (2x2, right), newlines 2'],
        [[0, 4, 11], 'after 1 layer: 4 kept (28.6%), base 1, tiles 2, newlines 1 kept, 1 dropped'],
      ],
    );
    assert.deepEqual(legend, [
      { swatch: 'hatched', label: 'padding removed by unpadding (no tokens)' },
      { swatch: 'dimmed', label: 'dropped' },
    ]);
  });

  it('leaves the hatching out of the legend when unpadding removed nothing', () => {
    const full = { imageTokens: 4 + 4 * 5, classTokens: 0, next: { ...NEXT, grid: { top: 0, left: 0, height: 4, width: 4 } } };
    assert.deepEqual(stagePanels(pdrop([23], full), full).legend, [{ swatch: 'dimmed', label: 'dropped' }]);
  });

  it('refuses a count other than the packing gives, and a vision stage on the packed layout', () => {
    assert.throws(() => tokenPatches(pdrop([]), { ...NEXT_GRID, imageTokens: 16 }), GraphError);
    assert.throws(() => tokenPatches({ ...pdrop([]), vision: { mergedWindows: [], imageTokenOrder: [], keySet: [] } }, NEXT_GRID), GraphError);
  });

  it("counts every flat crop's merged windows and names the flat layout", () => {
    // Five crops of four patches, each merging its patches 0 and 1: 15 tokens.
    const order = Array.from({ length: 5 }, (_, c) => [[4 * c, 4 * c + 1], [4 * c + 2], [4 * c + 3]]).flat();
    const first: RecordToken[] = Array.from({ length: 5 }, (_, c) => [`s1c${c}`, 4 * c + 2, 4 * c + 3]).flat();
    const built = Array.from({ length: 5 }, (_, c) => ({ id: `s1c${c}`, members: [4 * c, 4 * c + 1] }));
    const record: ReductionRecord = {
      strategy: 'mustdrop',
      options: {},
      stages: [stageEntry({ where: 'vision' }, first, built), stageEntry({ afterLayer: 1 }, ['s1c0', 6], [])],
      imageTokensPerLayer: [15, 15, 2],
      vision: { mergedWindows: [0], mergedWindowsPerCrop: [[0], [0], [0], [0], [0]], imageTokenOrder: order, keySet: [0] },
    };
    const { panels } = stagePanels(record, { imageTokens: 20, classTokens: 0, flatCrops: 5 });
    assert.deepEqual(
      panels.map((p) => p.caption),
      ['all 20 image tokens: 5 crops of 4, flat (no unpadding, no newlines)', 'vision: 5 windows merged (20 -> 15), 1 key token', 'after 1 layer: 2 kept (10%), 1 of 1 key token'],
    );
    assert.deepEqual(panels[2]!.keptPatches, [0, 1, 6]);
  });
});

describe('strategyTitle', () => {
  it('joins arrays with commas and flattens nested options under dotted keys', () => {
    const title = strategyTitle({
      strategy: 'mustdrop-vision+pdrop',
      options: { vision: { window: 3, stages: ['vision'] }, prefill: { layers: [8, 16, 24] } },
      stages: [],
      imageTokensPerLayer: [],
    });
    assert.equal(title, 'mustdrop-vision+pdrop: vision.window=3, vision.stages=vision, prefill.layers=8,16,24');
  });
});

describe('stagePanels for built tokens', () => {
  it('VisionZip: dominant patches clear, every merged patch outlined on its own; SparseVLM: recycled patches outlined', () => {
    const zip: ReductionRecord = {
      strategy: 'visionzip',
      options: {},
      stages: [stageEntry({ where: 'vision' }, ['cls', 4, 9, 's1c0'], [{ id: 's1c0', members: [0, 1, 35] }])],
      imageTokensPerLayer: [4, 4],
    };
    const { panels, legend } = stagePanels(zip, GRID);
    assert.deepEqual(panels[1]!.keptPatches, [4, 9]);
    assert.deepEqual(panels[1]!.outlined, [[0], [1], [35]]);
    assert.equal(panels[1]!.caption, 'vision: 2 kept + 1 contextual (3 merged), 36 -> 4');
    assert.equal(legend[0]!.label, 'merged into a contextual token');
    const sparse: ReductionRecord = {
      strategy: 'sparsevlm',
      options: {},
      stages: [stageEntry({ afterLayer: 2 }, [3, 's1c0'], [{ id: 's1c0', members: [5, 20] }])],
      imageTokensPerLayer: [36, 36, 2],
    };
    const recycled = stagePanels(sparse, GRID);
    assert.deepEqual(recycled.panels[1]!.keptPatches, [3, 5, 20]);
    assert.deepEqual(recycled.panels[1]!.outlined, [[5], [20]]);
    assert.equal(recycled.legend[0]!.label, 'recycled into a cluster token');
  });
});
