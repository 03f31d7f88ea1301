// What `visdrop show` draws a LLaVA-NeXT stage on: the base crop beside the tiles reassembled into
// the padded canvas the processor cut; each token's patch rectangle (packed, or MustDrop's flat
// crops) and the padding unpadding removed.
import { ImageError } from '../errors.js';
import type { AnyresPixelValues, AnyresPreprocessing, RgbImage } from '../image/index.js';
import type { Rect } from './draw-stages.js';
import type { NextTokenLayout, NextTokenPlace } from './next-tokens.js';
import { pixelValuesToRgb } from './preprocessed-rgb.js';

/** White pixels between the base image and the canvas. */
export const NEXT_GAP = 16;
/** Names the hatched padding, in the legend and on the picture. */
export const NEXT_PADDING_LABEL = 'padding removed by unpadding (no tokens)';

export interface NextPicture {
  readonly image: RgbImage;
  /**
   * Drawn patch i's pixels: the base image's patches in raster order, then the unpadded grid's
   * cells row by row; so the tokens in order, newlines left out (see nextDrawnPatch).
   */
  readonly patchRects: readonly Rect[];
  /**
   * Patch p of crop c (0 = base, then the tiles row-major) at c*g*g + p: the flat numbering of
   * MustDrop's LLaVA-NeXT mode (its `imageTokenOrder`), every cell of the canvas with a token.
   */
  readonly cropPatchRects: readonly Rect[];
  /** The canvas's cells outside the unpadded grid: bands along the top and bottom, or the sides. */
  readonly padding: readonly Rect[];
}

/** The drawn patch (an index into `patchRects`) of a token at `place`; null for a newline. */
export function nextDrawnPatch(place: NextTokenPlace, layout: NextTokenLayout): number | null {
  const { patchesPerSide: g, grid } = layout;
  if (place.kind === 'newline') return null;
  if (place.kind === 'base') return place.patch;
  return g * g + (place.y - grid.top) * grid.width + (place.x - grid.left);
}

/** The picture for `pixels` ([1, 1 + rows*cols, 3, S, S]), undoing the steps `p` says the processor applied. */
export function nextPicture(pixels: AnyresPixelValues, layout: NextTokenLayout, p: Pick<AnyresPreprocessing, 'rescaleFactor' | 'mean' | 'std'>): NextPicture {
  const { patchesPerSide: g, tileRows: rows, tileCols: cols, grid } = layout;
  const [, crops, , S] = pixels.shape;
  const cropValues = 3 * S * S;
  if (crops !== 1 + rows * cols || pixels.data.length !== crops * cropValues || S % g !== 0) {
    throw new ImageError({
      subject: 'LLaVA-NeXT pixel_values',
      expected: `${1 + rows * cols} crops (base + ${rows}x${cols} tiles) of a side divisible by ${g}`,
      found: `shape [${pixels.shape.join(', ')}] with ${pixels.data.length} values`,
    });
  }
  const width = S + NEXT_GAP + cols * S;
  const height = Math.max(S, rows * S);
  const data = new Uint8Array(width * height * 3).fill(255);
  // Crop c's top-left corner in the picture: the base at the origin, tiles row-major on the canvas.
  const corner = (c: number): [left: number, top: number] => (c === 0 ? [0, 0] : [S + NEXT_GAP + ((c - 1) % cols) * S, Math.floor((c - 1) / cols) * S]);
  for (let c = 0; c < crops; c++) {
    const crop = pixelValuesToRgb({ data: pixels.data.subarray(c * cropValues, (c + 1) * cropValues), shape: [1, 3, S, S] }, p);
    const [left, top] = corner(c);
    for (let y = 0; y < S; y++) data.set(crop.data.subarray(y * S * 3, (y + 1) * S * 3), ((top + y) * width + left) * 3);
  }
  const px = S / g;
  const canvasLeft = S + NEXT_GAP;
  const cell = (y: number, x: number): Rect => ({ left: canvasLeft + x * px, top: y * px, width: px, height: px });
  const patchRects: Rect[] = Array.from({ length: g * g }, (_, i) => ({ left: (i % g) * px, top: Math.floor(i / g) * px, width: px, height: px }));
  const cropPatchRects = [...patchRects];
  for (let y = grid.top; y < grid.top + grid.height; y++) for (let x = grid.left; x < grid.left + grid.width; x++) patchRects.push(cell(y, x));
  for (let t = 0; t < rows * cols; t++) {
    for (let i = 0; i < g * g; i++) cropPatchRects.push(cell(Math.floor(t / cols) * g + Math.floor(i / g), (t % cols) * g + (i % g)));
  }
  const bottom = rows * g - grid.top - grid.height;
  const right = cols * g - grid.left - grid.width;
  const padding = [
    { left: canvasLeft, top: 0, width: cols * S, height: grid.top * px },
    { left: canvasLeft, top: (grid.top + grid.height) * px, width: cols * S, height: bottom * px },
    { left: canvasLeft, top: 0, width: grid.left * px, height: rows * S },
    { left: canvasLeft + (grid.left + grid.width) * px, top: 0, width: right * px, height: rows * S },
  ].filter((r) => r.width > 0 && r.height > 0);
  return { image: { width, height, data }, patchRects, cropPatchRects, padding };
}
