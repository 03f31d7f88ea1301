// Every graph, run through the runtime, against the float64 reference forward: vision embeddings
// and each CLIP layer, the projector, each decoder layer, the logits, and cached decode steps.
// Relative error = max |graph - reference| / max |reference|, which must stay <= 1e-4.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeLlavaConfig, type LlavaArch } from '../config/llava.js';
import { randomWeights } from '../models/random-weights.js';
import { llavaTensorList } from '../models/llava/tensor-list.js';
import {
  referenceDecoder,
  referenceEmbed,
  referenceImageFeatures,
  referenceVision,
  type WeightLookup,
} from '../models/reference/index.js';
import { LlavaRuntime, type DecoderState } from './llava-runtime.js';
import { KvCache } from './kv-cache.js';
import { PREFILL_QUERY_BLOCK } from '../models/llama/attention.js';
import { mulberry32 } from '../util/prng.js';
import { relativeError } from '../models/reference/test-helpers.js';

const TOLERANCE = 1e-4;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  const error = relativeError(actual, expected);
  assert.ok(error <= TOLERANCE, `${what}: relative error ${error.toExponential(2)} > ${TOLERANCE}`);
}

function smallArch(kvHeads: number): LlavaArch {
  return normalizeLlavaConfig({
    model_type: 'llava',
    image_token_index: 60,
    vision_config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 3, num_attention_heads: 2, image_size: 28, patch_size: 7 },
    text_config: {
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 3,
      num_attention_heads: 4,
      num_key_value_heads: kvHeads,
      vocab_size: 64,
      rms_norm_eps: 1e-5,
    },
  });
}

function lookupFor(arch: LlavaArch, seed: number): WeightLookup {
  const shapes = new Map(llavaTensorList(arch).map((s) => [s.name, s.shape]));
  const source = randomWeights(seed);
  return (name) => {
    const shape = shapes.get(name);
    assert.ok(shape, `reference asked for unknown tensor ${name}`);
    return source.float32(name, shape);
  };
}

function randomPixels(arch: LlavaArch, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: 3 * arch.vision.imageSize ** 2 }, () => next() * 4 - 2);
}

