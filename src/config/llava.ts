// The llava-hf `config.json` dialects (model_type "llava", and "llava_next" with its anyres grid
// pinpoints), validated with zod and normalised into one frozen LlavaArch. Defaults are Hugging Face's (LlamaConfig, CLIPVisionConfig, LlavaConfig),
// because llava-hf checkpoints omit every key that equals its default.
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { parseWith, readJsonFile } from './json-file.js';

const positiveInt = z.number().int().positive();

const visionSchema = z.object({
  model_type: z.literal('clip_vision_model').default('clip_vision_model'),
  hidden_size: positiveInt.default(768),
  intermediate_size: positiveInt.default(3072),
  num_hidden_layers: positiveInt.default(12),
  num_attention_heads: positiveInt.default(12),
  num_channels: z.literal(3).default(3),
  image_size: positiveInt.default(224),
  patch_size: positiveInt.default(32),
  hidden_act: z.enum(['quick_gelu', 'gelu']).default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
});

const eosSchema = z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative()).min(1)]);

const textSchema = z.object({
  model_type: z.literal('llama').default('llama'),
  hidden_size: positiveInt.default(4096),
  intermediate_size: positiveInt.default(11008),
  num_hidden_layers: positiveInt.default(32),
  num_attention_heads: positiveInt.default(32),
  num_key_value_heads: positiveInt.nullish(),
  head_dim: positiveInt.nullish(),
  vocab_size: positiveInt.default(32000),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: z.null({ message: 'null (rope scaling is not supported yet)' }).optional(),
  max_position_embeddings: positiveInt.default(2048),
  hidden_act: z.literal('silu').default('silu'),
  attention_bias: z.literal(false, { message: 'false (attention biases are not supported)' }).default(false),
  mlp_bias: z.literal(false, { message: 'false (MLP biases are not supported)' }).default(false),
  tie_word_embeddings: z.boolean().default(false),
  bos_token_id: z.number().int().nonnegative().default(1),
  eos_token_id: eosSchema.default(2),
});

const pinpointsSchema = z
  .array(z.tuple([z.number().int().positive(), z.number().int().positive()]), { message: 'a list of [height, width] pairs' })
  .min(1, 'at least one [height, width] pair');

const llavaSchema = z.object({
  model_type: z.enum(['llava', 'llava_next']),
  image_grid_pinpoints: pinpointsSchema.optional(),
  vision_config: visionSchema.default(visionSchema.parse({})),
  text_config: textSchema.default(textSchema.parse({})),
  image_token_index: z.number().int().nonnegative().optional(),
  image_token_id: z.number().int().nonnegative().optional(),
  projector_hidden_act: z.literal('gelu').default('gelu'),
  multimodal_projector_bias: z.boolean().default(true),
  vision_feature_layer: z.number().int().default(-2),
  vision_feature_select_strategy: z.enum(['default', 'full']).default('default'),
  tie_word_embeddings: z.boolean().optional(),
});

export interface VisionArch {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly imageSize: number;
  readonly patchSize: number;
  /** Patches per side: imageSize / patchSize (24 for CLIP ViT-L/14-336). */
  readonly gridSize: number;
  /** gridSize^2 patch tokens; the class token comes in front of them. */
  readonly numPatches: number;
  readonly hiddenAct: 'quick_gelu' | 'gelu';
  readonly layerNormEps: number;
}

export interface TextArch {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly maxPositions: number;
  readonly tieWordEmbeddings: boolean;
  readonly bosTokenId: number;
  readonly eosTokenIds: readonly number[];
}

/** llava-v1.6's `image_grid_pinpoints`, [height, width]: 2x1, 1x2, 2x2, 3x1 and 1x3 tiles of 336. */
export const LLAVA_V16_PINPOINTS = [
  [336, 672],
  [672, 336],
  [672, 672],
  [1008, 336],
  [336, 1008],
] as const;

/** LLaVA-NeXT's anyres settings: candidate canvases, each a multiple of the vision image size. */
export interface AnyresArch {
  /** [height, width] canvases the image may be resized and padded to before tiling. */
  readonly pinpoints: readonly (readonly [number, number])[];
}

export interface LlavaArch {
  readonly modelType: 'llava' | 'llava_next';
  /** Present for llava_next: crops plus a base image, unpadded feature grid, a newline token per row. */
  readonly anyres: AnyresArch | null;
  readonly vision: VisionArch;
  readonly text: TextArch;
  readonly imageTokenId: number;
  /** How many CLIP layers run: features are the hidden state after this many layers. */
  readonly visionLayersUsed: number;
  /** `default` drops the class token from the features, `full` keeps it. */
  readonly selectStrategy: 'default' | 'full';
  readonly projectorBias: boolean;
  /** Image tokens one image (LLaVA-NeXT: one crop) occupies in the decoder's sequence. */
  readonly imageTokensPerImage: number;
}

export const CONFIG_FILE = 'config.json';

