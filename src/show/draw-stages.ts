// Draws which image patches survive each token-reduction stage (PyramidDrop's figure 5): one panel
// per stage, side by side (at most PANELS_PER_ROW a row) on white, dropped patches dimmed toward
// dark grey and kept ones untouched, a title line above and a caption under each panel, as PNG.
import sharp from 'sharp';
import { OptionError } from '../errors.js';
import { assertRgbImage, type RgbImage } from '../image/index.js';

export interface StagePanel {
  /** Patch indices left visible (raster order of the grid), or null for all of them. */
  readonly keptPatches: readonly number[] | null;
  readonly caption: string;
}

export interface StagesPicture {
  readonly image: RgbImage;
  /** Patches per side of the square grid laid over the image. */
  readonly gridSize: number;
  readonly title: string;
  readonly panels: readonly StagePanel[];
}

export const PANELS_PER_ROW = 4;
export const MARGIN = 16;
export const TITLE_HEIGHT = 28;
export const CAPTION_HEIGHT = 26;
/** A dropped patch's pixel becomes DIM_KEEP * pixel + (1 - DIM_KEEP) * DIM_GREY, rounded. */
export const DIM_KEEP = 0.25;
export const DIM_GREY = 40;
const FONT = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif";

export interface Rect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** Boundary k of `parts` equal parts of `size`, rounded half up in integers: 0 and size at the ends. */
function boundary(k: number, size: number, parts: number): number {
  return Math.floor((2 * k * size + parts) / (2 * parts));
}

/** Pixel rectangle of patch `index`; the rectangles of all gridSize^2 patches tile the image exactly. */
export function patchRect(index: number, gridSize: number, width: number, height: number): Rect {
  const row = Math.floor(index / gridSize);
  const col = index % gridSize;
  const left = boundary(col, width, gridSize);
  const top = boundary(row, height, gridSize);
  return { left, top, width: boundary(col + 1, width, gridSize) - left, height: boundary(row + 1, height, gridSize) - top };
}

export interface Layout {
  readonly width: number;
  readonly height: number;
  /** Where each panel's image goes on the canvas. */
  readonly panels: readonly Rect[];
}

/** Canvas size and panel places for `count` panels of `panelWidth` x `panelHeight`. */
export function layout(count: number, panelWidth: number, panelHeight: number): Layout {
  const cols = Math.min(count, PANELS_PER_ROW);
  const rows = Math.ceil(count / PANELS_PER_ROW);
  const rowHeight = panelHeight + CAPTION_HEIGHT + MARGIN;
  const panels = Array.from({ length: count }, (_, i) => ({
    left: MARGIN + (i % PANELS_PER_ROW) * (panelWidth + MARGIN),
    top: MARGIN + TITLE_HEIGHT + Math.floor(i / PANELS_PER_ROW) * rowHeight,
    width: panelWidth,
    height: panelHeight,
  }));
  return { width: MARGIN + cols * (panelWidth + MARGIN), height: MARGIN + TITLE_HEIGHT + rows * rowHeight, panels };
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function checkKept(kept: readonly number[], patches: number, panel: number): void {
  const bad = kept.find((i) => !Number.isInteger(i) || i < 0 || i >= patches);
  if (bad !== undefined) {
    throw new OptionError({ subject: `drawStages: panel ${panel} keptPatches`, expected: `patch indices in 0..${patches - 1}`, found: String(bad) });
  }
}

/** Copies `image` onto the canvas at `at`, dimming every patch not in `kept` (null: none dimmed). */
function paintPanel(canvas: Uint8Array, canvasWidth: number, image: RgbImage, at: Rect, gridSize: number, kept: readonly number[] | null): void {
  const { width, height, data } = image;
  for (let y = 0; y < height; y++) {
    const from = y * width * 3;
    canvas.set(data.subarray(from, from + width * 3), ((at.top + y) * canvasWidth + at.left) * 3);
  }
  if (kept === null) return;
  const keptSet = new Set(kept);
  const grey = (1 - DIM_KEEP) * DIM_GREY;
  for (let patch = 0; patch < gridSize * gridSize; patch++) {
    if (keptSet.has(patch)) continue;
    const r = patchRect(patch, gridSize, width, height);
    for (let y = r.top; y < r.top + r.height; y++) {
      const start = ((at.top + y) * canvasWidth + at.left + r.left) * 3;
      for (let i = start; i < start + r.width * 3; i++) canvas[i] = Math.round(canvas[i]! * DIM_KEEP + grey);
    }
  }
}

/** The picture as PNG bytes; text is an SVG overlay rendered by sharp with the system's fonts. */
export async function drawStages(picture: StagesPicture): Promise<Buffer> {
  const { image, gridSize, title, panels } = picture;
  assertRgbImage(image, 'drawStages: image');
  if (!Number.isInteger(gridSize) || gridSize < 1 || gridSize > Math.min(image.width, image.height)) {
    throw new OptionError({ subject: 'drawStages: gridSize', expected: `a whole number in 1..${Math.min(image.width, image.height)}`, found: String(gridSize) });
  }
  if (panels.length === 0) throw new OptionError({ subject: 'drawStages: panels', expected: 'at least one panel', found: 'none' });
  const place = layout(panels.length, image.width, image.height);
  const canvas = new Uint8Array(place.width * place.height * 3).fill(255);
  const text = [
    `<text x="${MARGIN}" y="${MARGIN + TITLE_HEIGHT - 10}" font-size="17" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const at = place.panels[i]!;
    if (panel.keptPatches !== null) checkKept(panel.keptPatches, gridSize * gridSize, i);
    paintPanel(canvas, place.width, image, at, gridSize, panel.keptPatches);
    text.push(`<text x="${at.left + at.width / 2}" y="${at.top + at.height + 19}" font-size="15" text-anchor="middle">${escapeXml(panel.caption)}</text>`);
  });
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${place.width}" height="${place.height}">` +
    `<g font-family="${FONT}" fill="#222">${text.join('')}</g></svg>`;
  return sharp(canvas, { raw: { width: place.width, height: place.height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer();
}
