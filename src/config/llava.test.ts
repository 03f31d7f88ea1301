// config.json normalisation: Hugging Face's defaults fill what llava-hf omits, and every bad key is
// a ConfigError naming the key, what was expected and what was found.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../errors.js';
import { normalizeLlavaConfig } from './llava.js';

const LLAVA_15_7B = {
  model_type: 'llava',
  image_token_index: 32000,
  text_config: { model_type: 'llama', max_position_embeddings: 4096, rms_norm_eps: 1e-5, vocab_size: 32064 },
  vision_config: { hidden_size: 1024, image_size: 336, intermediate_size: 4096, num_attention_heads: 16, num_hidden_layers: 24, patch_size: 14 },
  vision_feature_layer: -2,
  vision_feature_select_strategy: 'default',
};

function rejects(raw: unknown, ...mentions: string[]): void {
  assert.throws(
    () => normalizeLlavaConfig(raw),
    (e: unknown) => e instanceof ConfigError && mentions.every((m) => e.message.includes(m)),
  );
}

describe('llava config', () => {
  it("fills LlamaConfig's and CLIPVisionConfig's defaults as llava-hf/llava-1.5-7b-hf relies on", () => {
    const arch = normalizeLlavaConfig(LLAVA_15_7B);
    assert.equal(arch.text.hiddenSize, 4096);
    assert.equal(arch.text.numLayers, 32);
    assert.equal(arch.text.numKvHeads, 32);
    assert.equal(arch.text.headDim, 128);
    assert.equal(arch.vision.gridSize, 24);
    assert.equal(arch.visionLayersUsed, 23);
    assert.equal(arch.imageTokensPerImage, 576);
    assert.equal(arch.vision.hiddenAct, 'quick_gelu');
    assert.equal(arch.anyres, null);
    assert.ok(Object.isFrozen(arch) && Object.isFrozen(arch.text));
  });

  it('keeps the class token with the full strategy', () => {
    assert.equal(normalizeLlavaConfig({ ...LLAVA_15_7B, vision_feature_select_strategy: 'full' }).imageTokensPerImage, 577);
  });

  it('reads llava_next grid pinpoints', () => {
    const arch = normalizeLlavaConfig({ ...LLAVA_15_7B, model_type: 'llava_next', image_grid_pinpoints: [[336, 672], [672, 336]] });
    assert.deepEqual(arch.anyres?.pinpoints, [[336, 672], [672, 336]]);
  });

  it('names the key at fault', () => {
    rejects({ ...LLAVA_15_7B, model_type: 'qwen2_vl' }, 'model_type', '"qwen2_vl"');
    rejects({ ...LLAVA_15_7B, text_config: { hidden_size: '4096' } }, 'text_config.hidden_size', '"4096"');
    rejects({ ...LLAVA_15_7B, text_config: { rope_scaling: { type: 'linear', factor: 2 } } }, 'rope_scaling', 'not supported');
    rejects({ ...LLAVA_15_7B, text_config: { num_attention_heads: 32, num_key_value_heads: 5 } }, 'num_key_value_heads', '5');
    rejects({ ...LLAVA_15_7B, vision_feature_layer: -30 }, 'vision_feature_layer', '-30');
    rejects({ ...LLAVA_15_7B, vision_feature_select_strategy: 'cls' }, 'vision_feature_select_strategy');
    rejects({ ...LLAVA_15_7B, image_token_index: undefined }, 'image_token_index');
    rejects({ ...LLAVA_15_7B, model_type: 'llava_next' }, 'image_grid_pinpoints', 'nothing');
    rejects({ ...LLAVA_15_7B, model_type: 'llava_next', image_grid_pinpoints: [[336, 600]] }, 'image_grid_pinpoints', '[336, 600]');
    rejects({ ...LLAVA_15_7B, model_type: 'llava_next', image_grid_pinpoints: [[336]] }, 'image_grid_pinpoints');
  });
});
