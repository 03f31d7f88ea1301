// drawStages on a synthetic image with known kept sets, read back with sharp: kept patches keep
// their pixels, dropped ones are dimmed by the stated blend, panels sit where layout says, the
// canvas wraps after four panels, and the caption and title bands hold rendered text.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { OptionError } from '../errors.js';
import type { RgbImage } from '../image/index.js';
import { CAPTION_HEIGHT, DIM_GREY, DIM_KEEP, drawStages, layout, MARGIN, patchRect, TITLE_HEIGHT, type Rect } from './draw-stages.js';

/** 48x48, grid 4 (12-pixel patches); colours vary by pixel so misplaced copies show. */
const IMAGE: RgbImage = (() => {
  const data = new Uint8Array(48 * 48 * 3);
  for (let y = 0; y < 48; y++) {
    for (let x = 0; x < 48; x++) data.set([x * 5, y * 5, (x * 7 + y * 3) % 256], (y * 48 + x) * 3);
  }
  return { width: 48, height: 48, data };
})();

async function decode(png: Buffer): Promise<{ width: number; height: number; channels: number; data: Buffer }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data };
}

type Decoded = Awaited<ReturnType<typeof decode>>;

function rgbAt(img: Decoded, x: number, y: number): number[] {
  const i = (y * img.width + x) * img.channels;
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
}

function sourceAt(x: number, y: number): number[] {
  return [...IMAGE.data.subarray((y * 48 + x) * 3, (y * 48 + x) * 3 + 3)];
}

/** Asserts each pixel of patch `patch` in the panel at `at` is the source pixel, or it dimmed. */
function assertPatch(img: Decoded, at: Rect, patch: number, dimmed: boolean): void {
  const r = patchRect(patch, 4, 48, 48);
  for (let y = r.top; y < r.top + r.height; y++) {
    for (let x = r.left; x < r.left + r.width; x++) {
      const want = sourceAt(x, y).map((v) => (dimmed ? Math.round(v * DIM_KEEP + (1 - DIM_KEEP) * DIM_GREY) : v));
      assert.deepEqual(rgbAt(img, at.left + x, at.top + y), want, `patch ${patch} pixel (${x}, ${y}) ${dimmed ? 'dimmed' : 'unchanged'}`);
    }
  }
}

/** Whether any pixel of the band differs from white. */
function hasInk(img: Decoded, band: Rect): boolean {
  for (let y = band.top; y < band.top + band.height; y++) {
    for (let x = band.left; x < band.left + band.width; x++) if (rgbAt(img, x, y).some((v) => v < 200)) return true;
  }
  return false;
}

describe('patchRect', () => {
  for (const [size, grid] of [[336, 24], [100, 7], [5, 3]] as const) {
    it(`tiles a ${size}x${size} image exactly with a ${grid}x${grid} grid`, () => {
      const cover = new Uint8Array(size * size);
      const widths = new Set<number>();
      for (let p = 0; p < grid * grid; p++) {
        const r = patchRect(p, grid, size, size);
        widths.add(r.width);
        for (let y = r.top; y < r.top + r.height; y++) for (let x = r.left; x < r.left + r.width; x++) cover[y * size + x]!++;
      }
      assert.ok(cover.every((n) => n === 1), 'every pixel in exactly one patch');
      assert.ok(Math.max(...widths) - Math.min(...widths) <= 1, `patch widths ${[...widths]}`);
    });
  }

  it('numbers patches in raster order', () => {
    assert.deepEqual(patchRect(0, 24, 336, 336), { left: 0, top: 0, width: 14, height: 14 });
    assert.deepEqual(patchRect(25, 24, 336, 336), { left: 14, top: 14, width: 14, height: 14 });
    assert.deepEqual(patchRect(575, 24, 336, 336), { left: 322, top: 322, width: 14, height: 14 });
  });

  it('rounds uneven boundaries to the nearest pixel (100 / 7 = 14.29 per patch)', () => {
    const lefts = Array.from({ length: 7 }, (_, col) => patchRect(col, 7, 100, 100).left);
    assert.deepEqual(lefts, [0, 14, 29, 43, 57, 71, 86]);
    assert.deepEqual(patchRect(48, 7, 100, 100), { left: 86, top: 86, width: 14, height: 14 });
  });
});

describe('drawStages', () => {
  it('leaves kept patches as they are and dims dropped ones, panel by panel', async () => {
    const png = await drawStages({
      image: IMAGE,
      gridSize: 4,
      title: 'pdrop: layers=1,2',
      panels: [
        { keptPatches: null, caption: 'all 16 image tokens' },
        { keptPatches: [0, 5, 15], caption: 'after 1 layer: 3 kept' },
        { keptPatches: [5], caption: 'after 2 layers: 1 kept' },
      ],
    });
    const img = await decode(png);
    const place = layout(3, 48, 48);
    assert.equal(img.width, place.width);
    assert.equal(img.height, place.height);
    assert.equal(img.width, MARGIN + 3 * (48 + MARGIN));
    assert.equal(img.height, MARGIN + TITLE_HEIGHT + 48 + CAPTION_HEIGHT + MARGIN);
    const [all, first, second] = place.panels as [Rect, Rect, Rect];
    for (let p = 0; p < 16; p++) {
      assertPatch(img, all, p, false);
      assertPatch(img, first, p, ![0, 5, 15].includes(p));
      assertPatch(img, second, p, p !== 5);
    }
    assert.deepEqual(rgbAt(img, 0, 0), [255, 255, 255], 'white margin');
    assert.deepEqual(rgbAt(img, all.left + 48, all.top), [255, 255, 255], 'white gap between panels');
    for (const at of place.panels) {
      assert.ok(hasInk(img, { left: at.left, top: at.top + at.height, width: at.width, height: CAPTION_HEIGHT }), 'caption rendered');
    }
    assert.ok(hasInk(img, { left: MARGIN, top: MARGIN, width: img.width - 2 * MARGIN, height: TITLE_HEIGHT }), 'title rendered');
  });

  it('wraps to a second row after four panels', async () => {
    const panels = Array.from({ length: 5 }, (_, i) => ({ keptPatches: [i], caption: `panel ${i}` }));
    const img = await decode(await drawStages({ image: IMAGE, gridSize: 4, title: 't', panels }));
    const place = layout(5, 48, 48);
    assert.equal(img.width, MARGIN + 4 * (48 + MARGIN));
    assert.equal(img.height, MARGIN + TITLE_HEIGHT + 2 * (48 + CAPTION_HEIGHT + MARGIN));
    const fifth = place.panels[4]!;
    assert.deepEqual([fifth.left, fifth.top], [place.panels[0]!.left, place.panels[0]!.top + 48 + CAPTION_HEIGHT + MARGIN]);
    assertPatch(img, fifth, 4, false);
    assertPatch(img, fifth, 3, true);
  });

  it('escapes caption text for the SVG overlay', async () => {
    const png = await drawStages({ image: IMAGE, gridSize: 4, title: 'a < b & c > d', panels: [{ keptPatches: null, caption: '<&>' }] });
    assert.equal((await decode(png)).width, MARGIN + 48 + MARGIN);
  });

  it('refuses patch indices outside the grid and a grid finer than the image', async () => {
    await assert.rejects(drawStages({ image: IMAGE, gridSize: 4, title: '', panels: [{ keptPatches: [16], caption: '' }] }), OptionError);
    await assert.rejects(drawStages({ image: IMAGE, gridSize: 49, title: '', panels: [{ keptPatches: null, caption: '' }] }), OptionError);
  });
});
