// Image-token counts of one prefill, from the counts entering each decoder layer: the count at each
// stage for the table, and the two averages MustDrop can be quoted in (its paper's convention,
// counts after each pruning layer, and the counts each layer really processed).

/**
 * The image's tokens, then the count entering the decoder when a vision stage merged some, then the
 * count after each boundary (layers run before a drop): 576→288→144→72 for PyramidDrop.
 */
export function stageCounts(imageTokens: number, perLayer: readonly number[], boundaries: readonly number[]): number[] {
  const entering = perLayer[0] ?? imageTokens;
  // A boundary at 0 (DivPrune, on the input embeddings) is the entering count already.
  return [imageTokens, ...(entering !== imageTokens ? [entering] : []), ...boundaries.filter((b) => b > 0).map((b) => perLayer[b]!)];
}

/** Mean over layers of the image tokens each processed (PyramidDrop's and FastV's convention). */
export function averageProcessed(perLayer: readonly number[]): number {
  return perLayer.reduce((a, b) => a + b, 0) / perLayer.length;
}

/**
 * MustDrop's convention: a pruning layer (boundary - 1) is counted with the tokens it keeps, as if it
 * had pruned before running. For filters after layers 2, 6, 10, 14 of 32 this is
 * (2·N0 + 4·|S1| + 4·|S2| + 4·|S3| + 18·|S4|) / 32.
 */
export function averageAfterPruning(perLayer: readonly number[], boundaries: readonly number[]): number {
  const pruning = new Set(boundaries.map((b) => b - 1));
  return averageProcessed(perLayer.map((n, layer) => (pruning.has(layer) ? perLayer[layer + 1]! : n)));
}
