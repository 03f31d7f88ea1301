// Ranking helpers shared by strategies, on plain arrays.

/**
 * Mean over heads and over the given query rows of attention probabilities [H, R, T], restricted to
 * the key columns [start, start + count): one score per column.
 */
export function meanAttention(probs: Float32Array, numHeads: number, rows: number, keys: number, start: number, count: number): Float64Array {
  const scores = new Float64Array(count);
  for (let h = 0; h < numHeads; h++) {
    for (let r = 0; r < rows; r++) {
      const base = (h * rows + r) * keys + start;
      for (let j = 0; j < count; j++) scores[j] = scores[j]! + probs[base + j]!;
    }
  }
  for (let j = 0; j < count; j++) scores[j] = scores[j]! / (numHeads * rows);
  return scores;
}

/** Indices of the `k` largest scores (on ties the lower index wins), in ascending index order. */
export function topKSorted(scores: ArrayLike<number>, k: number): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order.slice(0, k).sort((a, b) => a - b);
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