for (const kvHeads of [4, 2]) {
  describe(`graphs against the float64 reference (${kvHeads === 4 ? 'multi-head' : 'grouped-query'} attention)`, () => {
    const arch = smallArch(kvHeads);
    const weights = lookupFor(arch, 11);
    let runtime: LlavaRuntime;
    before(async () => {
      runtime = await LlavaRuntime.create(arch, randomWeights(11));
    });
    after(() => runtime.release());

    it('vision embeddings and every CLIP layer', async () => {
      const pixels = randomPixels(arch, 3);
      const reference = referenceVision(arch, weights, pixels).hiddenStates;
      let state = await runtime.visionEmbeddings(pixels, 1);
      assertClose(state.hidden, reference[0]!, 'embeddings');
      for (let layer = 0; layer < arch.visionLayersUsed; layer++) {
        state = (await runtime.visionLayers(layer, layer + 1, state)).state;
        assertClose(state.hidden, reference[layer + 1]!, `vision layer ${layer}`);
      }
    });

    it('image features through the projector', async () => {
      const pixels = randomPixels(arch, 4);
      const embedded = await runtime.visionEmbeddings(pixels, 1);
      const { state } = await runtime.visionLayers(0, arch.visionLayersUsed, embedded);
      const features = state.hidden.slice(arch.vision.hiddenSize);
      const projected = await runtime.project(features, 1, arch.vision.numPatches);
      assertClose(projected, referenceImageFeatures(arch, weights, pixels), 'projector');
    });

    it('every decoder layer and the logits of every row', async () => {
      const ids = [1, 5, 9, 13, 2, 40, 33, 7, 7, 21];
      const positions = ids.map((_, i) => i);
      const reference = referenceDecoder(arch, weights, referenceEmbed(arch, weights, ids), positions);
      const cache = new KvCache(arch.text.numLayers, arch.text.numKvHeads, arch.text.headDim);
      let state: DecoderState = { hidden: runtime.embedTokens(ids), positions };
      for (let layer = 0; layer < arch.text.numLayers; layer++) {
        state = (await runtime.decoderLayers(layer, layer + 1, state, cache)).state;
        assertClose(state.hidden, reference.hiddenStates[layer + 1]!, `decoder layer ${layer}`);
      }
      assertClose(await runtime.logits(state.hidden, ids.length), reference.logits, 'logits');
    });

    it('a prefill longer than one query block, attention rows included', async () => {
      const ids = Array.from({ length: PREFILL_QUERY_BLOCK + 77 }, (_, i) => (i * 7) % 59);
      const positions = ids.map((_, i) => i);
      const reference = referenceDecoder(arch, weights, referenceEmbed(arch, weights, ids), positions);
      const cache = new KvCache(arch.text.numLayers, arch.text.numKvHeads, arch.text.headDim);
      const last = ids.length - 1;
      const ran = await runtime.decoderLayers(0, 1, { hidden: runtime.embedTokens(ids), positions }, cache, { attentionRows: new Map([[0, [last]]]) });
      assertClose(ran.state.hidden, reference.hiddenStates[1]!, 'decoder layer 0');
      const step = await runtime.attentionScores(0, { hidden: runtime.embedTokens(ids), positions }, [last]);
      assertClose(ran.attentions.get(0)!, step, 'attention row of the last token');
    });

    it('cached decode steps give the logits of a full forward pass', async () => {
      const ids = [1, 8, 16, 24, 32, 40, 48, 56];
      const split = 5;
      const V = arch.text.vocabSize;
      const reference = referenceDecoder(arch, weights, referenceEmbed(arch, weights, ids), ids.map((_, i) => i));
      const cache = new KvCache(arch.text.numLayers, arch.text.numKvHeads, arch.text.headDim);
      const prompt = ids.slice(0, split);
      await runtime.decoderLayers(0, arch.text.numLayers, { hidden: runtime.embedTokens(prompt), positions: prompt.map((_, i) => i) }, cache);
      for (let position = split; position < ids.length; position++) {
        const step = await runtime.decoderLayers(0, arch.text.numLayers, { hidden: runtime.embedTokens([ids[position]!]), positions: [position] }, cache);
        const logits = await runtime.logits(step.state.hidden, 1);
        assertClose(logits, reference.logits.subarray(position * V, (position + 1) * V), `decode step at position ${position}`);
      }
      assert.equal(cache.layer(0).length, ids.length);
    });

    it('scores rows as the next layer would, without running it or touching a cache', async () => {
      const ids = [1, 4, 9, 16, 25, 36, 49];
      const layers = arch.text.numLayers;
      const cache = new KvCache(layers, arch.text.numKvHeads, arch.text.headDim);
      const positions = [0, 1, 2, 5, 6, 7, 8]; // gaps, as FastV leaves them
      const first = await runtime.decoderLayers(0, 1, { hidden: runtime.embedTokens(ids), positions }, cache);
      const rows = [6, 3];
      const scores = await runtime.attentionScores(1, first.state, rows);
      assert.equal(cache.layer(1).length, 0, 'layer 1 cache untouched');
      const ran = await runtime.decoderLayers(1, 2, first.state, cache, { attentionRows: new Map([[1, rows]]) });
      assertClose(scores, ran.attentions.get(1)!, 'scores against the layer run');
    });

    it('returns attention rows that agree between a prefill and a cached step', async () => {
      const ids = [1, 3, 5, 7, 9, 11];
      const layers = arch.text.numLayers;
      const full = new KvCache(layers, arch.text.numKvHeads, arch.text.headDim);
      const last = ids.length - 1;
      const prefill = await runtime.decoderLayers(0, layers, { hidden: runtime.embedTokens(ids), positions: ids.map((_, i) => i) }, full, {
        attentionRows: new Map([[1, [last]]]),
      });
      const cached = new KvCache(layers, arch.text.numKvHeads, arch.text.headDim);
      const head = ids.slice(0, last);
      await runtime.decoderLayers(0, layers, { hidden: runtime.embedTokens(head), positions: head.map((_, i) => i) }, cached);
      const step = await runtime.decoderLayers(0, layers, { hidden: runtime.embedTokens([ids[last]!]), positions: [last] }, cached, {
        attentionRows: new Map([[1, [0]]]),
      });
      const fromPrefill = prefill.attentions.get(1)!;
      const fromStep = step.attentions.get(1)!;
      assert.equal(fromPrefill.length, arch.text.numHeads * ids.length);
      assertClose(fromStep, fromPrefill, 'attention row');
      for (let h = 0; h < arch.text.numHeads; h++) {
        const sum = fromStep.subarray(h * ids.length, (h + 1) * ids.length).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-5, `head ${h} probabilities sum to ${sum}`);
      }
    });
  });
}
