// Benchmark presets: llava-hf config.json objects for the LLaVA-1.5 sizes and LLaVA-NeXT-7B, written
// as the hub's files are, so they go through the same normaliser as a real checkpoint. `cutDecoder`
// trims the decoder's depth so a preset fits in memory; everything else stays the real model's.
import { LLAVA_V16_PINPOINTS, normalizeLlavaConfig, type LlavaArch } from './llava.js';

/** A config.json as parsed from disk; normalizeLlavaConfig validates it. */
export type RawLlavaConfig = Record<string, unknown>;

/** CLIP ViT-L/14 at 336 pixels, the vision tower of every LLaVA-1.5 and LLaVA-NeXT. */
const CLIP_VIT_L_14_336 = {
  model_type: 'clip_vision_model',
  hidden_size: 1024,
  intermediate_size: 4096,
  num_hidden_layers: 24,
  num_attention_heads: 16,
  image_size: 336,
  patch_size: 14,
  projection_dim: 768,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
};

function llava15(text: { hidden: number; layers: number; heads: number; mlp: number }): RawLlavaConfig {
  return {
    architectures: ['LlavaForConditionalGeneration'],
    model_type: 'llava',
    image_token_index: 32000,
    pad_token_id: 32001,
    projector_hidden_act: 'gelu',
    vision_feature_layer: -2,
    vision_feature_select_strategy: 'default',
    tie_word_embeddings: false,
    vocab_size: 32064,
    vision_config: CLIP_VIT_L_14_336,
    text_config: {
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      hidden_size: text.hidden,
      intermediate_size: text.mlp,
      num_hidden_layers: text.layers,
      num_attention_heads: text.heads,
      num_key_value_heads: text.heads,
      vocab_size: 32064,
      max_position_embeddings: 4096,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      torch_dtype: 'float16',
    },
  };
}

const VICUNA_7B = { hidden: 4096, layers: 32, heads: 32, mlp: 11008 };

/**
 * llava-hf/llava-v1.6-vicuna-7b-hf: LLaVA-1.5-7B's Vicuna-7B and CLIP-L/336 with anyres tiling over
 * llava-v1.6's pinpoints (a 672x672 image: base + 2x2 tiles, 2928 image tokens).
 */
function llavaNext7b(): RawLlavaConfig {
  return {
    ...llava15(VICUNA_7B),
    architectures: ['LlavaNextForConditionalGeneration'],
    model_type: 'llava_next',
    image_grid_pinpoints: LLAVA_V16_PINPOINTS,
    use_image_newline_parameter: true,
  };
}

export const PRESETS: Readonly<Record<string, RawLlavaConfig>> = {
  'llava-1.5-7b': llava15(VICUNA_7B),
  'llava-1.5-13b': llava15({ hidden: 5120, layers: 40, heads: 40, mlp: 13824 }),
  'llava-next-7b': llavaNext7b(),
};

/** The config with its decoder cut to the first `layers` layers, normalised. */
export function cutDecoder(config: RawLlavaConfig, layers: number): LlavaArch {
  const text = (config.text_config ?? {}) as RawLlavaConfig;
  return normalizeLlavaConfig({ ...config, text_config: { ...text, num_hidden_layers: layers } });
}
