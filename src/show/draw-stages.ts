// Draws which image patches survive each token-reduction stage (PyramidDrop's figure 5): one panel
// per stage, side by side (as many a row as fit, at most PANELS_PER_ROW) on white, dropped patches
// dimmed toward dark grey and kept ones untouched, a title above and a caption under each panel, as
// PNG. Patches are a square grid over the image, or any rectangles (LLaVA-NeXT's base image beside
// its tiles); regions without tokens can be hatched and labelled. For a strategy with a vision stage
// (MustDrop) a panel can also outline groups of patches that became one token (merged windows) and
// mark groups with a dot (key tokens); a legend line under the title then explains the drawings.
// Pixels are painted into a raw buffer, so tests can check them exactly; only text is an SVG overlay.
import sharp from 'sharp';
import { OptionError } from '../errors.js';
import { assertRgbImage, type RgbImage } from '../image/index.js';

export interface StagePanel {
  /** Patch indices left visible (raster order of the grid), or null for all of them. */
  readonly keptPatches: readonly number[] | null;
  /** Patch groups outlined with one rectangle around each (merged windows). */
  readonly outlined?: readonly (readonly number[])[];
  /** Patch groups marked with one dot at the centre of each (key tokens). */
  readonly marked?: readonly (readonly number[])[];
  /** Wrapped at ", " when wider than the panel. */
  readonly caption: string;
}

export type LegendSwatch = 'outline' | 'mark' | 'dimmed' | 'hatched';

export interface LegendEntry {
  /** Which drawing the entry's little square shows, painted exactly as in the panels. */
  readonly swatch: LegendSwatch;
  readonly label: string;
}

/** Where the patches lie: a square grid over the whole image, or one rectangle per patch. */
export type PatchGeometry =
  /** Patches per side of the square grid laid over the image. */
  | { readonly gridSize: number; readonly patchRects?: never }
  /** Patch i's pixels in the image; the rest of the image belongs to no patch and is never dimmed. */
  | { readonly patchRects: readonly Rect[]; readonly gridSize?: never };

/** Image regions without tokens, hatched in every panel, each labelled where the label fits. */
export interface HatchedRegions {
  readonly rects: readonly Rect[];
  readonly label: string;
}

/** What every panel shows before dimming: the image, its patches and its hatched regions. */
export type PanelImage = PatchGeometry & {
  readonly image: RgbImage;
  readonly hatched?: HatchedRegions;
};

export type StagesPicture = PanelImage & {
  /** Wrapped at ", " when wider than the canvas. */
  readonly title: string;
  readonly panels: readonly StagePanel[];
  /** Entries of the legend line under the title; no line when absent or empty. */
  readonly legend?: readonly LegendEntry[];
};

export const PANELS_PER_ROW = 4;
/** A row holds as many panels as fit in this many pixels of panel (at least one): four LLaVA-1.5 crops, two LLaVA-NeXT 2x2 panels. */
export const ROW_PANEL_PIXELS = 2100;
export const MARGIN = 16;
/** Title band for one line; each further line adds TITLE_LINE. */
export const TITLE_HEIGHT = 28;
export const TITLE_LINE = 22;
/** Caption band for one line; each further line adds CAPTION_LINE. */
export const CAPTION_HEIGHT = 26;
export const CAPTION_LINE = 18;
export const LEGEND_HEIGHT = 26;
/** A dropped patch's pixel becomes DIM_KEEP * pixel + (1 - DIM_KEEP) * DIM_GREY, rounded. */
export const DIM_KEEP = 0.25;
export const DIM_GREY = 40;
/**
 * Outlines are OUTLINE_WIDTH pixels of OUTLINE_RGB just inside the group's bounding rectangle, so
 * they cover the group's own pixels and never a neighbour's. Magenta: no natural colour in
 * photographs or in dimmed patches (at most 94 per channel) comes near it.
 */
export const OUTLINE_RGB = [255, 0, 255] as const;
export const OUTLINE_WIDTH = 2;
/**
 * A mark is a disc of MARK_RGB, radius MARK_RADIUS around the centre of the group's bounding
 * rectangle, in a ring of MARK_RING_RGB out to MARK_RADIUS + MARK_RING; a pixel belongs to either
 * when its centre lies within the radius. The dark ring keeps the light dot visible on light
 * patches, the light dot keeps it visible on dimmed ones. 9 pixels across fit a 14-pixel patch.
 */
