// Tests of the FLOP and byte counts against sums worked out by hand for a small config, and of the
// weight bytes against what a runtime built for that config actually holds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeLlavaConfig } from '../config/llava.js';
import { randomWeights } from '../models/random-weights.js';
import { LlavaRuntime } from '../runtime/llava-runtime.js';
import { decoderPrefillFlops, decoderWeightBytes, modelWeightBytes, visionFlops } from './flops.js';

// D=8, H=2, Hk=1, Hd=4, I=16, V=10, 3 layers; vision Dv=4, I=8, 2 layers (1 used), 8x8 image, patch 4.
const arch = normalizeLlavaConfig({
  model_type: 'llava',
  image_token_index: 9,
  vision_config: { hidden_size: 4, intermediate_size: 8, num_hidden_layers: 2, num_attention_heads: 2, image_size: 8, patch_size: 4 },
  text_config: {
    hidden_size: 8,
    intermediate_size: 16,
    num_hidden_layers: 3,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    vocab_size: 10,
    max_position_embeddings: 32,
  },
});

describe('decoderPrefillFlops', () => {
  it('counts projections, the full attention square and one lm_head row', () => {
    // Per token per layer: q 8*8=64, k 8*4=32, v 32, o 64, MLP 3*8*16=384 -> 576 MACs.
    // T=5: projections 2*5*576 = 5760; attention 4*25*2*4 = 800; per layer 6560, 3 layers 19680.
    // lm_head: 2*8*10 = 160.
    assert.equal(decoderPrefillFlops(arch.text, 5), 19840);
  });

  it('grows quadratically only through attention', () => {
    const attentionPart = (t: number) => decoderPrefillFlops(arch.text, t) - 3 * 2 * t * 576 - 160;
    assert.equal(attentionPart(10), 4 * attentionPart(5));
  });
});

describe('visionFlops', () => {
  it('counts the patch convolution, the layers used and the projector', () => {
    // 4 patches, S=5. Conv: 2*4*4*3*16 = 1536. One layer (feature layer -2 of 2):
    // 2*5*(4*16 + 2*4*8) = 1280, attention 4*25*4 = 400 -> 1680.
    // Projector over 4 tokens: 2*4*(4*8 + 8*8) = 768.
    assert.equal(arch.visionLayersUsed, 1);
    assert.equal(visionFlops(arch), 1536 + 1680 + 768);
  });
});

describe('decoderWeightBytes', () => {
  it('counts every decoder matrix and norm plus the lm_head, in f32', () => {
    // Per layer 576 + 2*8 norms = 592; 3 layers 1776; final norm 8; lm_head 80 -> 1864 floats.
    assert.equal(decoderWeightBytes(arch.text), 4 * 1864);
  });
});

describe('modelWeightBytes', () => {
  it('equals the bytes a runtime built for the config holds', async () => {
    const runtime = await LlavaRuntime.create(arch, randomWeights(0));
    try {
      assert.equal(modelWeightBytes(arch), runtime.weightBytes);
    } finally {
      await runtime.release();
    }
  });
});
