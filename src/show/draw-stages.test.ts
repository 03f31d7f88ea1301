// drawStages on synthetic images with known kept sets, read back with sharp: kept patches keep
// their pixels, dropped ones are dimmed by the stated blend, panels sit where layout says, the
// canvas wraps after four panels, the caption and title bands hold rendered text and grow when
// text wraps; outlines cover exactly the 2-pixel inner border of their group's rectangle, marks
// exactly the disc and ring at its centre, and the legend's swatches are painted the same way;
// patches given as rectangles dim only those rectangles, hatched regions carry the stated lines
// over dimmed pixels (and a label where it fits), and wide panels take fewer to a row.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { OptionError } from '../errors.js';
import type { RgbImage } from '../image/index.js';
import {
  CAPTION_HEIGHT,
  CAPTION_LINE,
  DIM_GREY,
  DIM_KEEP,
  drawStages,
  gridRects,
  groupRect,
  HATCH_LINE,
  HATCH_PERIOD,
  HATCH_RGB,
  layout,
  LEGEND_HEIGHT,
  MARGIN,
  MARK_RADIUS,
  MARK_RGB,
  MARK_RING,
  MARK_RING_RGB,
  OUTLINE_RGB,
  OUTLINE_WIDTH,
  PANELS_PER_ROW,
  panelsPerRow,
  patchRect,
  TITLE_HEIGHT,
  TITLE_LINE,
  wrapText,
  type Rect,
} from './draw-stages.js';

/** size x size; colours vary by pixel (never magenta or cyan) so misplaced copies show. */
function gradient(size: number): RgbImage {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) data.set([x * 3, y * 3, (x * 7 + y * 3) % 128], (y * size + x) * 3);
  }
  return { width: size, height: size, data };
}

/** 48x48, grid 4 (12-pixel patches). */
const IMAGE = gradient(48);
/** 72x72, grid 6 (12-pixel patches): two whole 3x3 windows per side. */
const WINDOWS = gradient(72);

async function decode(png: Buffer): Promise<{ width: number; height: number; channels: number; data: Buffer }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data };
}

type Decoded = Awaited<ReturnType<typeof decode>>;

function rgbAt(img: Decoded, x: number, y: number): number[] {
  const i = (y * img.width + x) * img.channels;
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
}

function sourceAt(x: number, y: number, image: RgbImage = IMAGE): number[] {
  const i = (y * image.width + x) * 3;
  return [...image.data.subarray(i, i + 3)];
}

