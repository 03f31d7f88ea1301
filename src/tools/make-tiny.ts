// Writes a seeded random-weight LLaVA checkpoint in the llava-hf layout (config.json,
// preprocessor_config.json, safetensors weights, a real LLaMA tokenizer with `<image>`): small ones
// for tests and the demo, or a benchmark preset at full size (a 7B is 14 GB of F16), written one
// tensor at a time into 5 GB shards as llava-hf's are. The same seed always gives the same files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LLAVA_V16_PINPOINTS, normalizeLlavaConfig, type LlavaArch } from '../config/llava.js';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD } from '../config/preprocessor.js';
import { writeShardedSafetensors, type TensorToWrite } from '../checkpoint/index.js';
import type { WritableDtype } from '../checkpoint/dtype.js';
import { OptionError } from '../errors.js';
import { PRESETS } from '../config/presets.js';
import { randomTensor } from '../models/random-weights.js';
import { llavaTensorList } from '../models/llava/tensor-list.js';
import { writeTinyTokenizer } from './tiny-tokenizer.js';

export interface TinyShape {
  readonly visionHidden: number;
  readonly visionLayers: number;
  readonly visionHeads: number;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly textHidden: number;
  readonly textLayers: number;
  readonly textHeads: number;
  readonly textKvHeads: number;
}

/** The default tiny model: the real 336-pixel, 14-pixel-patch grid (576 image tokens), narrow layers. */
export const TINY_SHAPE: TinyShape = {
  visionHidden: 64,
  visionLayers: 4,
  visionHeads: 4,
  imageSize: 336,
  patchSize: 14,
  textHidden: 128,
  textLayers: 4,
  textHeads: 4,
  textKvHeads: 4,
};

export interface MakeTinyOptions {
  readonly outDir: string;
  readonly seed: number;
  /** `llava` (LLaVA-1.5, default) or `llava-next` (anyres, llava-v1.6's pinpoints scaled to the image size). */
  readonly arch?: 'llava' | 'llava-next';
  readonly shape?: Partial<TinyShape>;
  /** A benchmark preset's full-size shapes (bench/presets.ts) instead of a tiny shape; `arch` and `shape` are then unused. */
  readonly preset?: string;
  readonly dtype?: WritableDtype;
}

/** save_pretrained's default max_shard_size ("5GB"), with which llava-hf's checkpoints were sharded. */
const PRESET_SHARD_BYTES = 5e9;
/** Tiny checkpoints stay one file. */
const TINY_SHARD_BYTES = 2 ** 31;

const TORCH_DTYPES: Record<WritableDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

function pinpointsFor(imageSize: number): number[][] {
  return LLAVA_V16_PINPOINTS.map(([h, w]) => [(h / 336) * imageSize, (w / 336) * imageSize]);
}

/** The config.json a tiny checkpoint of `shape` gets, written as llava-hf writes it. */
export function tinyConfigJson(shape: TinyShape, arch: 'llava' | 'llava-next' = 'llava'): Record<string, unknown> {
  return {
    architectures: [arch === 'llava' ? 'LlavaForConditionalGeneration' : 'LlavaNextForConditionalGeneration'],
    model_type: arch === 'llava' ? 'llava' : 'llava_next',
    ...(arch === 'llava-next' ? { image_grid_pinpoints: pinpointsFor(shape.imageSize) } : {}),
    image_token_index: 32000,
    pad_token_id: 32001,
    projector_hidden_act: 'gelu',
    vision_feature_layer: -2,
    vision_feature_select_strategy: 'default',
    tie_word_embeddings: false,
    vocab_size: 32064,
    torch_dtype: 'float32',
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: shape.visionHidden,
      intermediate_size: shape.visionHidden * 4,
      num_hidden_layers: shape.visionLayers,
      num_attention_heads: shape.visionHeads,
      image_size: shape.imageSize,
      patch_size: shape.patchSize,
      projection_dim: shape.visionHidden,
      hidden_act: 'quick_gelu',
      layer_norm_eps: 1e-5,
    },
    text_config: {
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      hidden_size: shape.textHidden,
      intermediate_size: shape.textHidden * 2,
      num_hidden_layers: shape.textLayers,
      num_attention_heads: shape.textHeads,
      num_key_value_heads: shape.textKvHeads,
      max_position_embeddings: 4096,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      vocab_size: 32064,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 32001,
      torch_dtype: 'float32',
    },
  };
}

/** preprocessor_config.json of llava-hf/llava-1.5-7b-hf (or llava-v1.6's), at the tiny model's image size. */
export function tinyPreprocessorJson(
  imageSize: number,
  arch: 'llava' | 'llava-next' = 'llava',
  normalisation: { readonly mean: readonly number[]; readonly std: readonly number[] } = { mean: OPENAI_CLIP_MEAN, std: OPENAI_CLIP_STD },
): Record<string, unknown> {
  return {
    image_processor_type: arch === 'llava' ? 'CLIPImageProcessor' : 'LlavaNextImageProcessor',
    processor_class: arch === 'llava' ? 'LlavaProcessor' : 'LlavaNextProcessor',
    ...(arch === 'llava-next' ? { image_grid_pinpoints: pinpointsFor(imageSize), do_pad: true } : {}),
    do_resize: true,
    size: { shortest_edge: imageSize },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: imageSize, width: imageSize },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [...normalisation.mean],
    image_std: [...normalisation.std],
    do_convert_rgb: true,
  };
}

/** The config.json to write: a preset's or a tiny shape's, with torch_dtype naming the dtype on disk. */
function configJson(options: MakeTinyOptions, dtype: WritableDtype): Record<string, unknown> {
  if (options.preset === undefined) return { ...tinyConfigJson({ ...TINY_SHAPE, ...options.shape }, options.arch), torch_dtype: TORCH_DTYPES[dtype] };
  const preset = PRESETS[options.preset];
  if (!preset) {
    throw new OptionError({ subject: '--preset', expected: `one of ${Object.keys(PRESETS).join(', ')}`, found: JSON.stringify(options.preset) });
  }
  return { ...preset, torch_dtype: TORCH_DTYPES[dtype] };
}

/** Writes the checkpoint; returns its normalised config. */
export async function makeTinyCheckpoint(options: MakeTinyOptions): Promise<LlavaArch> {
  const dtype = options.dtype ?? 'F32';
  const config = configJson(options, dtype);
  const arch = normalizeLlavaConfig(config);
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const preprocessor = tinyPreprocessorJson(arch.vision.imageSize, arch.anyres ? 'llava-next' : 'llava');
  writeFileSync(join(options.outDir, 'preprocessor_config.json'), `${JSON.stringify(preprocessor, null, 2)}\n`);
  writeFileSync(join(options.outDir, 'generation_config.json'), `${JSON.stringify({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 32001 }, null, 2)}\n`);
  await writeTinyTokenizer(options.outDir);
  // Lazy: each tensor is drawn when the writer reaches it, so only one is ever in memory.
  const tensors: TensorToWrite[] = llavaTensorList(arch).map(({ name, shape: dims }) => ({
    name,
    dtype,
    shape: dims,
    data: () => randomTensor(options.seed, name, dims),
  }));
  writeShardedSafetensors(options.outDir, tensors, options.preset === undefined ? TINY_SHARD_BYTES : PRESET_SHARD_BYTES, { format: 'pt' });
  return arch;
}