/** Validates a parsed config.json and normalises it; throws ConfigError naming the key at fault. */
export function normalizeLlavaConfig(raw: unknown): LlavaArch {
  const modelType = (raw as { model_type?: unknown } | null)?.model_type;
  if (modelType !== 'llava' && modelType !== 'llava_next') {
    throw new ConfigError({
      subject: `${CONFIG_FILE}: model_type`,
      expected: '"llava" or "llava_next"',
      found: modelType === undefined ? 'nothing' : JSON.stringify(modelType),
      hint: 'visdrop runs llava-hf LLaVA-1.5 and LLaVA-NeXT checkpoints',
    });
  }
  const c = parseWith(llavaSchema, raw, CONFIG_FILE);
  const v = c.vision_config;
  const t = c.text_config;

  if (v.hidden_size % v.num_attention_heads !== 0) {
    throw new ConfigError({
      subject: `${CONFIG_FILE}: vision_config.num_attention_heads`,
      expected: `a divisor of hidden_size ${v.hidden_size}`,
      found: String(v.num_attention_heads),
    });
  }
  if (v.image_size % v.patch_size !== 0) {
    throw new ConfigError({
      subject: `${CONFIG_FILE}: vision_config.patch_size`,
      expected: `a divisor of image_size ${v.image_size}`,
      found: String(v.patch_size),
    });
  }
  const numKvHeads = t.num_key_value_heads ?? t.num_attention_heads;
  if (t.num_attention_heads % numKvHeads !== 0) {
    throw new ConfigError({
      subject: `${CONFIG_FILE}: text_config.num_key_value_heads`,
      expected: `a divisor of num_attention_heads ${t.num_attention_heads}`,
      found: String(numKvHeads),
    });
  }
  const headDim = t.head_dim ?? t.hidden_size / t.num_attention_heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ConfigError({
      subject: `${CONFIG_FILE}: text_config.head_dim`,
      expected: 'an even whole number (hidden_size / num_attention_heads by default)',
      found: String(headDim),
    });
  }
  const imageTokenId = c.image_token_index ?? c.image_token_id;
  if (imageTokenId === undefined) {
    throw new ConfigError({ subject: `${CONFIG_FILE}: image_token_index`, expected: 'a token id', found: 'nothing' });
  }
  // hidden_states has numLayers + 1 entries (embeddings first); a negative index counts from the end.
  const featureLayer = c.vision_feature_layer;
  const visionLayersUsed = featureLayer < 0 ? v.num_hidden_layers + 1 + featureLayer : featureLayer;
  if (visionLayersUsed < 0 || visionLayersUsed > v.num_hidden_layers) {
    throw new ConfigError({
      subject: `${CONFIG_FILE}: vision_feature_layer`,
      expected: `an index into ${v.num_hidden_layers + 1} hidden states`,
      found: String(featureLayer),
    });
  }

  const pinpoints = c.image_grid_pinpoints;
  if (c.model_type === 'llava_next' && c.vision_feature_select_strategy !== 'default') {
    throw new ConfigError({
      subject: `${CONFIG_FILE}: vision_feature_select_strategy`,
      expected: '"default" for llava_next (its tile grid has no class token)',
      found: JSON.stringify(c.vision_feature_select_strategy),
    });
  }
  if (c.model_type === 'llava_next') {
    const bad = pinpoints?.find(([h, w]) => h % v.image_size !== 0 || w % v.image_size !== 0);
    if (!pinpoints || bad) {
      throw new ConfigError({
        subject: `${CONFIG_FILE}: image_grid_pinpoints`,
        expected: `[height, width] pairs, multiples of the image size ${v.image_size}`,
        found: bad ? `[${bad.join(', ')}]` : 'nothing',
      });
    }
  }
  const gridSize = v.image_size / v.patch_size;
  const numPatches = gridSize * gridSize;
  const eos = t.eos_token_id;
  return deepFreeze({
    modelType: c.model_type,
    anyres: c.model_type === 'llava_next' ? { pinpoints: pinpoints! } : null,
    vision: {
      hiddenSize: v.hidden_size,
      intermediateSize: v.intermediate_size,
      numLayers: v.num_hidden_layers,
      numHeads: v.num_attention_heads,
      headDim: v.hidden_size / v.num_attention_heads,
      imageSize: v.image_size,
      patchSize: v.patch_size,
      gridSize,
      numPatches,
      hiddenAct: v.hidden_act,
      layerNormEps: v.layer_norm_eps,
    },
    text: {
      hiddenSize: t.hidden_size,
      intermediateSize: t.intermediate_size,
      numLayers: t.num_hidden_layers,
      numHeads: t.num_attention_heads,
      numKvHeads,
      headDim,
      vocabSize: t.vocab_size,
      rmsNormEps: t.rms_norm_eps,
      ropeTheta: t.rope_theta,
      maxPositions: t.max_position_embeddings,
      tieWordEmbeddings: c.tie_word_embeddings ?? t.tie_word_embeddings,
      bosTokenId: t.bos_token_id,
      eosTokenIds: typeof eos === 'number' ? [eos] : eos,
    },
    imageTokenId,
    visionLayersUsed,
    selectStrategy: c.vision_feature_select_strategy,
    projectorBias: c.multimodal_projector_bias,
    imageTokensPerImage: c.vision_feature_select_strategy === 'default' ? numPatches : numPatches + 1,
  });
}

export function loadLlavaConfig(dir: string): LlavaArch {
  return normalizeLlavaConfig(readJsonFile(dir, CONFIG_FILE));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
