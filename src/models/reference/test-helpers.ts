// Fixtures for the reference tests: a seeded PRNG, a tiny LLaVA config built through the real
// config normaliser, and a random weight map with every llava-hf tensor name that config needs.
import { normalizeLlavaConfig, type LlavaArch } from '../../config/llava.js';
import type { WeightLookup } from './weights.js';

/** mulberry32: a small, fast 32-bit seeded PRNG returning uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TinyOverrides {
  readonly vision?: Record<string, unknown>;
  readonly text?: Record<string, unknown>;
  readonly llava?: Record<string, unknown>;
}

/** Dv=16, 2 heads, 2 layers, patch 4 on an 8×8 image (4 patches); Dt=16, 2 heads over 1 kv head, V=50. */
export function tinyArch(overrides: TinyOverrides = {}): LlavaArch {
  return normalizeLlavaConfig({
    model_type: 'llava',
    image_token_index: 49,
    vision_config: {
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      image_size: 8,
      patch_size: 4,
      ...overrides.vision,
    },
    text_config: {
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      vocab_size: 50,
      max_position_embeddings: 64,
      ...overrides.text,
    },
    ...overrides.llava,
  });
}

/** Every tensor name `arch` needs with its shape; lm_head is left out when tied, projector biases when absent. */
export function weightShapes(arch: LlavaArch): Map<string, number[]> {
  const v = arch.vision;
  const t = arch.text;
  const shapes = new Map<string, number[]>();
  const vp = 'vision_tower.vision_model';
  shapes.set(`${vp}.embeddings.patch_embedding.weight`, [v.hiddenSize, 3, v.patchSize, v.patchSize]);
  shapes.set(`${vp}.embeddings.class_embedding`, [v.hiddenSize]);
  shapes.set(`${vp}.embeddings.position_embedding.weight`, [v.numPatches + 1, v.hiddenSize]);
  shapes.set(`${vp}.pre_layrnorm.weight`, [v.hiddenSize]);
  shapes.set(`${vp}.pre_layrnorm.bias`, [v.hiddenSize]);
  for (let i = 0; i < v.numLayers; i++) {
    const p = `${vp}.encoder.layers.${i}`;
    const linear = (name: string, out: number, inDim: number) => {
      shapes.set(`${p}.${name}.weight`, [out, inDim]);
      shapes.set(`${p}.${name}.bias`, [out]);
    };
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      linear(`self_attn.${proj}`, v.hiddenSize, v.hiddenSize);
    }
    linear('mlp.fc1', v.intermediateSize, v.hiddenSize);
    linear('mlp.fc2', v.hiddenSize, v.intermediateSize);
    for (const norm of ['layer_norm1', 'layer_norm2']) {
      shapes.set(`${p}.${norm}.weight`, [v.hiddenSize]);
      shapes.set(`${p}.${norm}.bias`, [v.hiddenSize]);
    }
  }
  shapes.set('multi_modal_projector.linear_1.weight', [t.hiddenSize, v.hiddenSize]);
  shapes.set('multi_modal_projector.linear_2.weight', [t.hiddenSize, t.hiddenSize]);
  if (arch.projectorBias) {
    shapes.set('multi_modal_projector.linear_1.bias', [t.hiddenSize]);
    shapes.set('multi_modal_projector.linear_2.bias', [t.hiddenSize]);
  }
  const tp = 'language_model.model';
  shapes.set(`${tp}.embed_tokens.weight`, [t.vocabSize, t.hiddenSize]);
  const qWidth = t.numHeads * t.headDim;
  const kvWidth = t.numKvHeads * t.headDim;
  for (let i = 0; i < t.numLayers; i++) {
    const p = `${tp}.layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [t.hiddenSize]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [t.hiddenSize]);
    shapes.set(`${p}.self_attn.q_proj.weight`, [qWidth, t.hiddenSize]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [kvWidth, t.hiddenSize]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [kvWidth, t.hiddenSize]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [t.hiddenSize, qWidth]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [t.intermediateSize, t.hiddenSize]);
    shapes.set(`${p}.mlp.up_proj.weight`, [t.intermediateSize, t.hiddenSize]);
    shapes.set(`${p}.mlp.down_proj.weight`, [t.hiddenSize, t.intermediateSize]);
  }
  shapes.set(`${tp}.norm.weight`, [t.hiddenSize]);
  if (!t.tieWordEmbeddings) shapes.set('language_model.lm_head.weight', [t.vocabSize, t.hiddenSize]);
  return shapes;
}

/** Uniform weights in [-0.5, 0.5); norm weights are 1 + that, so norms neither vanish nor flip. */
export function randomWeights(arch: LlavaArch, seed: number): Map<string, Float32Array> {
  const random = mulberry32(seed);
  const weights = new Map<string, Float32Array>();
  for (const [name, shape] of weightShapes(arch)) {
    const isNormWeight = /norm\d?\.weight$/.test(name);
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = (isNormWeight ? 1 : 0) + random() - 0.5;
    weights.set(name, data);
  }
  return weights;
}

/** A lookup over `weights` that throws on a name it does not hold, so stray lookups fail tests. */
export function lookupFrom(weights: ReadonlyMap<string, Float32Array>): WeightLookup {
  return (name) => {
    const data = weights.get(name);
    if (!data) throw new Error(`no tensor named ${name}`);
    return data;
  };
}

/** Pixel values [1, 3, S, S] uniform in [-1, 1). */
export function randomPixels(arch: LlavaArch, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: 3 * arch.vision.imageSize ** 2 }, () => 2 * random() - 1);
}

export function randomMatrix(length: number, seed: number): Float64Array {
  const random = mulberry32(seed);
  return Float64Array.from({ length }, () => 2 * random() - 1);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Row `row` of a row-major matrix with `width` columns. */
export function row(matrix: Float64Array, width: number, index: number): Float64Array {
  return matrix.subarray(index * width, (index + 1) * width);
}
