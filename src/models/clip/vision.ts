// CLIP vision tower graphs (HF CLIPVisionModel): the patch/class/position embeddings with the
// pre-layernorm as one graph, and each encoder layer as its own graph, so the runtime can stop
// between any two layers (token merging happens there).
// Legend: B images (crops), S tokens (class + patches), P patches, Dv hidden, H heads, Hd head dim.
import { GraphBuilder, type Value } from '../../onnx/builder.js';
import { Ops } from '../../onnx/ops.js';
import type { VisionArch } from '../../config/llava.js';
import type { LinearEncoding } from '../../quant/format.js';
import { linear } from '../linear.js';
import { vectorWeight, type WeightSource } from '../weights.js';

export const VISION_PREFIX = 'vision_tower.vision_model';

/** pixel_values [B,3,Img,Img] -> hidden [B,S,Dv] (the tower's hidden_states[0]). */
export function buildVisionEmbeddingsGraph(v: VisionArch, w: WeightSource): GraphBuilder {
  const g = new GraphBuilder('vision_embeddings');
  const op = new Ops(g);
  const name = (suffix: string) => `${VISION_PREFIX}.${suffix}`;
  const pixels = g.input('pixel_values', 'float32', ['B', 3, v.imageSize, v.imageSize]);
  const patchWeight = g.weight(
    name('embeddings.patch_embedding.weight'),
    w.float32(name('embeddings.patch_embedding.weight'), [v.hiddenSize, 3, v.patchSize, v.patchSize]),
    [v.hiddenSize, 3, v.patchSize, v.patchSize],
  );
  const grid = op.conv(pixels, patchWeight, [v.patchSize, v.patchSize]); // [B,Dv,G,G]
  const patches = op.transpose(op.reshape(grid, [0, v.hiddenSize, v.numPatches]), [0, 2, 1]); // [B,P,Dv]
  const classEmbedding = op.reshape(vectorWeight(g, w, name('embeddings.class_embedding'), v.hiddenSize), [1, 1, v.hiddenSize]);
  const classShape = op.concat([op.shape(pixels, 0, 1), g.constInt64([1, v.hiddenSize])], 0);
  const tokens = op.concat([op.expand(classEmbedding, classShape), patches], 1); // [B,S,Dv]
  const positions = g.weight(
    name('embeddings.position_embedding.weight'),
    w.float32(name('embeddings.position_embedding.weight'), [v.numPatches + 1, v.hiddenSize]),
    [v.numPatches + 1, v.hiddenSize],
  );
  const embedded = op.add(tokens, positions); // [B,S,Dv]
  const normed = op.layerNorm(
    embedded,
    vectorWeight(g, w, name('pre_layrnorm.weight'), v.hiddenSize),
    vectorWeight(g, w, name('pre_layrnorm.bias'), v.hiddenSize),
    v.layerNormEps,
  );
  g.output(normed, 'hidden_out', 'float32', ['B', v.numPatches + 1, v.hiddenSize]);
  return g;
}

/**
 * hidden [B,S,Dv] -> hidden [B,S,Dv] through encoder layer `index`; also `attentions` [B,H,R,S],
 * the attention probabilities of the query rows fed as `attention_rows` (int64 [R], usually empty:
 * reduction strategies ask for rows, e.g. the class token's), and `key_mean` [B,S,Hd], the layer's
 * keys (k_proj with bias, on the normed input) averaged over heads.
 */
export function buildVisionLayerGraph(v: VisionArch, w: WeightSource, index: number, encoding: LinearEncoding): GraphBuilder {
  const g = new GraphBuilder(`vision_layer_${index}`);
  const op = new Ops(g);
  const prefix = `${VISION_PREFIX}.encoder.layers.${index}`;
  const D = v.hiddenSize;
  const project = (x: Value, module: string, outFeatures: number, inFeatures: number) =>
    op.add(
      linear(g, op, w, `${prefix}.${module}.weight`, x, outFeatures, inFeatures, encoding),
      vectorWeight(g, w, `${prefix}.${module}.bias`, outFeatures),
    );
  const layerNorm = (x: Value, module: string) =>
    op.layerNorm(x, vectorWeight(g, w, `${prefix}.${module}.weight`, D), vectorWeight(g, w, `${prefix}.${module}.bias`, D), v.layerNormEps);

  const hidden = g.input('hidden', 'float32', ['B', 'S', D]);
  const rows = g.input('attention_rows', 'int64', ['R']);

  const attended = g.scope('self_attn', () => {
    const x = layerNorm(hidden, 'layer_norm1');
    const heads = (t: Value) => op.reshape(t, [0, 0, v.numHeads, v.headDim]); // [B,S,H,Hd]
    const q = op.transpose(heads(project(x, 'self_attn.q_proj', D, D)), [0, 2, 1, 3]); // [B,H,S,Hd]
    const k = heads(project(x, 'self_attn.k_proj', D, D)); // [B,S,H,Hd]
    // The keys averaged over heads (VisionZip's similarity metric): [B,S,Hd].
    g.output(op.reshape(op.reduceMean(k, [2]), [0, 0, v.headDim]), 'key_mean', 'float32', ['B', 'S', v.headDim]);
    const kT = op.transpose(k, [0, 2, 3, 1]); // [B,H,Hd,S]
    const val = op.transpose(heads(project(x, 'self_attn.v_proj', D, D)), [0, 2, 1, 3]); // [B,H,S,Hd]
    const scaled = op.mul(q, g.constFloat(v.headDim ** -0.5));
    const probs = op.softmax(op.matMul(scaled, kT), -1); // [B,H,S,S]
    g.output(op.gather(probs, rows, 2), 'attentions', 'float32', ['B', v.numHeads, 'R', 'S']);
    const context = op.reshape(op.transpose(op.matMul(probs, val), [0, 2, 1, 3]), [0, 0, D]); // [B,S,Dv]
    return op.add(hidden, project(context, 'self_attn.out_proj', D, D));
  });

  const out = g.scope('mlp', () => {
    const x = layerNorm(attended, 'layer_norm2');
    const up = project(x, 'mlp.fc1', v.intermediateSize, D); // [B,S,I]
    const activated =
      v.hiddenAct === 'quick_gelu' ? op.mul(up, op.sigmoid(op.mul(up, g.constFloat(1.702)))) : gelu(op, g, up);
    return op.add(attended, project(activated, 'mlp.fc2', D, v.intermediateSize));
  });
  g.output(out, 'hidden_out', 'float32', ['B', 'S', D]);
  return g;
}

/** Exact (erf) GELU: 0.5 x (1 + erf(x / sqrt 2)). */
export function gelu(op: Ops, g: GraphBuilder, x: Value): Value {
  const inner = op.add(g.constFloat(1), op.erf(op.mul(x, g.constFloat(Math.SQRT1_2))));
  return op.mul(op.mul(x, inner), g.constFloat(0.5));
}