export const MARK_RGB = [0, 255, 255] as const;
export const MARK_RING_RGB = [0, 0, 0] as const;
export const MARK_RADIUS = 3;
export const MARK_RING = 1.5;
/**
 * Hatching: diagonal lines HATCH_LINE pixels wide every HATCH_PERIOD pixels (counted from the
 * panel's corner, so adjacent regions line up) in HATCH_RGB, the pixels between them dimmed as a
 * dropped patch's are: darker than the image like a dropped patch, and told apart by the lines.
 */
export const HATCH_RGB = [200, 200, 200] as const;
export const HATCH_PERIOD = 8;
export const HATCH_LINE = 2;
/** Legend squares: SWATCH pixels, light grey under the outline, mark, dimming or hatching they show. */
export const SWATCH = 14;
export const SWATCH_GREY = 200;
const FONT = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif";
const TITLE_FONT_SIZE = 17;
const CAPTION_FONT_SIZE = 15;
const LEGEND_FONT_SIZE = 13;
const HATCH_FONT_SIZE = 13;
/**
 * Text width estimate per character, in ems, for wrapping: DejaVu Sans measured 0.50-0.54 (regular)
 * and 0.60 (bold) on this tool's captions and titles; rounded up so wrapped lines fit.
 */
const REGULAR_EM = 0.56;
const BOLD_EM = 0.62;

type Rgb = readonly [number, number, number];

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

/** The rectangles of all gridSize^2 patches of the square grid, in raster order. */
export function gridRects(gridSize: number, width: number, height: number): Rect[] {
  return Array.from({ length: gridSize * gridSize }, (_, p) => patchRect(p, gridSize, width, height));
}

/** Smallest rectangle holding every patch of `group` (not empty), patch p lying at `patchRects[p]`. */
export function groupRect(group: readonly number[], patchRects: readonly Rect[]): Rect {
  const rects = group.map((p) => patchRects[p]!);
  const left = Math.min(...rects.map((r) => r.left));
  const top = Math.min(...rects.map((r) => r.top));
  const right = Math.max(...rects.map((r) => r.left + r.width));
  const bottom = Math.max(...rects.map((r) => r.top + r.height));
  return { left, top, width: right - left, height: bottom - top };
}

/** How many text lines each band holds; the legend line is there or not. */
export interface Bands {
  readonly titleLines?: number;
  readonly captionLines?: number;
  readonly legend?: boolean;
}

export interface Layout {
  readonly width: number;
  readonly height: number;
  /** Top of the legend line, right under the title band. */
  readonly legendTop: number;
  /** Where each panel's image goes on the canvas. */
  readonly panels: readonly Rect[];
}

/** Panels of `panelWidth` pixels in one row (see ROW_PANEL_PIXELS). */
export function panelsPerRow(panelWidth: number): number {
  return Math.max(1, Math.min(PANELS_PER_ROW, Math.floor(ROW_PANEL_PIXELS / panelWidth)));
}

/** Canvas size and panel places for `count` panels of `panelWidth` x `panelHeight`. */
export function layout(count: number, panelWidth: number, panelHeight: number, bands: Bands = {}): Layout {
  const { titleLines = 1, captionLines = 1, legend = false } = bands;
  const legendTop = MARGIN + TITLE_HEIGHT + (titleLines - 1) * TITLE_LINE;
  const panelsTop = legendTop + (legend ? LEGEND_HEIGHT : 0);
  const perRow = panelsPerRow(panelWidth);
  const cols = Math.min(count, perRow);
  const rows = Math.ceil(count / perRow);
  const rowHeight = panelHeight + CAPTION_HEIGHT + (captionLines - 1) * CAPTION_LINE + MARGIN;
  const panels = Array.from({ length: count }, (_, i) => ({
    left: MARGIN + (i % perRow) * (panelWidth + MARGIN),
    top: panelsTop + Math.floor(i / perRow) * rowHeight,
    width: panelWidth,
    height: panelHeight,
  }));
  return { width: MARGIN + cols * (panelWidth + MARGIN), height: panelsTop + rows * rowHeight, legendTop, panels };
}

