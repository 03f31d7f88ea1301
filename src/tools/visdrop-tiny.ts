// visdrop-tiny: the small LLaVA that visdrop trains from scratch on its synthetic set and ships as
// the default model. This file holds its architecture (a llava-hf config), and writes the initial
// checkpoint training starts from: weights initialised as Hugging Face's `_init_weights` does for
// LLaVA (every Linear, convolution and embedding normal with std initializer_range = 0.02, biases
// 0, LayerNorm/RMSNorm weights 1), the synth tokenizer, LLaVA-1.5's vicuna_v1 chat template.
//
// Shape: a 192-pixel image in 16-pixel patches (12 x 12 = 144 image tokens, a grid on which
// MustDrop's 3x3 windows and token budgets mean something); CLIP 192 wide, 5 layers of which the
// first 4 feed the projector (vision_feature_layer -2, as LLaVA-1.5); a 2-layer GELU projector; a
// LLaMA decoder 192 wide, 4 layers (PyramidDrop's quarter, half and three quarters of the depth are
// layers 1, 2, 3), 4 heads, MLP 512. 4.36 M parameters, 8.7 MB in F16. The decoder is this small
// because it runs over ~390 tokens a sample in training (the image's 144 and the conversation's) and
// dominated the step: at 256 x 8 a fine-tuning step took 2.7 s, at 192 x 4 1.1 s (batch 8, one
// thread each, two runs side by side on 2 cores).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeLlavaConfig, type LlavaArch } from '../config/llava.js';
import type { WritableDtype } from '../checkpoint/dtype.js';
import { writeShardedSafetensors, type TensorToWrite } from '../checkpoint/index.js';
import { llavaTensorList } from '../models/llava/tensor-list.js';
import { mulberry32 } from '../util/prng.js';
import { SYNTH_BOS_ID, SYNTH_EOS_ID, SYNTH_IMAGE_TOKEN_ID, SYNTH_PAD_ID, synthTokenVocabulary, writeSynthTokenizer } from './synth-tokenizer.js';
import { tinyPreprocessorJson } from './make-tiny.js';
import { SYNTH_PIXEL_STATISTICS } from '../synth/pixel-statistics.js';

export const VISDROP_TINY_PRESET = 'visdrop-tiny';

/** HF's default `initializer_range` for LLaMA and LLaVA configs. */
export const INITIALIZER_RANGE = 0.02;

export const VISDROP_TINY_SHAPE = {
  imageSize: 192,
  patchSize: 16,
  visionHidden: 192,
  visionLayers: 5,
  visionHeads: 4,
  textHidden: 192,
  textLayers: 4,
  textHeads: 4,
  textIntermediate: 512,
} as const;

/** config.json of visdrop-tiny, as llava-hf writes a LlavaForConditionalGeneration config. */
export function visdropTinyConfigJson(vocabSize: number = synthTokenVocabulary().length): Record<string, unknown> {
  const s = VISDROP_TINY_SHAPE;
  return {
    architectures: ['LlavaForConditionalGeneration'],
    model_type: 'llava',
    image_token_index: SYNTH_IMAGE_TOKEN_ID,
    pad_token_id: SYNTH_PAD_ID,
    projector_hidden_act: 'gelu',
    vision_feature_layer: -2,
    vision_feature_select_strategy: 'default',
    tie_word_embeddings: false,
    vocab_size: vocabSize,
    initializer_range: INITIALIZER_RANGE,
    torch_dtype: 'float32',
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: s.visionHidden,
      intermediate_size: s.visionHidden * 4,
      num_hidden_layers: s.visionLayers,
      num_attention_heads: s.visionHeads,
      image_size: s.imageSize,
      patch_size: s.patchSize,
      projection_dim: s.visionHidden,
      hidden_act: 'quick_gelu',
      layer_norm_eps: 1e-5,
      initializer_range: INITIALIZER_RANGE,
    },
    text_config: {
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      hidden_size: s.textHidden,
      intermediate_size: s.textIntermediate,
      num_hidden_layers: s.textLayers,
      num_attention_heads: s.textHeads,
      num_key_value_heads: s.textHeads,
      max_position_embeddings: 2048,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      vocab_size: vocabSize,
      bos_token_id: SYNTH_BOS_ID,
      eos_token_id: SYNTH_EOS_ID,
      pad_token_id: SYNTH_PAD_ID,
      initializer_range: INITIALIZER_RANGE,
      torch_dtype: 'float32',
    },
  };
}

/** FNV-1a of a tensor name: each tensor's values depend only on the seed and its name. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The decoder's query and key projections. */
const DECODER_QUERY_KEY = /^language_model\.model\.layers\.\d+\.self_attn\.[qk]_proj\.weight$/;

