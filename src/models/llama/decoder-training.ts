// LLaMA training graphs (weights as inputs, batch B, right padding): one decoder layer as a whole
// (RMSNorm, q/k/v, rotary embeddings at explicit position ids, plain MatMul/Softmax attention with a
// causal plus padding mask, grouped-query heads, o_proj, SwiGLU MLP), the final norm + lm_head +
// cross-entropy over labelled rows, and the next layer's attention rows a PyramidDrop boundary
// ranks with. Norm and rotary blocks are the inference graphs' (decoder.ts).
// Legend: B rows, T tokens, D hidden, H heads, Hk kv heads, G = H/Hk, Hd head dim, I MLP width,
// V vocab, R labelled rows (loss) or query rows (scores).
import type { TextArch } from '../../config/llava.js';
import { GraphBuilder, type Value } from '../../onnx/builder.js';
import { Ops } from '../../onnx/ops.js';
import { linearInput, type TrainingBody } from '../training-graph.js';
import { rmsNorm, rotate, ropeInverseFrequencies } from './decoder.js';

/** Weight suffixes of one decoder layer, under `language_model.model.layers.<i>.`. */
export const DECODER_LAYER_WEIGHTS = [
  'input_layernorm.weight',
  'self_attn.q_proj.weight',
  'self_attn.k_proj.weight',
  'self_attn.v_proj.weight',
  'self_attn.o_proj.weight',
  'post_attention_layernorm.weight',
  'mlp.gate_proj.weight',
  'mlp.up_proj.weight',
  'mlp.down_proj.weight',
] as const;

type LayerWeight = (typeof DECODER_LAYER_WEIGHTS)[number];

function layerWeightShapes(t: TextArch): Record<LayerWeight, number[]> {
  const { hiddenSize: D, numHeads: H, numKvHeads: Hk, headDim: Hd, intermediateSize: I } = t;
  return {
    'input_layernorm.weight': [D],
    'self_attn.q_proj.weight': [H * Hd, D],
    'self_attn.k_proj.weight': [Hk * Hd, D],
    'self_attn.v_proj.weight': [Hk * Hd, D],
    'self_attn.o_proj.weight': [D, H * Hd],
    'post_attention_layernorm.weight': [D],
    'mlp.gate_proj.weight': [I, D],
    'mlp.up_proj.weight': [I, D],
    'mlp.down_proj.weight': [D, I],
  };
}

/** A large negative score for masked keys: exp() of it is 0, and a row can never turn NaN. */
const MASKED = -1e30;

/** cos and sin [..., 1, Hd/2] of position ids [...] (float math as the inference graph's). */
function rotaryAngles(g: GraphBuilder, op: Ops, t: TextArch, positions: Value): { cos: Value; sin: Value } {
  const angles = op.mul(op.unsqueeze(op.castToFloat(positions), [-1]), g.constFloat(ropeInverseFrequencies(t))); // [..., Hd/2]
  return { cos: op.unsqueeze(op.cos(angles), [-2]), sin: op.unsqueeze(op.sin(angles), [-2]) };
}

/**
 * hidden [B,T,D], position_ids int64 [B,T], attention_mask bool [B,T] (true = real token) ->
 * hidden_out [B,T,D]. Query t sees key j when j <= t and key j is a real token.
 */
export function decoderLayerBody(t: TextArch): (g: GraphBuilder, op: Ops) => TrainingBody {
  return (g, op) => {
    const { hiddenSize: D, numHeads: H, numKvHeads: Hk, headDim: Hd } = t;
    const G = H / Hk;
    const hidden = g.input('hidden', 'float32', ['B', 'T', D]);
    const positions = g.input('position_ids', 'int64', ['B', 'T']);
    const attentionMask = g.input('attention_mask', 'bool', ['B', 'T']);
    const shapes = layerWeightShapes(t);
    const weights = DECODER_LAYER_WEIGHTS.map((name) => g.input(name, 'float32', shapes[name]));
    const w = (name: LayerWeight): Value => weights[DECODER_LAYER_WEIGHTS.indexOf(name)]!;

    const { cos, sin } = rotaryAngles(g, op, t, positions); // [B,T,1,Hd/2]
    const x = rmsNorm(op, g, hidden, w('input_layernorm.weight'), t.rmsNormEps);
    const project = (name: LayerWeight, heads: number) => op.reshape(linearInput(g, op, x, w(name)), [0, 0, heads, Hd]); // [B,T,heads,Hd]
    // Query heads h = k*G + j share kv head k: [B,H,T,Hd] -> [B,Hk,G,T,Hd] against keys [B,Hk,1,Hd,T].
    const q = op.transpose(rotate(op, project('self_attn.q_proj.weight', H), cos, sin, Hd), [0, 2, 1, 3]);
    const query = op.reshape(op.mul(q, g.constFloat(Hd ** -0.5)), [0, Hk, G, -1, Hd]);
    const keyT = op.unsqueeze(op.transpose(rotate(op, project('self_attn.k_proj.weight', Hk), cos, sin, Hd), [0, 2, 3, 1]), [2]);
    const value = op.unsqueeze(op.transpose(project('self_attn.v_proj.weight', Hk), [0, 2, 1, 3]), [2]); // [B,Hk,1,T,Hd]

    const length = g.node('Squeeze', [op.shape(hidden, 1, 2), g.constInt64([0])]);
    const keys = g.node('Range', [g.constInt64(0), length, g.constInt64(1)]); // [T]
    const future = g.node('Greater', [keys, op.unsqueeze(keys, [1])]); // [T,T]: key after query
    const padding = g.node('Not', [op.reshape(attentionMask, [0, 1, 1, 1, -1])]); // [B,1,1,1,T]
    const mask = g.node('Where', [g.node('Or', [future, padding]), g.constFloat(MASKED), g.constFloat(0)]); // [B,1,1,T,T]
    const probs = op.softmax(op.add(op.matMul(query, keyT), mask), -1); // [B,Hk,G,T,T]
    const context = op.reshape(op.transpose(op.reshape(op.matMul(probs, value), [0, H, -1, Hd]), [0, 2, 1, 3]), [0, 0, H * Hd]);
    const attended = op.add(hidden, linearInput(g, op, context, w('self_attn.o_proj.weight')));

    const normed = rmsNorm(op, g, attended, w('post_attention_layernorm.weight'), t.rmsNormEps);
    const gate = linearInput(g, op, normed, w('mlp.gate_proj.weight'));
    const swish = op.mul(gate, op.sigmoid(gate));
    const out = op.add(attended, linearInput(g, op, op.mul(swish, linearInput(g, op, normed, w('mlp.up_proj.weight'))), w('mlp.down_proj.weight')));
    return { activations: [hidden], weights, outputs: [{ name: 'hidden_out', value: out, shape: ['B', 'T', D] }] };
  };
}