/** Estimated width of `text` in pixels (see REGULAR_EM). */
function textWidth(text: string, fontSize: number, em: number): number {
  return text.length * fontSize * em;
}

/**
 * `text` in lines no wider than `maxWidth` (estimated), broken only after ", " so list items stay
 * whole; an item wider than `maxWidth` gets a line of its own and overflows.
 */
export function wrapText(text: string, maxWidth: number, fontSize: number, bold = false): string[] {
  const em = bold ? BOLD_EM : REGULAR_EM;
  const items = text.split(/(?<=, )/);
  const lines: string[] = [];
  for (const item of items) {
    const last = lines.at(-1);
    if (last !== undefined && textWidth((last + item).trimEnd(), fontSize, em) <= maxWidth) lines[lines.length - 1] = last + item;
    else lines.push(item);
  }
  return lines.map((line) => line.trimEnd());
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function checkPatches(indices: readonly number[], patches: number, what: string): void {
  const bad = indices.find((i) => !Number.isInteger(i) || i < 0 || i >= patches);
  if (bad !== undefined) throw new OptionError({ subject: `drawStages: ${what}`, expected: `patch indices in 0..${patches - 1}`, found: String(bad) });
}

function checkGroups(groups: readonly (readonly number[])[], patches: number, what: string): void {
  for (const group of groups) {
    if (group.length === 0) throw new OptionError({ subject: `drawStages: ${what}`, expected: 'groups of at least one patch', found: 'an empty group' });
    checkPatches(group, patches, what);
  }
}

/** Refuses rectangles that are empty or reach outside the image. */
function checkRects(rects: readonly Rect[], image: RgbImage, what: string): void {
  const bad = rects.find(
    (r) =>
      ![r.left, r.top, r.width, r.height].every(Number.isInteger) ||
      r.left < 0 ||
      r.top < 0 ||
      r.width < 1 ||
      r.height < 1 ||
      r.left + r.width > image.width ||
      r.top + r.height > image.height,
  );
  if (bad) throw new OptionError({ subject: `drawStages: ${what}`, expected: `non-empty whole-pixel rectangles inside the ${image.width}x${image.height} image`, found: JSON.stringify(bad) });
}

/** Every patch's rectangle: the square grid's, or the given ones checked. */
function resolvePatches(picture: StagesPicture): readonly Rect[] {
  const { image } = picture;
  if (picture.patchRects !== undefined) {
    if (picture.patchRects.length === 0) throw new OptionError({ subject: 'drawStages: patchRects', expected: 'at least one patch', found: 'none' });
    checkRects(picture.patchRects, image, 'patchRects');
    return picture.patchRects;
  }
  const { gridSize } = picture;
  if (!Number.isInteger(gridSize) || gridSize < 1 || gridSize > Math.min(image.width, image.height)) {
    throw new OptionError({ subject: 'drawStages: gridSize', expected: `a whole number in 1..${Math.min(image.width, image.height)}`, found: String(gridSize) });
  }
  return gridRects(gridSize, image.width, image.height);
}

/** An RGB pixel buffer with its width, and the painting the picture needs. */
class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    height: number,
  ) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }

  set(x: number, y: number, rgb: Rgb): void {
    this.data.set(rgb, (y * this.width + x) * 3);
  }

  fill(r: Rect, rgb: Rgb): void {
    for (let y = r.top; y < r.top + r.height; y++) for (let x = r.left; x < r.left + r.width; x++) this.set(x, y, rgb);
  }

  dim(r: Rect): void {
    const grey = (1 - DIM_KEEP) * DIM_GREY;
    for (let y = r.top; y < r.top + r.height; y++) {
      const start = (y * this.width + r.left) * 3;
      for (let i = start; i < start + r.width * 3; i++) this.data[i] = Math.round(this.data[i]! * DIM_KEEP + grey);
    }
  }

  /** `r` dimmed, with hatching lines along x + y counted from `origin`'s corner. */
  hatch(r: Rect, origin: Rect): void {
    this.dim(r);
    for (let y = r.top; y < r.top + r.height; y++) {
      for (let x = r.left; x < r.left + r.width; x++) if ((x - origin.left + y - origin.top) % HATCH_PERIOD < HATCH_LINE) this.set(x, y, HATCH_RGB);
    }
  }

  /** OUTLINE_WIDTH pixels just inside `r` (all of it when it is narrower than two of them). */
  outline(r: Rect): void {
    const w = OUTLINE_WIDTH;
    this.fill({ left: r.left, top: r.top, width: r.width, height: Math.min(w, r.height) }, OUTLINE_RGB);
    this.fill({ left: r.left, top: Math.max(r.top, r.top + r.height - w), width: r.width, height: Math.min(w, r.height) }, OUTLINE_RGB);
    this.fill({ left: r.left, top: r.top, width: Math.min(w, r.width), height: r.height }, OUTLINE_RGB);
    this.fill({ left: Math.max(r.left, r.left + r.width - w), top: r.top, width: Math.min(w, r.width), height: r.height }, OUTLINE_RGB);
  }

  /** A mark at the centre of `r`, cut off at `clip` so a mark larger than a patch stays in its panel. */
  mark(r: Rect, clip: Rect): void {
    const cx = r.left + r.width / 2;
    const cy = r.top + r.height / 2;
    const outer = MARK_RADIUS + MARK_RING;
    const top = Math.max(clip.top, Math.floor(cy - outer));
    const bottom = Math.min(clip.top + clip.height, Math.ceil(cy + outer));
    const left = Math.max(clip.left, Math.floor(cx - outer));
    const right = Math.min(clip.left + clip.width, Math.ceil(cx + outer));
    for (let y = top; y < bottom; y++) {
      for (let x = left; x < right; x++) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        if (d <= MARK_RADIUS) this.set(x, y, MARK_RGB);
        else if (d <= outer) this.set(x, y, MARK_RING_RGB);
      }
    }
  }
}

