// Both llava-hf tensor spellings resolve to the same weights: the older `language_model.model.*`
// and the newer (transformers >= 4.52) `model.language_model.*` / `lm_head.*` layout.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { llavaWeights, storedName } from './weight-names.js';
import type { WeightSource } from '../weights.js';

function sourceOf(names: string[]): WeightSource {
  const set = new Set(names);
  return {
    has: (name) => set.has(name),
    float32: (name) => {
      assert.ok(set.has(name), `asked for ${name}`);
      return Float32Array.from([name.length]);
    },
  };
}

describe('llava weight names', () => {
  it('maps older names onto a newer-layout checkpoint', () => {
    const newer = sourceOf([
      'model.language_model.layers.0.self_attn.q_proj.weight',
      'model.language_model.embed_tokens.weight',
      'lm_head.weight',
      'model.vision_tower.vision_model.pre_layrnorm.weight',
      'model.multi_modal_projector.linear_1.weight',
    ]);
    assert.equal(storedName(newer, 'language_model.model.layers.0.self_attn.q_proj.weight'), 'model.language_model.layers.0.self_attn.q_proj.weight');
    assert.equal(storedName(newer, 'language_model.lm_head.weight'), 'lm_head.weight');
    assert.equal(storedName(newer, 'vision_tower.vision_model.pre_layrnorm.weight'), 'model.vision_tower.vision_model.pre_layrnorm.weight');
    assert.equal(storedName(newer, 'multi_modal_projector.linear_1.weight'), 'model.multi_modal_projector.linear_1.weight');
    assert.deepEqual(Array.from(llavaWeights(newer).float32('language_model.model.embed_tokens.weight', [1])), ['model.language_model.embed_tokens.weight'.length]);
  });

  it('keeps older names as they are, and leaves unknown names for the checkpoint to report', () => {
    const older = sourceOf(['language_model.lm_head.weight']);
    assert.equal(storedName(older, 'language_model.lm_head.weight'), 'language_model.lm_head.weight');
    assert.equal(storedName(older, 'language_model.model.norm.weight'), 'language_model.model.norm.weight');
    assert.equal(llavaWeights(older).has('language_model.model.norm.weight'), false);
  });
});
