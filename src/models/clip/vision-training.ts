// CLIP training graphs (weights as inputs, batch B): the embeddings and one encoder layer, each a
// body for training-graph.ts. The op sequence is the inference graphs' (vision.ts) except where a
// gradient rule is missing on purpose: the patch convolution (stride = kernel) is a reshape of the
// image into patch rows and one MatMul, and LayerNorm is written out.
// Legend: B images, S tokens (class + patches), P patches, G patches per side, p patch size, Dv hidden.
import type { VisionArch } from '../../config/llava.js';
import type { GraphBuilder, Value } from '../../onnx/builder.js';
import type { Ops } from '../../onnx/ops.js';
import { layerNormOps, linearInput, type TrainingBody } from '../training-graph.js';
import { gelu } from './vision.js';

/** Weight suffixes of the embeddings graph, under `vision_tower.vision_model.`. */
export const VISION_EMBEDDING_WEIGHTS = [
  'embeddings.patch_embedding.weight',
  'embeddings.class_embedding',
  'embeddings.position_embedding.weight',
  'pre_layrnorm.weight',
  'pre_layrnorm.bias',
] as const;

/** pixel_values [B,3,Img,Img] -> hidden_out [B,S,Dv] (hidden_states[0]). No activation gradient: pixels are data. */
export function visionEmbeddingsBody(v: VisionArch): (g: GraphBuilder, op: Ops) => TrainingBody {
  return (g, op) => {
    const { hiddenSize: D, patchSize: p, gridSize: G, numPatches: P, imageSize } = v;
    const pixels = g.input('pixel_values', 'float32', ['B', 3, imageSize, imageSize]);
    const [conv, classEmbedding, positions, normWeight, normBias] = [
      g.input('embeddings.patch_embedding.weight', 'float32', [D, 3, p, p]),
      g.input('embeddings.class_embedding', 'float32', [D]),
      g.input('embeddings.position_embedding.weight', 'float32', [P + 1, D]),
      g.input('pre_layrnorm.weight', 'float32', [D]),
      g.input('pre_layrnorm.bias', 'float32', [D]),
    ] as const;
    // [B,3,G,p,G,p] -> [B,G,G,3,p,p] -> one row of 3*p*p pixels per patch, in raster order.
    const patchRows = op.reshape(op.transpose(op.reshape(pixels, [0, 3, G, p, G, p]), [0, 2, 4, 1, 3, 5]), [0, P, 3 * p * p]);
    const patches = linearInput(g, op, patchRows, op.reshape(conv, [D, 3 * p * p])); // [B,P,Dv]
    const classShape = op.concat([op.shape(pixels, 0, 1), g.constInt64([1, D])], 0);
    const tokens = op.concat([op.expand(op.reshape(classEmbedding, [1, 1, D]), classShape), patches], 1); // [B,S,Dv]
    const normed = layerNormOps(g, op, op.add(tokens, positions), normWeight, normBias, v.layerNormEps);
    return { activations: [], weights: [conv, classEmbedding, positions, normWeight, normBias], outputs: [{ name: 'hidden_out', value: normed, shape: ['B', P + 1, D] }] };
  };
}

/** Weight suffixes of one encoder layer, under `vision_tower.vision_model.encoder.layers.<i>.`. */
export const VISION_LAYER_WEIGHTS = [
  'layer_norm1.weight',
  'layer_norm1.bias',
  'self_attn.q_proj.weight',
  'self_attn.q_proj.bias',
  'self_attn.k_proj.weight',
  'self_attn.k_proj.bias',
  'self_attn.v_proj.weight',
  'self_attn.v_proj.bias',
  'self_attn.out_proj.weight',
  'self_attn.out_proj.bias',
  'layer_norm2.weight',
  'layer_norm2.bias',
  'mlp.fc1.weight',
  'mlp.fc1.bias',
  'mlp.fc2.weight',
  'mlp.fc2.bias',
] as const;

/** hidden [B,S,Dv] -> hidden_out [B,S,Dv]: pre-norm bidirectional attention and MLP (quick-GELU or GELU). */
export function visionLayerBody(v: VisionArch): (g: GraphBuilder, op: Ops) => TrainingBody {
  return (g, op) => {
    const { hiddenSize: D, intermediateSize: I, numHeads: H, headDim: Hd } = v;
    const hidden = g.input('hidden', 'float32', ['B', 'S', D]);
    const shapes: Record<(typeof VISION_LAYER_WEIGHTS)[number], number[]> = {
      'layer_norm1.weight': [D],
      'layer_norm1.bias': [D],
      'self_attn.q_proj.weight': [D, D],
      'self_attn.q_proj.bias': [D],
      'self_attn.k_proj.weight': [D, D],
      'self_attn.k_proj.bias': [D],
      'self_attn.v_proj.weight': [D, D],
      'self_attn.v_proj.bias': [D],
      'self_attn.out_proj.weight': [D, D],
      'self_attn.out_proj.bias': [D],
      'layer_norm2.weight': [D],
      'layer_norm2.bias': [D],
      'mlp.fc1.weight': [I, D],
      'mlp.fc1.bias': [I],
      'mlp.fc2.weight': [D, I],
      'mlp.fc2.bias': [D],
    };
    const weights = VISION_LAYER_WEIGHTS.map((name) => g.input(name, 'float32', shapes[name]));
    const w = (name: (typeof VISION_LAYER_WEIGHTS)[number]): Value => weights[VISION_LAYER_WEIGHTS.indexOf(name)]!;
    const project = (x: Value, module: string) => linearInput(g, op, x, w(`${module}.weight` as never), w(`${module}.bias` as never));

    const x = layerNormOps(g, op, hidden, w('layer_norm1.weight'), w('layer_norm1.bias'), v.layerNormEps);
    const heads = (t: Value) => op.reshape(t, [0, 0, H, Hd]); // [B,S,H,Hd]
    const q = op.transpose(heads(project(x, 'self_attn.q_proj')), [0, 2, 1, 3]); // [B,H,S,Hd]
    const kT = op.transpose(heads(project(x, 'self_attn.k_proj')), [0, 2, 3, 1]); // [B,H,Hd,S]
    const val = op.transpose(heads(project(x, 'self_attn.v_proj')), [0, 2, 1, 3]); // [B,H,S,Hd]
    const probs = op.softmax(op.matMul(op.mul(q, g.constFloat(Hd ** -0.5)), kT), -1); // [B,H,S,S]
    const context = op.reshape(op.transpose(op.matMul(probs, val), [0, 2, 1, 3]), [0, 0, D]);
    const attended = op.add(hidden, project(context, 'self_attn.out_proj'));

    const up = project(layerNormOps(g, op, attended, w('layer_norm2.weight'), w('layer_norm2.bias'), v.layerNormEps), 'mlp.fc1'); // [B,S,I]
    const activated = v.hiddenAct === 'quick_gelu' ? op.mul(up, op.sigmoid(op.mul(up, g.constFloat(1.702)))) : gelu(op, g, up);
    const out = op.add(attended, project(activated, 'mlp.fc2'));
    return { activations: [hidden], weights, outputs: [{ name: 'hidden_out', value: out, shape: ['B', 'S', D] }] };
  };
}