/** `r` moved by the top-left corner of `at`. */
function offset(r: Rect, at: Rect): Rect {
  return { left: at.left + r.left, top: at.top + r.top, width: r.width, height: r.height };
}

/**
 * Copies `image` into panel `at`, hatches the regions without tokens, dims every patch not kept,
 * then draws outlines and marks on top.
 */
function paintPanel(canvas: Canvas, image: RgbImage, at: Rect, patchRects: readonly Rect[], hatched: readonly Rect[], panel: StagePanel): void {
  const { width, height, data } = image;
  for (let y = 0; y < height; y++) {
    const from = y * width * 3;
    canvas.data.set(data.subarray(from, from + width * 3), ((at.top + y) * canvas.width + at.left) * 3);
  }
  for (const r of hatched) canvas.hatch(offset(r, at), at);
  if (panel.keptPatches !== null) {
    const kept = new Set(panel.keptPatches);
    patchRects.forEach((r, patch) => {
      if (!kept.has(patch)) canvas.dim(offset(r, at));
    });
  }
  for (const group of panel.outlined ?? []) canvas.outline(offset(groupRect(group, patchRects), at));
  for (const group of panel.marked ?? []) canvas.mark(offset(groupRect(group, patchRects), at), at);
}

/**
 * `label` centred on each hatched rectangle of panel `at`, white on a dark box, turned upright in
 * rectangles taller than wide; none where it would not fit.
 */
function hatchLabels(rects: readonly Rect[], label: string, at: Rect): string[] {
  const textLength = Math.ceil(textWidth(label, HATCH_FONT_SIZE, REGULAR_EM)) + 8;
  const boxDepth = HATCH_FONT_SIZE + 8;
  return rects.flatMap((r) => {
    const upright = r.height > r.width;
    const [along, across] = upright ? [r.height, r.width] : [r.width, r.height];
    if (textLength > along || boxDepth > across) return [];
    const cx = at.left + r.left + r.width / 2;
    const cy = at.top + r.top + r.height / 2;
    const turn = upright ? ` transform="rotate(-90 ${cx} ${cy})"` : '';
    return [
      `<g${turn}><rect x="${cx - textLength / 2}" y="${cy - boxDepth / 2}" width="${textLength}" height="${boxDepth}" fill="#000" fill-opacity="0.7"/>` +
        `<text x="${cx}" y="${cy + HATCH_FONT_SIZE / 2 - 2}" font-size="${HATCH_FONT_SIZE}" text-anchor="middle" fill="#fff">${escapeXml(label)}</text></g>`,
    ];
  });
}