/** Asserts each pixel of patch `patch` in the panel at `at` is the source pixel, or it dimmed. */
function assertPatch(img: Decoded, at: Rect, patch: number, dimmed: boolean, image: RgbImage = IMAGE, gridSize = 4): void {
  const r = patchRect(patch, gridSize, image.width, image.height);
  for (let y = r.top; y < r.top + r.height; y++) {
    for (let x = r.left; x < r.left + r.width; x++) {
      const want = sourceAt(x, y, image).map((v) => (dimmed ? Math.round(v * DIM_KEEP + (1 - DIM_KEEP) * DIM_GREY) : v));
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

/** 3x3 window (wy, wx) of the 6x6 grid, as patch indices. */
function windowOf(wy: number, wx: number): number[] {
  return Array.from({ length: 9 }, (_, i) => (wy * 3 + Math.floor(i / 3)) * 6 + wx * 3 + (i % 3));
}

/** What a mark centred at (cx, cy) paints at pixel (x, y), or null where it paints nothing. */
function markAt(x: number, y: number, cx: number, cy: number): number[] | null {
  const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
  if (d <= MARK_RADIUS) return [...MARK_RGB];
  return d <= MARK_RADIUS + MARK_RING ? [...MARK_RING_RGB] : null;
}

describe('outlines and marks', () => {
  it('outlines each group with a 2-pixel border just inside its rectangle and leaves every other pixel alone', async () => {
    const groups = [windowOf(0, 0), windowOf(1, 1)];
    const img = await decode(await drawStages({ image: WINDOWS, gridSize: 6, title: 't', panels: [{ keptPatches: null, outlined: groups, caption: '' }] }));
    const at = layout(1, 72, 72).panels[0]!;
    // Window (0, 0) covers pixels 0..35 each way, window (1, 1) pixels 36..71.
    const inBorder = (v: number, from: number) => v >= from && v < from + 36 && (v < from + OUTLINE_WIDTH || v >= from + 36 - OUTLINE_WIDTH);
    const inSpan = (v: number, from: number) => v >= from && v < from + 36;
    for (let y = 0; y < 72; y++) {
      for (let x = 0; x < 72; x++) {
        const outlined = [0, 36].some((from) => inSpan(x, from) && inSpan(y, from) && (inBorder(x, from) || inBorder(y, from)));
        assert.deepEqual(rgbAt(img, at.left + x, at.top + y), outlined ? [...OUTLINE_RGB] : sourceAt(x, y, WINDOWS), `pixel (${x}, ${y})`);
      }
    }
  });

  it('marks a one-patch group at its patch centre and a merged group at its rectangle centre, nothing else', async () => {
    // Patch 9 (row 1, col 3): pixels 36..47 x 12..23, centre (42, 18); window (1, 0): centre (18, 54).
    const img = await decode(await drawStages({ image: WINDOWS, gridSize: 6, title: 't', panels: [{ keptPatches: null, marked: [[9], windowOf(1, 0)], caption: '' }] }));
    const at = layout(1, 72, 72).panels[0]!;
    let painted = 0;
    for (let y = 0; y < 72; y++) {
      for (let x = 0; x < 72; x++) {
        const mark = markAt(x, y, 42, 18) ?? markAt(x, y, 18, 54);
        if (mark) painted++;
        assert.deepEqual(rgbAt(img, at.left + x, at.top + y), mark ?? sourceAt(x, y, WINDOWS), `pixel (${x}, ${y})`);
      }
    }
    assert.ok(painted >= 2 * 50, `both marks painted (${painted} pixels)`);
    assert.deepEqual(rgbAt(img, at.left + 42, at.top + 18), [...MARK_RGB], 'centre pixel of the patch mark');
  });

  it('draws outlines and marks over dimmed patches, marks on top of outlines', async () => {
    const group = windowOf(0, 0);
    const img = await decode(await drawStages({ image: WINDOWS, gridSize: 6, title: 't', panels: [{ keptPatches: [9], outlined: [group], marked: [group, [35]], caption: '' }] }));
    const at = layout(1, 72, 72).panels[0]!;
    assert.deepEqual(rgbAt(img, at.left, at.top), [...OUTLINE_RGB], 'outline over a dimmed patch');
    assert.deepEqual(rgbAt(img, at.left + 18, at.top + 18), [...MARK_RGB], 'mark inside the outlined window');
    assert.deepEqual(rgbAt(img, at.left + 66, at.top + 66), [...MARK_RGB], 'mark on dimmed patch 35');
    assertPatch(img, at, 9, false, WINDOWS, 6);
    assertPatch(img, at, 17, true, WINDOWS, 6);
  });

  it('groupRect spans every patch of the group', () => {
    const rects = gridRects(6, 72, 72);
    assert.deepEqual(groupRect(windowOf(1, 1), rects), { left: 36, top: 36, width: 36, height: 36 });
    assert.deepEqual(groupRect([8, 15], rects), { left: 24, top: 12, width: 24, height: 24 });
  });

  it('refuses empty groups and patches outside the grid', async () => {
    await assert.rejects(drawStages({ image: IMAGE, gridSize: 4, title: '', panels: [{ keptPatches: null, outlined: [[]], caption: '' }] }), OptionError);
    await assert.rejects(drawStages({ image: IMAGE, gridSize: 4, title: '', panels: [{ keptPatches: null, marked: [[16]], caption: '' }] }), OptionError);
  });
});

describe('legend and wrapping', () => {
  it('puts the legend line under the title, its swatches painted like the panels', async () => {
    const legend = [
      { swatch: 'outline', label: 'merged' },
      { swatch: 'mark', label: 'key' },
      { swatch: 'dimmed', label: 'dropped' },
    ] as const;
    const panels = Array.from({ length: 4 }, () => ({ keptPatches: null, caption: '' }));
    const img = await decode(await drawStages({ image: WINDOWS, gridSize: 6, title: 't', panels, legend }));
    const place = layout(4, 72, 72, { legend: true });
    assert.deepEqual([img.width, img.height], [place.width, place.height]);
    assert.equal(place.panels[0]!.top, MARGIN + TITLE_HEIGHT + LEGEND_HEIGHT);
    const band = { left: 0, top: place.legendTop, width: img.width, height: LEGEND_HEIGHT };
    const colours = new Set<string>();
    for (let y = band.top; y < band.top + band.height; y++) for (let x = 0; x < img.width; x++) colours.add(rgbAt(img, x, y).join());
    for (const rgb of [OUTLINE_RGB, MARK_RGB, MARK_RING_RGB]) assert.ok(colours.has(rgb.join()), `legend shows ${rgb.join()}`);
    assertPatch(img, place.panels[0]!, 0, false, WINDOWS, 6);
  });

  it('wraps long titles and captions after ", " and makes their bands taller', async () => {
    const caption = 'vision: 24 windows merged (576 -> 384), 31 key tokens';
    const title = Array.from({ length: 12 }, (_, i) => `option${i}=value`).join(', ');
    const img = await decode(await drawStages({ image: IMAGE, gridSize: 4, title, panels: [{ keptPatches: null, caption }] }));
    const titleLines = wrapText(title, 48 + 2 * MARGIN - 2 * MARGIN, 17, true).length;
    const captionLines = wrapText(caption, 48, 15).length;
    assert.ok(titleLines > 1 && captionLines > 1);
    assert.equal(img.height, MARGIN + TITLE_HEIGHT + (titleLines - 1) * TITLE_LINE + 48 + CAPTION_HEIGHT + (captionLines - 1) * CAPTION_LINE + MARGIN);
  });

  it('wrapText breaks only after ", " and keeps lines within the width', () => {
    assert.deepEqual(wrapText('vision: 24 windows merged (576 -> 384), 31 key tokens', 336, 15), ['vision: 24 windows merged (576 -> 384),', '31 key tokens']);
    assert.deepEqual(wrapText('after 3 layers: 36 kept (6.3%)', 336, 15), ['after 3 layers: 36 kept (6.3%)']);
    assert.deepEqual(wrapText('a, b, c', 1, 15), ['a,', 'b,', 'c'], 'an item wider than the line gets a line of its own');
    assert.deepEqual(wrapText('layers=2,6,10,14', 10, 15), ['layers=2,6,10,14'], 'commas inside a value are no break');
  });
});

/** What hatching paints at (x, y) of a region, counted from the panel's corner, over source `v`. */
function hatchedAt(x: number, y: number, source: number[]): number[] {
  return (x + y) % HATCH_PERIOD < HATCH_LINE ? [...HATCH_RGB] : source.map((v) => Math.round(v * DIM_KEEP + (1 - DIM_KEEP) * DIM_GREY));
}

describe('patch rectangles and hatching', () => {
  // 72x72: patches are three rectangles; columns 48..71 are a hatched region of no patch.
  const patchRects = [
    { left: 0, top: 0, width: 24, height: 24 },
    { left: 24, top: 0, width: 24, height: 24 },
    { left: 0, top: 36, width: 12, height: 36 },
  ];
  // The label is too long for the region, so every pixel of it is hatching.
  const hatched = { rects: [{ left: 48, top: 0, width: 24, height: 72 }], label: 'padding removed by unpadding (no tokens)' };

  it('dims the rectangles of dropped patches only, hatches the regions without tokens, and leaves the rest', async () => {
    const img = await decode(await drawStages({ image: WINDOWS, patchRects, hatched, title: 't', panels: [{ keptPatches: [1], outlined: [[0, 2]], caption: '' }] }));
    const at = layout(1, 72, 72).panels[0]!;
    const dim = (v: number[]) => v.map((c) => Math.round(c * DIM_KEEP + (1 - DIM_KEEP) * DIM_GREY));
    const inside = (r: Rect, x: number, y: number) => x >= r.left && x < r.left + r.width && y >= r.top && y < r.top + r.height;
    // The outline around patches 0 and 2 spans their bounding rectangle, 0..23 x 0..71.
    const outlined = (x: number, y: number) => x < 24 && (x < OUTLINE_WIDTH || x >= 24 - OUTLINE_WIDTH || y < OUTLINE_WIDTH || y >= 72 - OUTLINE_WIDTH);
    for (let y = 0; y < 72; y++) {
      for (let x = 0; x < 72; x++) {
        const source = sourceAt(x, y, WINDOWS);
        let want = source;
        if (outlined(x, y)) want = [...OUTLINE_RGB];
        else if (inside(hatched.rects[0]!, x, y)) want = hatchedAt(x, y, source);
        else if (inside(patchRects[0]!, x, y) || inside(patchRects[2]!, x, y)) want = dim(source);
        assert.deepEqual(rgbAt(img, at.left + x, at.top + y), want, `pixel (${x}, ${y})`);
      }
    }
  });

  it('hatches every panel alike, with or without dimming', async () => {
    const panels = [
      { keptPatches: null, caption: '' },
      { keptPatches: [], caption: '' },
    ];
    const img = await decode(await drawStages({ image: WINDOWS, patchRects, hatched, title: 't', panels }));
    for (const at of layout(2, 72, 72).panels) {
      for (const [x, y] of [[48, 0], [49, 0], [50, 0], [60, 37], [71, 71]] as const) assert.deepEqual(rgbAt(img, at.left + x, at.top + y), hatchedAt(x, y, sourceAt(x, y, WINDOWS)));
    }
  });

  it('labels a hatched region large enough for its label, on a dark box', async () => {
    const image = gradient(240);
    const region = { left: 0, top: 0, width: 240, height: 40 };
    const img = await decode(await drawStages({ image, gridSize: 4, hatched: { rects: [region], label: 'padding' }, title: 't', panels: [{ keptPatches: null, caption: '' }] }));
    const at = layout(1, 240, 240).panels[0]!;
    // Hatch-line pixels around the centre (120, 20), under the label's box, are no longer line grey.
    for (const [x, y] of [[116, 20], [117, 20], [124, 20], [125, 20]] as const) {
      assert.ok((x + y) % HATCH_PERIOD < HATCH_LINE, `(${x}, ${y}) lies on a hatch line`);
      assert.notDeepEqual(rgbAt(img, at.left + x, at.top + y), [...HATCH_RGB], `(${x}, ${y}) under the label`);
    }
    assert.deepEqual(rgbAt(img, at.left + 4, at.top + 4), hatchedAt(4, 4, sourceAt(4, 4, image)), 'outside the box: hatching');
  });

  it('shows the hatching in the legend', async () => {
    const img = await decode(await drawStages({ image: WINDOWS, patchRects, title: 't', panels: [{ keptPatches: null, caption: '' }], legend: [{ swatch: 'hatched', label: 'padding' }] }));
    const band = layout(1, 72, 72, { legend: true }).legendTop;
    let lines = 0;
    for (let y = band; y < band + LEGEND_HEIGHT; y++) for (let x = 0; x < img.width; x++) if (rgbAt(img, x, y).join() === HATCH_RGB.join()) lines++;
    assert.ok(lines > 10, `hatch lines in the legend (${lines} pixels)`);
  });

  it('refuses rectangles outside the image or empty, and an empty patch list', async () => {
    const panels = [{ keptPatches: null, caption: '' }];
    await assert.rejects(drawStages({ image: WINDOWS, patchRects: [{ left: 60, top: 0, width: 24, height: 24 }], title: '', panels }), OptionError);
    await assert.rejects(drawStages({ image: WINDOWS, patchRects: [{ left: 0, top: 0, width: 0, height: 24 }], title: '', panels }), OptionError);
    await assert.rejects(drawStages({ image: WINDOWS, patchRects: [], title: '', panels }), OptionError);
    await assert.rejects(drawStages({ image: WINDOWS, patchRects, hatched: { rects: [{ left: 0, top: 70, width: 4, height: 4 }], label: '' }, title: '', panels }), OptionError);
    await assert.rejects(drawStages({ image: WINDOWS, patchRects, title: '', panels: [{ keptPatches: [3], caption: '' }] }), OptionError);
  });
});

describe('panels per row', () => {
  it('puts four LLaVA-1.5 crops in a row, two LLaVA-NeXT 2x2 panels, one 1x3 panel', () => {
    assert.equal(panelsPerRow(336), PANELS_PER_ROW);
    assert.equal(panelsPerRow(48), PANELS_PER_ROW);
    assert.equal(panelsPerRow(336 + 16 + 672), 2);
    assert.equal(panelsPerRow(336 + 16 + 336), 3);
    assert.equal(panelsPerRow(336 + 16 + 1008), 1);
    assert.equal(panelsPerRow(5000), 1);
  });

  it('wraps wide panels to the next row sooner', () => {
    const place = layout(3, 1024, 672);
    assert.equal(place.width, MARGIN + 2 * (1024 + MARGIN));
    assert.deepEqual([place.panels[2]!.left, place.panels[2]!.top], [MARGIN, place.panels[0]!.top + 672 + CAPTION_HEIGHT + MARGIN]);
  });
});
