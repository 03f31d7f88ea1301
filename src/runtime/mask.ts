// Additive attention masks for the decoder's attention graph: 0 where a query may look, -Infinity
// where it may not. Softmax then gives those keys exactly zero weight.

/**
 * Mask [T, C + T] for T new tokens over a cache of `capacity` slots of which the first `length`
 * are filled: every filled slot is visible, spare slots are not, new tokens see themselves causally.
 */
export function attentionMask(T: number, capacity: number, length: number): Float32Array {
  const width = capacity + T;
  const mask = new Float32Array(T * width);
  for (let q = 0; q < T; q++) {
    const row = q * width;
    mask.fill(-Infinity, row + length, row + capacity);
    mask.fill(-Infinity, row + capacity + q + 1, row + width);
  }
  return mask;
}
