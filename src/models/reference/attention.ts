// Scaled dot-product attention over already-projected heads, shared by CLIP (bidirectional,
// one kv head per query head) and Llama (causal, grouped-query). Softmax(q·kᵀ / √headDim)·v.
import { softmax } from './math.js';

export interface AttentionShape {
  readonly tokens: number;
  readonly numHeads: number;
  /** Query head h reads kv head floor(h / (numHeads / numKvHeads)), as HF's repeat_kv does. */
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Token i attends to tokens 0..i only. */
  readonly causal: boolean;
}

/** q [tokens, numHeads*headDim], k and v [tokens, numKvHeads*headDim]; returns [tokens, numHeads*headDim]. */
export function attention(q: Float64Array, k: Float64Array, v: Float64Array, shape: AttentionShape): Float64Array {
  const { tokens, numHeads, numKvHeads, headDim, causal } = shape;
  const groupSize = numHeads / numKvHeads;
  const scale = headDim ** -0.5;
  const qWidth = numHeads * headDim;
  const kvWidth = numKvHeads * headDim;
  const out = new Float64Array(tokens * qWidth);
  for (let h = 0; h < numHeads; h++) {
    const kvHead = Math.floor(h / groupSize);
    for (let i = 0; i < tokens; i++) {
      const visible = causal ? i + 1 : tokens;
      const scores = new Float64Array(visible);
      for (let j = 0; j < visible; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) {
          dot += q[i * qWidth + h * headDim + d]! * k[j * kvWidth + kvHead * headDim + d]!;
        }
        scores[j] = dot * scale;
      }
      const probs = softmax(scores);
      for (let d = 0; d < headDim; d++) {
        let sum = 0;
        for (let j = 0; j < visible; j++) sum += probs[j]! * v[j * kvWidth + kvHead * headDim + d]!;
        out[i * qWidth + h * headDim + d] = sum;
      }
    }
  }
  return out;
}