/** The legend's swatches painted into the canvas and its labels as SVG text, from the left margin. */
function paintLegend(canvas: Canvas, legend: readonly LegendEntry[], top: number): string[] {
  const text: string[] = [];
  let x = MARGIN;
  const swatchTop = top + Math.floor((LEGEND_HEIGHT - SWATCH) / 2) - 2;
  for (const { swatch, label } of legend) {
    const square = { left: x, top: swatchTop, width: SWATCH, height: SWATCH };
    canvas.fill(square, [SWATCH_GREY, SWATCH_GREY, SWATCH_GREY]);
    if (swatch === 'outline') canvas.outline(square);
    else if (swatch === 'mark') canvas.mark(square, square);
    else if (swatch === 'hatched') canvas.hatch(square, square);
    else canvas.dim(square);
    x += SWATCH + 6;
    text.push(`<text x="${x}" y="${swatchTop + SWATCH - 2}" font-size="${LEGEND_FONT_SIZE}">${escapeXml(label)}</text>`);
    x += Math.ceil(textWidth(label, LEGEND_FONT_SIZE, REGULAR_EM)) + 20;
  }
  return text;
}

/** SVG text lines, the first baseline at `y`, each next `step` lower. */
function textLines(lines: readonly string[], x: number, y: number, step: number, attributes: string): string {
  return lines.map((line, i) => `<text x="${x}" y="${y + i * step}" ${attributes}>${escapeXml(line)}</text>`).join('');
}

/** The picture as PNG bytes; text is an SVG overlay rendered by sharp with the system's fonts. */
export async function drawStages(picture: StagesPicture): Promise<Buffer> {
  const { image, title, panels, hatched, legend = [] } = picture;
  assertRgbImage(image, 'drawStages: image');
  const patchRects = resolvePatches(picture);
  checkRects(hatched?.rects ?? [], image, 'hatched rects');
  if (panels.length === 0) throw new OptionError({ subject: 'drawStages: panels', expected: 'at least one panel', found: 'none' });
  const patches = patchRects.length;
  panels.forEach((panel, i) => {
    if (panel.keptPatches !== null) checkPatches(panel.keptPatches, patches, `panel ${i} keptPatches`);
    checkGroups(panel.outlined ?? [], patches, `panel ${i} outlined`);
    checkGroups(panel.marked ?? [], patches, `panel ${i} marked`);
  });
  // Wrapping depends on the canvas width, which depends only on the panel count and size.
  const width = layout(panels.length, image.width, image.height).width;
  const titleLines = wrapText(title, width - 2 * MARGIN, TITLE_FONT_SIZE, true);
  const captions = panels.map((panel) => wrapText(panel.caption, image.width, CAPTION_FONT_SIZE));
  const place = layout(panels.length, image.width, image.height, {
    titleLines: titleLines.length,
    captionLines: Math.max(...captions.map((lines) => lines.length)),
    legend: legend.length > 0,
  });
  const canvas = new Canvas(place.width, place.height);
  const text = [textLines(titleLines, MARGIN, MARGIN + TITLE_HEIGHT - 10, TITLE_LINE, `font-size="${TITLE_FONT_SIZE}" font-weight="bold"`)];
  panels.forEach((panel, i) => {
    const at = place.panels[i]!;
    paintPanel(canvas, image, at, patchRects, hatched?.rects ?? [], panel);
    if (hatched) text.push(...hatchLabels(hatched.rects, hatched.label, at));
    text.push(textLines(captions[i]!, at.left + at.width / 2, at.top + at.height + 19, CAPTION_LINE, `font-size="${CAPTION_FONT_SIZE}" text-anchor="middle"`));
  });
  text.push(...paintLegend(canvas, legend, place.legendTop));
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${place.width}" height="${place.height}">` +
    `<g font-family="${FONT}" fill="#222">${text.join('')}</g></svg>`;
  return sharp(canvas.data, { raw: { width: place.width, height: place.height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer();
}
