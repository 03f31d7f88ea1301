// Fixtures for the reference tests: a tiny LLaVA config built through the real config normaliser,
// and a random weight map with every llava-hf tensor name that config needs.
import { normalizeLlavaConfig, type LlavaArch } from '../../config/llava.js';
import { mulberry32 } from '../../util/prng.js';
import { llavaTensorList } from '../llava/tensor-list.js';
import type { WeightLookup } from './weights.js';

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

/** Every tensor name `arch` needs with its shape (the list make-tiny writes). */
export function weightShapes(arch: LlavaArch): Map<string, readonly number[]> {
  return new Map(llavaTensorList(arch).map((spec) => [spec.name, spec.shape]));
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

/** The largest absolute difference over the largest magnitude expected: an error relative to the tensor's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  return maxAbsDiff(actual, expected) / maxAbsDiff(expected, new Float64Array(expected.length));
}

/** Row `row` of a row-major matrix with `width` columns. */
export function row(matrix: Float64Array, width: number, index: number): Float64Array {
  return matrix.subarray(index * width, (index + 1) * width);
}