/**
 * The decoder's query and key projections start this many times HF's std. At 0.02 every attention
 * score starts near 0, so an answer position sees each of the 144 image tokens at ~1/150 and the
 * gradient that would teach it to look one up by content is that faint: learning to read a colour
 * off the token a shape word names waits on a plateau whose length is a lottery of the seed and the
 * data order. In a PyTorch replica of `visdrop train` (the same batches, initial weights and losses
 * step for step), 3x escaped that plateau within 300 steps on two data orders where 1x did not
 * (README, "visdrop-tiny").
 */
export const QUERY_KEY_INIT_SCALE = 3;

/** The vision tower's position embeddings: [class token; patches in raster order] x hidden. */
const VISION_POSITIONS = /^vision_tower\.vision_model\.embeddings\.position_embedding\.weight$/;

/**
 * MAE's fixed 2-D sine-cosine position table (`get_2d_sincos_pos_embed` with a class token), as
 * [1 + P, D] for P = G x G patches: the first D/2 dimensions encode the patch's row, the rest its
 * column, each as sin and cos of the position at D/4 frequencies 1/10000^(i/(D/4)); the class
 * token's row is 0.
 *
 * Why not HF's normal(0, 0.02): the tower stays frozen at its initialisation (a random CLIP
 * collapses when trained from scratch), and at 0.02 against patch features of ~0.55 a token barely
 * says where it is, so "where is the red circle?" and "is it left of the star?" had nothing to read
 * (position 10% where chance is 11%). A fixed table is what a ViT without a learned one uses.
 */
export function sinCosPositionTable(patches: number, dim: number): Float32Array {
  const grid = Math.round(Math.sqrt(patches));
  if (grid * grid !== patches || dim % 4 !== 0) throw new RangeError(`a 2-D sin-cos table needs a square patch count and a width divisible by 4, got ${patches} patches, width ${dim}`);
  const quarter = dim / 4;
  const out = new Float32Array((patches + 1) * dim);
  for (let p = 0; p < patches; p++) {
    const row = out.subarray((p + 1) * dim, (p + 2) * dim);
    const coordinates = [Math.floor(p / grid), p % grid];
    coordinates.forEach((position, half) => {
      for (let i = 0; i < quarter; i++) {
        const angle = position / 10000 ** (i / quarter);
        row[half * 2 * quarter + i] = Math.sin(angle);
        row[half * 2 * quarter + quarter + i] = Math.cos(angle);
      }
    });
  }
  return out;
}

/**
 * A tensor as HF's `_init_weights` leaves it (but for the decoder's query and key projections, see
 * QUERY_KEY_INIT_SCALE, and the tower's position embeddings, see sinCosPositionTable): norm weights 1, biases 0, everything else (Linear,
 * Conv2d, Embedding, CLIP's class embedding) normal(0, 0.02), drawn by Box-Muller from a seeded PRNG.
 */
export function initialTensor(seed: number, name: string, shape: readonly number[]): Float32Array {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  if (VISION_POSITIONS.test(name)) return sinCosPositionTable(shape[0]! - 1, shape[1]!);
  if (/(norm[^.]*|layrnorm)\.weight$/.test(name)) return out.fill(1);
  if (name.endsWith('.bias')) return out;
  const std = INITIALIZER_RANGE * (DECODER_QUERY_KEY.test(name) ? QUERY_KEY_INIT_SCALE : 1);
  const random = mulberry32(seed ^ hashName(name));
  for (let i = 0; i < out.length; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    out[i] = std * radius * Math.cos(angle);
    if (i + 1 < out.length) out[i + 1] = std * radius * Math.sin(angle);
  }
  return out;
}

export interface InitialCheckpointOptions {
  readonly outDir: string;
  readonly seed: number;
  readonly dtype?: WritableDtype;
}

/** Writes visdrop-tiny's initial checkpoint (llava-hf layout, one safetensors file); returns its arch. */
export function writeVisdropTinyInit(options: InitialCheckpointOptions): LlavaArch {
  const dtype = options.dtype ?? 'F32';
  mkdirSync(options.outDir, { recursive: true });
  const vocabSize = writeSynthTokenizer(options.outDir);
  const config = { ...visdropTinyConfigJson(vocabSize), torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype] };
  const arch = normalizeLlavaConfig(config);
  writeFileSync(join(options.outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(join(options.outDir, 'preprocessor_config.json'), `${JSON.stringify(tinyPreprocessorJson(arch.vision.imageSize, 'llava', SYNTH_PIXEL_STATISTICS), null, 2)}\n`);
  const generation = { bos_token_id: SYNTH_BOS_ID, eos_token_id: SYNTH_EOS_ID, pad_token_id: SYNTH_PAD_ID };
  writeFileSync(join(options.outDir, 'generation_config.json'), `${JSON.stringify(generation, null, 2)}\n`);
  const tensors: TensorToWrite[] = llavaTensorList(arch).map(({ name, shape }) => ({ name, dtype, shape, data: () => initialTensor(options.seed, name, shape) }));
  writeShardedSafetensors(options.outDir, tensors, 2 ** 31, { format: 'pt' });
  return arch;
}
