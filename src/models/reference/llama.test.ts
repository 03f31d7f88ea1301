// Llama decoder checks on a tiny random model: embedding rows, the un-normed last state feeding
// norm + lm_head, one-token attention, the SwiGLU MLP, causality, RoPE's relative positions, and GQA sharing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PromptError } from '../../errors.js';
import { referenceDecoder, referenceEmbed } from './llama.js';
import { linear, rmsNorm } from './math.js';
import { lookupFrom, maxAbsDiff, randomMatrix, randomWeights, row, tinyArch } from './test-helpers.js';

const M = 'language_model.model';
const arch = tinyArch(); // Dt 16, 2 heads of 8 over 1 kv head, 2 layers, V 50
const dim = arch.text.hiddenSize;
const vocab = arch.text.vocabSize;
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

test('referenceEmbed returns rows of embed_tokens and rejects ids outside the vocabulary', () => {
  const weights = randomWeights(arch, 1);
  const table = weights.get(`${M}.embed_tokens.weight`)!;
  const out = referenceEmbed(arch, lookupFrom(weights), [7, 0, 49, 7]);
  for (const [t, id] of [7, 0, 49, 7].entries()) {
    assert.deepEqual([...row(out, dim, t)], [...table.subarray(id * dim, (id + 1) * dim)]);
  }
  assert.throws(() => referenceEmbed(arch, lookupFrom(weights), [50]), PromptError);
  assert.throws(() => referenceEmbed(arch, lookupFrom(weights), [-1]), PromptError);
});

test('hidden states are the input then each layer, un-normed; logits are lm_head(norm(last))', () => {
  const weights = randomWeights(arch, 2);
  const x = randomMatrix(5 * dim, 3);
  const { hiddenStates, logits } = referenceDecoder(arch, lookupFrom(weights), x, range(5));
  assert.equal(hiddenStates.length, arch.text.numLayers + 1);
  assert.equal(hiddenStates[0], x);
  const last = hiddenStates[arch.text.numLayers]!;
  const normed = rmsNorm(last, 5, dim, weights.get(`${M}.norm.weight`)!, arch.text.rmsNormEps);
  const expected = linear(normed, 5, dim, vocab, weights.get('language_model.lm_head.weight')!);
  assert.equal(logits.length, 5 * vocab);
  assert.ok(maxAbsDiff(logits, expected) < 1e-13);
});

test('tied word embeddings use embed_tokens as lm_head', () => {
  const tied = tinyArch({ text: { tie_word_embeddings: true } });
  const weights = randomWeights(tied, 4);
  assert.equal(weights.has('language_model.lm_head.weight'), false);
  const { hiddenStates, logits } = referenceDecoder(tied, lookupFrom(weights), randomMatrix(3 * dim, 5), range(3));
  const normed = rmsNorm(hiddenStates[2]!, 3, dim, weights.get(`${M}.norm.weight`)!, tied.text.rmsNormEps);
  assert.ok(maxAbsDiff(logits, linear(normed, 3, dim, vocab, weights.get(`${M}.embed_tokens.weight`)!)) < 1e-13);
});

test('with one token, attention returns the v projection: h + o_proj(v_proj(input_layernorm(h)))', () => {
  const weights = randomWeights(arch, 6);
  const L0 = `${M}.layers.0`;
  weights.set(`${L0}.mlp.down_proj.weight`, new Float32Array(dim * arch.text.intermediateSize));
  const x = randomMatrix(dim, 7);
  const normed = rmsNorm(x, 1, dim, weights.get(`${L0}.input_layernorm.weight`)!, arch.text.rmsNormEps);
  const kvWidth = arch.text.numKvHeads * arch.text.headDim;
  const v = linear(normed, 1, dim, kvWidth, weights.get(`${L0}.self_attn.v_proj.weight`)!);
  // Both query heads share the single kv head, so the concatenated heads are v twice.
  const heads = Float64Array.from([...v, ...v]);
  const attended = linear(heads, 1, 2 * kvWidth, dim, weights.get(`${L0}.self_attn.o_proj.weight`)!);
  const expected = x.map((value, i) => value + attended[i]!);
  for (const position of [0, 5]) {
    const { hiddenStates } = referenceDecoder(arch, lookupFrom(weights), x, [position]);
    assert.ok(maxAbsDiff(hiddenStates[1]!, expected) < 1e-14, `position ${position}`);
  }
});

