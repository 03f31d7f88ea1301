// Every tensor a llava-hf LLaVA-1.5 or LLaVA-NeXT checkpoint holds, with its shape, in the order HF saves them
// (older spelling, see weight-names.ts). make-tiny writes exactly these.
import type { LlavaArch } from '../../config/llava.js';
import { VISION_PREFIX } from '../clip/vision.js';
import { DECODER_PREFIX, EMBED_WEIGHT, LM_HEAD_WEIGHT } from '../llama/decoder.js';
import { PROJECTOR_PREFIX } from './projector.js';

/** LLaVA-NeXT's learned vector appended after each row of the unpadded feature grid. */
export const IMAGE_NEWLINE_WEIGHT = 'image_newline';

export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

export function llavaTensorList(arch: LlavaArch): TensorSpec[] {
  const { vision: v, text: t } = arch;
  const specs: TensorSpec[] = [];
  const add = (name: string, ...shape: number[]) => specs.push({ name, shape });

  add(`${VISION_PREFIX}.embeddings.class_embedding`, v.hiddenSize);
  add(`${VISION_PREFIX}.embeddings.patch_embedding.weight`, v.hiddenSize, 3, v.patchSize, v.patchSize);
  add(`${VISION_PREFIX}.embeddings.position_embedding.weight`, v.numPatches + 1, v.hiddenSize);
  add(`${VISION_PREFIX}.pre_layrnorm.weight`, v.hiddenSize);
  add(`${VISION_PREFIX}.pre_layrnorm.bias`, v.hiddenSize);
  for (let i = 0; i < v.numLayers; i++) {
    const p = `${VISION_PREFIX}.encoder.layers.${i}`;
    for (const proj of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) {
      add(`${p}.self_attn.${proj}.weight`, v.hiddenSize, v.hiddenSize);
      add(`${p}.self_attn.${proj}.bias`, v.hiddenSize);
    }
    add(`${p}.layer_norm1.weight`, v.hiddenSize);
    add(`${p}.layer_norm1.bias`, v.hiddenSize);
    add(`${p}.mlp.fc1.weight`, v.intermediateSize, v.hiddenSize);
    add(`${p}.mlp.fc1.bias`, v.intermediateSize);
    add(`${p}.mlp.fc2.weight`, v.hiddenSize, v.intermediateSize);
    add(`${p}.mlp.fc2.bias`, v.hiddenSize);
    add(`${p}.layer_norm2.weight`, v.hiddenSize);
    add(`${p}.layer_norm2.bias`, v.hiddenSize);
  }
  add(`${VISION_PREFIX}.post_layernorm.weight`, v.hiddenSize);
  add(`${VISION_PREFIX}.post_layernorm.bias`, v.hiddenSize);

  add(`${PROJECTOR_PREFIX}.linear_1.weight`, t.hiddenSize, v.hiddenSize);
  if (arch.projectorBias) add(`${PROJECTOR_PREFIX}.linear_1.bias`, t.hiddenSize);
  add(`${PROJECTOR_PREFIX}.linear_2.weight`, t.hiddenSize, t.hiddenSize);
  if (arch.projectorBias) add(`${PROJECTOR_PREFIX}.linear_2.bias`, t.hiddenSize);
  if (arch.anyres) add(IMAGE_NEWLINE_WEIGHT, t.hiddenSize);

  const kvWidth = t.numKvHeads * t.headDim;
  const qWidth = t.numHeads * t.headDim;
  add(EMBED_WEIGHT, t.vocabSize, t.hiddenSize);
  for (let i = 0; i < t.numLayers; i++) {
    const p = `${DECODER_PREFIX}.layers.${i}`;
    add(`${p}.self_attn.q_proj.weight`, qWidth, t.hiddenSize);
    add(`${p}.self_attn.k_proj.weight`, kvWidth, t.hiddenSize);
    add(`${p}.self_attn.v_proj.weight`, kvWidth, t.hiddenSize);
    add(`${p}.self_attn.o_proj.weight`, t.hiddenSize, qWidth);
    add(`${p}.mlp.gate_proj.weight`, t.intermediateSize, t.hiddenSize);
    add(`${p}.mlp.up_proj.weight`, t.intermediateSize, t.hiddenSize);
    add(`${p}.mlp.down_proj.weight`, t.hiddenSize, t.intermediateSize);
    add(`${p}.input_layernorm.weight`, t.hiddenSize);
    add(`${p}.post_attention_layernorm.weight`, t.hiddenSize);
  }
  add(`${DECODER_PREFIX}.norm.weight`, t.hiddenSize);
  if (!t.tieWordEmbeddings) add(LM_HEAD_WEIGHT, t.vocabSize, t.hiddenSize);
  return specs;
}
