// stagePanels on hand-made reduction records over a 6x6 grid with two merged 3x3 windows: kept
// merged tokens keep all nine of their patches (checked in the drawn pixels too), outlines follow
// kept merged tokens, marks follow key tokens still present, captions count them, a class token
// shifts indices and stands for no patch, inconsistent records are refused; and the title flattens
// a composition's nested options.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { GraphError } from '../errors.js';
import type { ReductionRecord } from '../generate/prefill.js';
import type { RgbImage } from '../image/index.js';
import { drawStages, layout, patchRect } from './draw-stages.js';
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

/** Keys: token 1 (merged window 3) and token 5 (patch REST[3] = 9). */
function record(stages: { afterLayer: number; keptImageTokens: number[] }[], classTokens = 0): ReductionRecord {
  return {
    strategy: 'mustdrop',
    options: { window: 3 },
    stages,
    imageTokensPerLayer: [classTokens + 20, classTokens + 20, classTokens + 20],
    vision: { mergedWindows: [0, 3], imageTokenOrder: ORDER, keySet: [1 + classTokens, 5 + classTokens] },
  };
}

const GRID = { imageTokens: 36, classTokens: 0 };
const sorted = (patches: readonly number[]) => [...patches].sort((a, b) => a - b);

describe('tokenPatches', () => {
  it('maps a merged token to the nine patches of its window and an unmerged one to its patch', () => {
    const patchesOf = tokenPatches(record([]), GRID);
    assert.deepEqual(patchesOf(0), WIN0);
    assert.deepEqual(patchesOf(1), WIN3);
    assert.deepEqual([2, 5, 19].map(patchesOf), [[3], [9], [32]]);
  });

  it('maps tokens to themselves without a vision stage', () => {
    const patchesOf = tokenPatches({ strategy: 'fastv', options: {}, stages: [], imageTokensPerLayer: [36] }, GRID);
    assert.deepEqual([0, 7, 35].map(patchesOf), [[0], [7], [35]]);
  });

  it('gives a class token no patch and shifts the rest by one', () => {
    const patchesOf = tokenPatches(record([], 1), { imageTokens: 37, classTokens: 1 });
    assert.deepEqual(patchesOf(0), []);
    assert.deepEqual(patchesOf(1), WIN0);
    assert.deepEqual(patchesOf(20), [32]);
  });

  it('refuses indices past the image tokens and a record whose counts disagree with the order', () => {
    assert.throws(() => tokenPatches(record([]), GRID)(20), GraphError);
    assert.throws(() => tokenPatches({ ...record([]), imageTokensPerLayer: [21] }, GRID), GraphError);
  });
});

describe('stagePanels', () => {
  const reduction = record([
    { afterLayer: 3, keptImageTokens: [0, 1, 5, 7] },
    { afterLayer: 7, keptImageTokens: [1, 5] },
    { afterLayer: 11, keptImageTokens: [0, 7] },
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
    const plain = stagePanels({ strategy: 'fastv', options: {}, stages: [{ afterLayer: 2, keptImageTokens: [0, 4] }], imageTokensPerLayer: [36, 36, 2] }, GRID);
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
    const { panels: full } = stagePanels(record([{ afterLayer: 1, keptImageTokens: [0, 2] }], 1), { imageTokens: 37, classTokens: 1 });
    assert.deepEqual(full[1]!.caption, 'vision: 2 windows merged (37 -> 21), 2 key tokens');
    assert.deepEqual(full[2]!.keptPatches, WIN3);
    assert.deepEqual(full[2]!.marked, [WIN3]);
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