test('the MLP adds down(silu(gate(x)) * up(x)) of x = post_attention_layernorm(h)', () => {
  const weights = randomWeights(arch, 18);
  const L0 = `${M}.layers.0`;
  const inter = arch.text.intermediateSize;
  weights.set(`${L0}.self_attn.o_proj.weight`, new Float32Array(dim * dim));
  const x = randomMatrix(3 * dim, 19);
  const get = (name: string) => weights.get(`${L0}.${name}`)!;
  const normed = rmsNorm(x, 3, dim, get('post_attention_layernorm.weight'), arch.text.rmsNormEps);
  const gate = linear(normed, 3, dim, inter, get('mlp.gate_proj.weight'));
  const up = linear(normed, 3, dim, inter, get('mlp.up_proj.weight'));
  const product = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
  const down = linear(product, 3, inter, dim, get('mlp.down_proj.weight'));
  const { hiddenStates } = referenceDecoder(arch, lookupFrom(weights), x, range(3));
  assert.ok(maxAbsDiff(hiddenStates[1]!, x.map((value, i) => value + down[i]!)) < 1e-14);
});

test('causal: logits at position t do not change when later tokens change', () => {
  const lookup = lookupFrom(randomWeights(arch, 8));
  const x = randomMatrix(5 * dim, 9);
  const changed = x.slice();
  changed.set(randomMatrix(dim, 10), 3 * dim);
  const before = referenceDecoder(arch, lookup, x, range(5)).logits;
  const after = referenceDecoder(arch, lookup, changed, range(5)).logits;
  assert.deepEqual(after.subarray(0, 3 * vocab), before.subarray(0, 3 * vocab));
  assert.ok(maxAbsDiff(row(after, vocab, 3), row(before, vocab, 3)) > 1e-3);
  assert.ok(maxAbsDiff(row(after, vocab, 4), row(before, vocab, 4)) > 1e-3);
});

test('RoPE makes logits depend on relative positions only', () => {
  const lookup = lookupFrom(randomWeights(arch, 11));
  const x = randomMatrix(4 * dim, 12);
  const base = referenceDecoder(arch, lookup, x, range(4)).logits;
  assert.ok(maxAbsDiff(referenceDecoder(arch, lookup, x, range(4, 37)).logits, base) < 1e-12);
  assert.ok(maxAbsDiff(referenceDecoder(arch, lookup, x, [0, 2, 4, 6]).logits, base) > 1e-3);
});

test('GQA with one kv head equals full attention with that kv head repeated', () => {
  const mha = tinyArch({ text: { num_key_value_heads: 2 } });
  const weights = randomWeights(arch, 13);
  const repeated = new Map(weights);
  for (let i = 0; i < arch.text.numLayers; i++) {
    for (const proj of ['k_proj', 'v_proj']) {
      const name = `${M}.layers.${i}.self_attn.${proj}.weight`;
      const w = weights.get(name)!; // [8, 16]: one head
      const twice = new Float32Array(2 * w.length);
      twice.set(w, 0);
      twice.set(w, w.length);
      repeated.set(name, twice);
    }
  }
  const x = randomMatrix(4 * dim, 14);
  const grouped = referenceDecoder(arch, lookupFrom(weights), x, range(4)).logits;
  const full = referenceDecoder(mha, lookupFrom(repeated), x, range(4)).logits;
  assert.ok(maxAbsDiff(grouped, full) < 1e-13);
  // Different second kv head → different output, so the comparison above is not vacuous.
  const other = randomWeights(mha, 15);
  assert.ok(maxAbsDiff(referenceDecoder(mha, lookupFrom(other), x, range(4)).logits, grouped) > 1e-3);
});

test('embeddings and positions must agree in length', () => {
  assert.throws(
    () => referenceDecoder(arch, lookupFrom(randomWeights(arch, 16)), randomMatrix(3 * dim, 17), range(4)),
    PromptError,
  );
});
