// Tests of the engine's FLOP and byte counts against sums worked out by hand for a small config, and
// of the weight bytes against what a runtime built for that config actually holds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeLlavaConfig } from '../config/llava.js';
import { randomWeights } from '../models/random-weights.js';
import { LlavaRuntime } from '../runtime/llava-runtime.js';
import { decoderLayerFlops, decoderPrefillFlops, decoderWeightBytes, modelWeightBytes, nextLayerScoresFlops, visionFlops } from './engine.js';

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
    assert.equal(decoderLayerFlops(arch.text, 5), 6560);
    assert.equal(decoderPrefillFlops(arch.text, 5), 19840);
  });

  it('grows quadratically only through attention', () => {
    const attentionPart = (t: number) => decoderPrefillFlops(arch.text, t) - 3 * 2 * t * 576 - 160;
    assert.equal(attentionPart(10), 4 * attentionPart(5));
  });

  it('counts attention past one query block as each block against the keys up to its last row', () => {
    const attentionPart = (t: number) => decoderLayerFlops(arch.text, t) - 2 * t * 576;
    // 2968 tokens: blocks [0, 1024), [1024, 2048), [2048, 2968) -> 1024·1024 + 1024·2048 + 920·2968 pairs.
    assert.equal(attentionPart(2968), 4 * (1024 * 1024 + 1024 * 2048 + 920 * 2968) * 2 * 4);
    assert.equal(attentionPart(1024), 4 * 1024 * 1024 * 2 * 4);
  });
});

describe('nextLayerScoresFlops', () => {
  it('counts the q, k, v projections over every row and one score per query row, key and head', () => {
    // T=5: q, k, v widths 8 + 4 + 4 = 16 -> 2*5*8*16 = 1280; one row: 2*1*5*2*4 = 80.
    assert.equal(nextLayerScoresFlops(arch.text, 5, 1), 1360);
    assert.equal(nextLayerScoresFlops(arch.text, 5, 2), 1440);
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

  it('runs the tower once per image the tokens come from, the projector once per token', () => {
    // 10 tokens of 4 per image: 3 tower runs, projector over 10 tokens 2*10*96 = 1920.
    assert.equal(visionFlops(arch, 10), 3 * (1536 + 1680) + 1920);
    assert.equal(visionFlops(arch, 4), visionFlops(arch));
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
