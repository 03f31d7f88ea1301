// End-to-end reference checks: which vision layer and rows feed the projector, where image
// features land in the decoder input, and greedy decoding against the full forward pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError, PromptError } from '../../errors.js';
import { referenceVision } from './clip.js';
import { referenceDecoder, referenceEmbed } from './llama.js';
import { referenceGreedy, referenceImageFeatures, referenceLlava } from './llava.js';
import { referenceProjector } from './projector.js';
import { lookupFrom, maxAbsDiff, randomPixels, randomWeights, row, tinyArch } from './test-helpers.js';

const arch = tinyArch(); // vision_feature_layer -2 of 2 layers → state 1; 4 image tokens
const dv = arch.vision.hiddenSize;
const dt = arch.text.hiddenSize;
const vocab = arch.text.vocabSize;
const IMG = arch.imageTokenId;
const prompt = [1, 5, IMG, IMG, IMG, IMG, 7, 3];

function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

test('image features project hidden state visionLayersUsed without the class token', () => {
  const lookup = lookupFrom(randomWeights(arch, 1));
  const pixels = randomPixels(arch, 2);
  assert.equal(arch.visionLayersUsed, 1);
  const state = referenceVision(arch, lookup, pixels).hiddenStates[1]!;
  const expected = referenceProjector(arch, lookup, state.subarray(dv), 4);
  const features = referenceImageFeatures(arch, lookup, pixels);
  assert.equal(features.length, arch.imageTokensPerImage * dt);
  assert.deepEqual(features, expected);
});

test("'full' keeps the class token in front; vision_feature_layer -1 takes the last state", () => {
  const weights = randomWeights(arch, 3);
  const pixels = randomPixels(arch, 4);
  const features = referenceImageFeatures(arch, lookupFrom(weights), pixels);
  const full = tinyArch({ llava: { vision_feature_select_strategy: 'full' } });
  const withClass = referenceImageFeatures(full, lookupFrom(weights), pixels);
  assert.equal(withClass.length, 5 * dt);
  assert.deepEqual(withClass.subarray(dt), features);
  const last = tinyArch({ llava: { vision_feature_layer: -1 } });
  const lastFeatures = referenceImageFeatures(last, lookupFrom(weights), pixels);
  const state = referenceVision(arch, lookupFrom(weights), pixels).hiddenStates[2]!;
  assert.deepEqual(lastFeatures, referenceProjector(arch, lookupFrom(weights), state.subarray(dv), 4));
  assert.ok(maxAbsDiff(lastFeatures, features) > 1e-3);
});

test('image features replace the image-token rows in order; other rows are token embeddings', () => {
  const lookup = lookupFrom(randomWeights(arch, 5));
  const pixels = randomPixels(arch, 6);
  const { hiddenStates, logits } = referenceLlava(arch, lookup, prompt, pixels);
  const features = referenceImageFeatures(arch, lookup, pixels);
  const input = hiddenStates[0]!;
  for (let i = 0; i < 4; i++) assert.deepEqual(row(input, dt, 2 + i), row(features, dt, i));
  for (const t of [0, 1, 6, 7]) assert.deepEqual(row(input, dt, t), referenceEmbed(arch, lookup, [prompt[t]!]));
  assert.deepEqual(logits, referenceDecoder(arch, lookup, input, [0, 1, 2, 3, 4, 5, 6, 7]).logits);
  // An image token id outside the vocabulary (no embedding row) gives the same result.
  const outside = tinyArch({ llava: { image_token_index: 60 } });
  const outsidePrompt = prompt.map((id) => (id === IMG ? 60 : id));
  assert.deepEqual(referenceLlava(outside, lookup, outsidePrompt, pixels).logits, logits);
});

test('the prompt must hold exactly imageTokensPerImage image tokens', () => {
  const lookup = lookupFrom(randomWeights(arch, 7));
  const pixels = randomPixels(arch, 8);
  assert.throws(() => referenceLlava(arch, lookup, [1, IMG, IMG, IMG, 3], pixels), PromptError);
  assert.throws(() => referenceLlava(arch, lookup, [1, IMG, IMG, IMG, IMG, IMG, 3], pixels), PromptError);
});

test('greedy picks the argmax of the full forward pass at every step', () => {
  const lookup = lookupFrom(randomWeights(arch, 9));
  const pixels = randomPixels(arch, 10);
  const generated = referenceGreedy(arch, lookup, prompt, pixels, 5, []);
  assert.equal(generated.length, 5);
  for (let k = 0; k < generated.length; k++) {
    const ids = [...prompt, ...generated.slice(0, k)];
    const { logits } = referenceLlava(arch, lookup, ids, pixels);
    assert.equal(generated[k], argmax(row(logits, vocab, ids.length - 1)), `step ${k}`);
  }
});

test('greedy stops after the first EOS token and honours maxNewTokens', () => {
  const lookup = lookupFrom(randomWeights(arch, 9));
  const pixels = randomPixels(arch, 10);
  const generated = referenceGreedy(arch, lookup, prompt, pixels, 5, []);
  const eos = generated[1]!;
  const expected = generated.slice(0, generated.indexOf(eos) + 1);
  assert.deepEqual(referenceGreedy(arch, lookup, prompt, pixels, 5, [eos]), expected);
  assert.deepEqual(referenceGreedy(arch, lookup, prompt, pixels, 2, []), generated.slice(0, 2));
  assert.deepEqual(referenceGreedy(arch, lookup, prompt, pixels, 0, []), []);
  assert.throws(() => referenceGreedy(arch, lookup, prompt, pixels, -1, []), OptionError);
});

test('a generated image-token id is embedded as text, not taken for an image slot', () => {
  // Image token id 0 and an all-zero lm_head: every logit ties at 0, so argmax picks id 0 each step.
  const zeroImage = tinyArch({ llava: { image_token_index: 0 } });
  const weights = randomWeights(zeroImage, 11);
  weights.set('language_model.lm_head.weight', new Float32Array(vocab * dt));
  const zeroPrompt = prompt.map((id) => (id === IMG ? 0 : id));
  const generated = referenceGreedy(zeroImage, lookupFrom(weights), zeroPrompt, randomPixels(arch, 12), 3, []);
  assert.deepEqual(generated, [0, 0, 0]);
});
