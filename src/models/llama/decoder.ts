// LLaMA decoder graphs (HF LlamaModel / LlamaForCausalLM), one layer cut into the two parts that
// hold weights: before attention (RMSNorm, q/k/v projections, rotary embeddings at explicit
// positions) and after it (o_proj, residual, RMSNorm, SwiGLU MLP, residual). The attention itself
// is a weightless graph (attention.ts) fed from the runtime's per-layer KV cache, so one session per
// layer part serves prefill and decode alike and the runtime can drop tokens between any two layers.
// Legend: T new tokens, D hidden, H heads, Hk kv heads, G = H/Hk, Hd head dim, I MLP width, V vocab.
import { GraphBuilder, type Value } from '../../onnx/builder.js';
import { Ops } from '../../onnx/ops.js';
import type { TextArch } from '../../config/llava.js';
import type { LinearEncoding } from '../../quant/format.js';
import { linear } from '../linear.js';
import { vectorWeight, type WeightSource } from '../weights.js';

export const DECODER_PREFIX = 'language_model.model';
/** The decoder's final RMSNorm, applied before lm_head. */
export const FINAL_NORM_WEIGHT = `${DECODER_PREFIX}.norm.weight`;
export const LM_HEAD_WEIGHT = 'language_model.lm_head.weight';
export const EMBED_WEIGHT = `${DECODER_PREFIX}.embed_tokens.weight`;

/**
 * Rotary inverse frequencies as HF computes them in float32: 1 / theta^(2j / Hd), j < Hd/2.
 * Each step is rounded to float32 so the angles match HF's to the last bit as far as possible.
 */
export function ropeInverseFrequencies(t: TextArch): number[] {
  return Array.from({ length: t.headDim / 2 }, (_, j) => {
    const exponent = Math.fround((2 * j) / t.headDim);
    return Math.fround(1 / Math.fround(Math.pow(t.ropeTheta, exponent)));
  });
}

export function rmsNorm(op: Ops, g: GraphBuilder, x: Value, weight: Value, eps: number): Value {
  const meanSquare = op.reduceMean(op.mul(x, x), [-1]); // [T,1]
  return op.mul(op.div(x, op.sqrt(op.add(meanSquare, g.constFloat(eps)))), weight);
}

/** x [T,n,Hd] rotated by the angles of `positions`; cos and sin are [T,1,Hd/2]. */
export function rotate(op: Ops, x: Value, cos: Value, sin: Value, headDim: number): Value {
  const [x1, x2] = op.split(x, [headDim / 2, headDim / 2], -1) as [Value, Value];
  return op.concat([op.sub(op.mul(x1, cos), op.mul(x2, sin)), op.add(op.mul(x2, cos), op.mul(x1, sin))], -1);
}

/**
 * hidden [T,D], position_ids [T] -> query [Hk, G*T, Hd] (pre-scaled by Hd^-0.5),
 * key_t [Hk, Hd, T] (keys transposed, the cache's layout), value [Hk, T, Hd].
 */
export function buildAttentionInputGraph(t: TextArch, w: WeightSource, layer: number, encoding: LinearEncoding): GraphBuilder {
  const g = new GraphBuilder(`decoder_${layer}_attention_input`);
  const op = new Ops(g);
  const prefix = `${DECODER_PREFIX}.layers.${layer}`;
  const { hiddenSize: D, numHeads: H, numKvHeads: Hk, headDim: Hd } = t;
  const hidden = g.input('hidden', 'float32', ['T', D]);
  const positions = g.input('position_ids', 'int64', ['T']);

  const angles = op.mul(op.unsqueeze(op.castToFloat(positions), [1]), g.constFloat(ropeInverseFrequencies(t))); // [T,Hd/2]
  const cos = op.unsqueeze(op.cos(angles), [1]); // [T,1,Hd/2]
  const sin = op.unsqueeze(op.sin(angles), [1]);

  const x = rmsNorm(op, g, hidden, vectorWeight(g, w, `${prefix}.input_layernorm.weight`, D), t.rmsNormEps);
  const project = (module: string, heads: number) =>
    op.reshape(linear(g, op, w, `${prefix}.self_attn.${module}.weight`, x, heads * Hd, D, encoding), [-1, heads, Hd]); // [T,heads,Hd]

  const q = rotate(op, project('q_proj', H), cos, sin, Hd);
  // Heads h = k*G + j share kv head k, so [H,T,Hd] regroups to [Hk, G*T, Hd] without copying.
  const query = op.mul(op.reshape(op.transpose(q, [1, 0, 2]), [Hk, -1, Hd]), g.constFloat(Hd ** -0.5));
  const keyT = op.transpose(rotate(op, project('k_proj', Hk), cos, sin, Hd), [1, 2, 0]); // [Hk,Hd,T]
  const value = op.transpose(project('v_proj', Hk), [1, 0, 2]); // [Hk,T,Hd]
  g.output(query, 'query', 'float32', [Hk, 'GT', Hd]);
  g.output(keyT, 'key_t', 'float32', [Hk, Hd, 'T']);
  g.output(value, 'value', 'float32', [Hk, 'T', Hd]);
  return g;
}

/** context [T, H*Hd], hidden [T,D] (the layer's input, for the residual) -> hidden_out [T,D]. */
export function buildAttentionOutputGraph(t: TextArch, w: WeightSource, layer: number, encoding: LinearEncoding): GraphBuilder {
  const g = new GraphBuilder(`decoder_${layer}_attention_output`);
  const op = new Ops(g);
  const prefix = `${DECODER_PREFIX}.layers.${layer}`;
  const { hiddenSize: D, numHeads: H, headDim: Hd, intermediateSize: I } = t;
  const context = g.input('context', 'float32', ['T', H * Hd]);
  const hidden = g.input('hidden', 'float32', ['T', D]);
  const project = (x: Value, module: string, outFeatures: number, inFeatures: number) =>
    linear(g, op, w, `${prefix}.${module}.weight`, x, outFeatures, inFeatures, encoding);
  const attended = op.add(hidden, project(context, 'self_attn.o_proj', D, H * Hd));
  const out = g.scope('mlp', () => {
    const x = rmsNorm(op, g, attended, vectorWeight(g, w, `${prefix}.post_attention_layernorm.weight`, D), t.rmsNormEps);
    const gate = project(x, 'mlp.gate_proj', I, D); // [T,I]
    const up = project(x, 'mlp.up_proj', I, D); // [T,I]
    const swish = op.mul(gate, op.sigmoid(gate));
    return op.add(attended, project(op.mul(swish, up), 'mlp.down_proj', D, I));
  });
  g.output(out, 'hidden_out', 'float32', ['T', D]);
  return g;
}

/** hidden [R,D] -> logits [R,V] (final RMSNorm, then lm_head; tied to embed_tokens when configured). */
export function buildLmHeadGraph(t: TextArch, w: WeightSource, encoding: LinearEncoding): GraphBuilder {
  const g = new GraphBuilder('lm_head');
  const op = new Ops(g);
  const hidden = g.input('hidden', 'float32', ['R', t.hiddenSize]);
  const normed = rmsNorm(op, g, hidden, vectorWeight(g, w, FINAL_NORM_WEIGHT, t.hiddenSize), t.rmsNormEps);
  const headName = t.tieWordEmbeddings ? EMBED_WEIGHT : LM_HEAD_WEIGHT;
  g.output(linear(g, op, w, headName, normed, t.vocabSize, t.hiddenSize, encoding), 'logits', 'float32', ['R', t.vocabSize]);
  return g;
}
