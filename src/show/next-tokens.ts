// LLaVA-NeXT's decoder image tokens traced back to what they show: the packing of
// generate/next-features.ts read backwards. The base image's g*g tokens come first, then the
// unpadded part of the (rows*g) x (cols*g) tile feature grid row by row, each row ended by a newline.
import { GraphError } from '../errors.js';
import { gridShape, unpaddedGrid, type ImageSize, type UnpaddedGrid } from '../image/anyres-grid.js';

export interface NextTokenLayout {
  /** g: patches per side of one crop (336 / 14 = 24). */
  readonly patchesPerSide: number;
  /** The tile grid the canvas was cut into. */
  readonly tileRows: number;
  readonly tileCols: number;
  /** The part of the full feature grid the decoder sees, in feature cells. */
  readonly grid: UnpaddedGrid;
}

/** What one decoder image token stands for. */
export type NextTokenPlace =
  /** Patch `patch` (raster order) of the base image. */
  | { readonly kind: 'base'; readonly patch: number }
  /** Cell (y, x) of the full feature grid: patch `patch` ([row, col]) of tile `tile` ([row, col]). */
  | { readonly kind: 'tile'; readonly y: number; readonly x: number; readonly tile: readonly [number, number]; readonly patch: readonly [number, number] }
  /** The newline ending kept row `row` (0 = the first unpadded row); it shows no patch. */
  | { readonly kind: 'newline'; readonly row: number };

/** The layout of an image of `imageSize` ([H, W]) as the processor tiles and the model packs it. */
export function nextTokenLayout(imageSize: ImageSize, pinpoints: unknown, cropSize: number, patchesPerSide: number): NextTokenLayout {
  const [tileRows, tileCols] = gridShape(imageSize, pinpoints, cropSize);
  return { patchesPerSide, tileRows, tileCols, grid: unpaddedGrid(imageSize, tileRows * patchesPerSide, tileCols * patchesPerSide) };
}

/** Image tokens the decoder sees: g*g base tokens, then each kept row's cells and its newline. */
export function nextImageTokens(layout: NextTokenLayout): number {
  const { patchesPerSide: g, grid } = layout;
  return g * g + grid.height * (grid.width + 1);
}

export function nextTokenPlace(index: number, layout: NextTokenLayout): NextTokenPlace {
  const { patchesPerSide: g, grid } = layout;
  const tokens = nextImageTokens(layout);
  if (!Number.isInteger(index) || index < 0 || index >= tokens) {
    throw new GraphError({ subject: 'LLaVA-NeXT image token', expected: `an index in 0..${tokens - 1}`, found: String(index) });
  }
  if (index < g * g) return { kind: 'base', patch: index };
  const k = index - g * g;
  // Each kept row is `width` cells and then its newline.
  const row = Math.floor(k / (grid.width + 1));
  const col = k % (grid.width + 1);
  if (col === grid.width) return { kind: 'newline', row };
  const y = grid.top + row;
  const x = grid.left + col;
  return { kind: 'tile', y, x, tile: [Math.floor(y / g), Math.floor(x / g)], patch: [y % g, x % g] };
}
