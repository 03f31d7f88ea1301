// LlamaForCausalLM's forward pass in float64, without a KV cache: embedding lookup, pre-norm
// decoder layers (RMSNorm, RoPE, causal grouped-query attention, SwiGLU), final norm, lm_head.
import type { LlavaArch } from '../../config/llava.js';
import { PromptError } from '../../errors.js';
import { attention } from './attention.js';
import { add, linear, multiply, rmsNorm, silu } from './math.js';
import { applyRope } from './rope.js';
import { tensor, type WeightLookup } from './weights.js';

const PREFIX = 'language_model.model';
const EMBED = `${PREFIX}.embed_tokens.weight`;

/** Rows of embed_tokens for each id: [T, Dt]. */
export function referenceEmbed(arch: LlavaArch, w: WeightLookup, inputIds: readonly number[]): Float64Array {
  const { hiddenSize: dim, vocabSize } = arch.text;
  const table = tensor(w, EMBED, [vocabSize, dim]);
  const out = new Float64Array(inputIds.length * dim);
  inputIds.forEach((id, t) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new PromptError({ subject: `token ${t}`, expected: `an id in [0, ${vocabSize})`, found: String(id) });
    }
    out.set(table.subarray(id * dim, (id + 1) * dim), t * dim);
  });
  return out;
}

/**
 * Runs every decoder layer over embeddings [T, Dt] at the given positions. hiddenStates holds the
 * input then each layer's output, all before the final norm (HF norms the last one); logits [T, V],
 * or [1, V] for the last row only when `lastRowLogits` is set (the lm_head dominates a tiny model).
 */
export function referenceDecoder(
  arch: LlavaArch,
  w: WeightLookup,
  embeddings: Float64Array,
  positionIds: readonly number[],
  options: { readonly lastRowLogits?: boolean } = {},
): { hiddenStates: Float64Array[]; logits: Float64Array } {
  const t = arch.text;
  const tokens = positionIds.length;
  if (embeddings.length !== tokens * t.hiddenSize) {
    throw new PromptError({
      subject: 'decoder input',
      expected: `${tokens} positions × ${t.hiddenSize} = ${tokens * t.hiddenSize} values`,
      found: `${embeddings.length} values`,
    });
  }
  let h = embeddings;
  const hiddenStates = [h];
  for (let i = 0; i < t.numLayers; i++) {
    h = decoderLayer(arch, w, `${PREFIX}.layers.${i}`, h, positionIds);
    hiddenStates.push(h);
  }
  const rows = options.lastRowLogits ? 1 : tokens;
  const last = h.subarray((tokens - rows) * t.hiddenSize);
  const normed = rmsNorm(last, rows, t.hiddenSize, tensor(w, `${PREFIX}.norm.weight`, [t.hiddenSize]), t.rmsNormEps);
  const head = tensor(w, t.tieWordEmbeddings ? EMBED : 'language_model.lm_head.weight', [t.vocabSize, t.hiddenSize]);
  return { hiddenStates, logits: linear(normed, rows, t.hiddenSize, t.vocabSize, head) };
}

// h + o_proj(attn(rope(q), rope(k), v)) of input_layernorm(h), then h + down(silu(gate(x)) * up(x))
// of post_attention_layernorm(h).
export function decoderLayer(
  arch: LlavaArch,
  w: WeightLookup,
  prefix: string,
  h: Float64Array,
  positions: readonly number[],
): Float64Array {
  const t = arch.text;
  const tokens = positions.length;
  const dim = t.hiddenSize;
  const qWidth = t.numHeads * t.headDim;
  const kvWidth = t.numKvHeads * t.headDim;
  const dense = (x: Float64Array, name: string, inDim: number, outDim: number) =>
    linear(x, tokens, inDim, outDim, tensor(w, `${prefix}.${name}.weight`, [outDim, inDim]));
  const norm = (x: Float64Array, name: string) =>
    rmsNorm(x, tokens, dim, tensor(w, `${prefix}.${name}.weight`, [dim]), t.rmsNormEps);

  const n1 = norm(h, 'input_layernorm');
  const rope = (x: Float64Array, heads: number) => applyRope(x, tokens, heads, t.headDim, positions, t.ropeTheta);
  const q = rope(dense(n1, 'self_attn.q_proj', dim, qWidth), t.numHeads);
  const k = rope(dense(n1, 'self_attn.k_proj', dim, kvWidth), t.numKvHeads);
  const v = dense(n1, 'self_attn.v_proj', dim, kvWidth);
  const attended = attention(q, k, v, {
    tokens,
    numHeads: t.numHeads,
    numKvHeads: t.numKvHeads,
    headDim: t.headDim,
    causal: true,
  });
  h = add(h, dense(attended, 'self_attn.o_proj', qWidth, dim));

  const n2 = norm(h, 'post_attention_layernorm');
  const gated = multiply(
    dense(n2, 'mlp.gate_proj', dim, t.intermediateSize).map(silu),
    dense(n2, 'mlp.up_proj', dim, t.intermediateSize),
  );
  return add(h, dense(gated, 'mlp.down_proj', t.intermediateSize, dim));
}