/**
 * hidden [R,D] (the rows whose next token is labelled), targets int64 [R], scale float [] (1 / the
 * micro-batch's labelled count) -> loss [] = -scale * sum_r log softmax(lm_head(norm(hidden_r)))[target_r].
 * Weights: `norm.weight` [D] and `lm_head.weight` [V,D] (embed_tokens when tied).
 */
export function lossBody(t: TextArch): (g: GraphBuilder, op: Ops) => TrainingBody {
  return (g, op) => {
    const { hiddenSize: D, vocabSize: V } = t;
    const hidden = g.input('hidden', 'float32', ['R', D]);
    const targets = g.input('targets', 'int64', ['R']);
    const scale = g.input('scale', 'float32', []);
    const normWeight = g.input('norm.weight', 'float32', [D]);
    const head = g.input('lm_head.weight', 'float32', [V, D]);
    const logProbs = g.node('LogSoftmax', [linearInput(g, op, rmsNorm(op, g, hidden, normWeight, t.rmsNormEps), head)], { axis: -1 }); // [R,V]
    const vocab = g.node('Range', [g.constInt64(0), g.constInt64(V), g.constInt64(1)]); // [V]
    const picked = g.node('Where', [g.node('Equal', [vocab, op.unsqueeze(targets, [1])]), logProbs, g.constFloat(0)]); // [R,V]
    const loss = op.neg(op.mul(g.node('ReduceSum', [picked], { keepdims: 0 }), scale));
    return { activations: [hidden], weights: [normWeight, head], outputs: [{ name: 'loss', value: loss, shape: [] }] };
  };
}

/**
 * One row's next-layer attention for ranking (no gradient): hidden [T,D], position_ids int64 [T],
 * query_rows int64 [R] -> attentions [H,R,T], causal, with layer weights `input_layernorm.weight`,
 * `self_attn.q_proj.weight`, `self_attn.k_proj.weight` as inputs.
 */
export function buildTrainingScoresGraph(t: TextArch): GraphBuilder {
  const g = new GraphBuilder('training_attention_rows');
  const op = new Ops(g);
  const { hiddenSize: D, numHeads: H, numKvHeads: Hk, headDim: Hd } = t;
  const shapes = layerWeightShapes(t);
  const hidden = g.input('hidden', 'float32', ['T', D]);
  const positions = g.input('position_ids', 'int64', ['T']);
  const rows = g.input('query_rows', 'int64', ['R']);
  const normWeight = g.input('input_layernorm.weight', 'float32', shapes['input_layernorm.weight']);
  const qWeight = g.input('self_attn.q_proj.weight', 'float32', shapes['self_attn.q_proj.weight']);
  const kWeight = g.input('self_attn.k_proj.weight', 'float32', shapes['self_attn.k_proj.weight']);
  const { cos, sin } = rotaryAngles(g, op, t, positions); // [T,1,Hd/2]
  const x = rmsNorm(op, g, hidden, normWeight, t.rmsNormEps);
  const project = (weight: Value, heads: number) => op.reshape(linearInput(g, op, x, weight), [0, heads, Hd]);
  const q = op.transpose(rotate(op, project(qWeight, H), cos, sin, Hd), [1, 0, 2]); // [H,T,Hd]
  const queryRows = op.reshape(op.mul(op.gather(q, rows, 1), g.constFloat(Hd ** -0.5)), [Hk, H / Hk, -1, Hd]); // [Hk,G,R,Hd]
  const keyT = op.unsqueeze(op.transpose(rotate(op, project(kWeight, Hk), cos, sin, Hd), [1, 2, 0]), [1]); // [Hk,1,Hd,T]
  const length = g.node('Squeeze', [op.shape(hidden, 0, 1), g.constInt64([0])]);
  const keys = g.node('Range', [g.constInt64(0), length, g.constInt64(1)]);
  const mask = g.node('Where', [g.node('Greater', [keys, op.unsqueeze(rows, [1])]), g.constFloat(-Infinity), g.constFloat(0)]); // [R,T]
  const probs = op.softmax(op.add(op.matMul(queryRows, keyT), mask), -1); // [Hk,G,R,T]
  g.output(op.reshapeTo(probs, op.concat([g.constInt64([H, -1]), op.shape(keys)], 0)), 'attentions', 'float32', [H, 'R', 'T']);
  return g;
}
