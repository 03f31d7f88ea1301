// LLaVA-NeXT's feature packing (HF LlavaNextForConditionalGeneration.pack_image_features): the base
// image's tokens first, then the tiles' tokens laid out as one grid, cut back to the image's aspect
// ratio (unpadding), with the learned newline vector after every row, read row by row.
// Legend: B = 1 + tiles crops, g patches per crop side, P = g*g, D decoder hidden.

/** Rows and columns of the tile grid kept after unpadding, in feature-grid units. */
export interface UnpaddedGrid {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
}

/**
 * features [B, P, D] (base first, then tiles row-major) -> [N, D] with
 * N = P + height * (width + 1), or P + 1 (base and one newline) when there are no tiles.
 */
export function packNextFeatures(
  features: Float32Array,
  D: number,
  patchesPerSide: number,
  tileCols: number,
  grid: UnpaddedGrid,
  newline: Float32Array,
): Float32Array {
  const g = patchesPerSide;
  const P = g * g;
  const crops = features.length / (P * D);
  const base = features.subarray(0, P * D);
  if (crops === 1) {
    const out = new Float32Array((P + 1) * D);
    out.set(base);
    out.set(newline, P * D);
    return out;
  }
  const out = new Float32Array((P + grid.height * (grid.width + 1)) * D);
  out.set(base);
  let row = P;
  for (let y = grid.top; y < grid.top + grid.height; y++) {
    for (let x = grid.left; x < grid.left + grid.width; x++) {
      // Feature-grid cell (y, x) is token (y % g, x % g) of tile (y / g, x / g).
      const tile = Math.floor(y / g) * tileCols + Math.floor(x / g);
      const token = (y % g) * g + (x % g);
      const from = ((1 + tile) * P + token) * D;
      out.set(features.subarray(from, from + D), row++ * D);
    }
    out.set(newline, row++ * D);
  }
  return out;
}
