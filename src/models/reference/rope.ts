// Rotary position embedding as HF Llama applies it (rotate_half convention): dimension j of a head
// pairs with j + headDim/2, both rotated by angle position * theta^(-2j/headDim).
// Computed in float64 throughout (HF rounds inv_freq and cos/sin to float32).

/** x [tokens, numHeads*headDim] → the same with every head rotated by its token's position. */
export function applyRope(
  x: Float64Array,
  tokens: number,
  numHeads: number,
  headDim: number,
  positions: readonly number[],
  theta: number,
): Float64Array {
  const half = headDim / 2;
  const width = numHeads * headDim;
  const out = new Float64Array(x.length);
  for (let t = 0; t < tokens; t++) {
    const position = positions[t]!;
    for (let j = 0; j < half; j++) {
      const angle = position * theta ** ((-2 * j) / headDim);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (let h = 0; h < numHeads; h++) {
        const base = t * width + h * headDim;
        const first = x[base + j]!;
        const second = x[base + j + half]!;
        // q*cos + rotate_half(q)*sin, with rotate_half(q) = cat(-q[half:], q[:half]).
        out[base + j] = first * cos - second * sin;
        out[base + j + half] = second * cos + first * sin;
      }
    }
  }
  return out;
}
