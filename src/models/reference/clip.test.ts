// CLIP vision checks on a tiny random model: patch conv indexing and raster order, class and
// position embeddings, residual structure, the MLP activation, and bidirectional attention.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckpointError, ImageError } from '../../errors.js';
import { referenceVision } from './clip.js';
import { layerNorm, linear } from './math.js';
import { lookupFrom, maxAbsDiff, randomPixels, randomWeights, row, tinyArch } from './test-helpers.js';

const V = 'vision_tower.vision_model';
const L0 = `${V}.encoder.layers.0`;
const arch = tinyArch();
const dim = arch.vision.hiddenSize; // 16
const tokens = arch.vision.numPatches + 1; // class token + 2×2 patches

test('returns the embeddings and one state per layer, each [numPatches+1, Dv]', () => {
  const { hiddenStates } = referenceVision(arch, lookupFrom(randomWeights(arch, 1)), randomPixels(arch, 2));
  assert.equal(hiddenStates.length, arch.vision.numLayers + 1);
  for (const state of hiddenStates) {
    assert.equal(state.length, tokens * dim);
    assert.ok(state.every(Number.isFinite));
  }
});

test('the patch conv reads its own p×p window and patches follow in raster order', () => {
  const weights = randomWeights(arch, 3);
  weights.set(`${V}.embeddings.class_embedding`, new Float32Array(dim));
  weights.set(`${V}.embeddings.position_embedding.weight`, new Float32Array(tokens * dim));
  weights.set(`${V}.pre_layrnorm.weight`, new Float32Array(dim).fill(1));
  weights.set(`${V}.pre_layrnorm.bias`, new Float32Array(dim));
  // Only output channel 3 sees anything: input channel 2, kernel row 1, kernel column 3.
  const conv = new Float32Array(dim * 3 * 4 * 4);
  conv[((3 * 3 + 2) * 4 + 1) * 4 + 3] = 1;
  weights.set(`${V}.embeddings.patch_embedding.weight`, conv);
  const expectedRow = new Float64Array(dim);
  expectedRow[3] = 5;
  const ones = new Float32Array(dim).fill(1);
  const normed = layerNorm(expectedRow, 1, dim, ones, new Float32Array(dim), arch.vision.layerNormEps);

  // Pixel (channel 2, y, x) lies in patch (y / 4, x / 4), which is token 1 + 2 * (y / 4) + (x / 4).
  for (const [y, x, token] of [
    [1, 7, 2],
    [5, 3, 3],
  ] as const) {
    const pixels = new Float32Array(3 * 8 * 8);
    pixels[(2 * 8 + y) * 8 + x] = 5;
    const state = referenceVision(arch, lookupFrom(weights), pixels).hiddenStates[0]!;
    for (let t = 0; t < tokens; t++) {
      const expected = t === token ? normed : new Float64Array(dim);
      assert.ok(maxAbsDiff(row(state, dim, t), expected) < 1e-15, `token ${t} for pixel (${y}, ${x})`);
    }
  }
});

test('token 0 is class embedding + position 0; patches add their position rows; then pre_layrnorm', () => {
  const weights = randomWeights(arch, 4);
  const { hiddenStates } = referenceVision(arch, lookupFrom(weights), new Float32Array(3 * 8 * 8));
  const cls = weights.get(`${V}.embeddings.class_embedding`)!;
  const pos = weights.get(`${V}.embeddings.position_embedding.weight`)!;
  const embeddings = Float64Array.from(pos, (p, i) => p + (i < dim ? cls[i]! : 0));
  const expected = layerNorm(
    embeddings,
    tokens,
    dim,
    weights.get(`${V}.pre_layrnorm.weight`)!,
    weights.get(`${V}.pre_layrnorm.bias`)!,
    arch.vision.layerNormEps,
  );
  assert.ok(maxAbsDiff(hiddenStates[0]!, expected) < 1e-15);
});

test('a layer adds the attention output and the MLP output to its input', () => {
  const weights = randomWeights(arch, 5);
  weights.set(`${L0}.self_attn.out_proj.weight`, new Float32Array(dim * dim));
  weights.set(`${L0}.mlp.fc2.weight`, new Float32Array(dim * arch.vision.intermediateSize));
  const { hiddenStates } = referenceVision(arch, lookupFrom(weights), randomPixels(arch, 6));
  // With both output weights zero, only the two output biases reach the residual stream.
  const outBias = weights.get(`${L0}.self_attn.out_proj.bias`)!;
  const fc2Bias = weights.get(`${L0}.mlp.fc2.bias`)!;
  const expected = hiddenStates[0]!.map((x, i) => x + outBias[i % dim]! + fc2Bias[i % dim]!);
  assert.ok(maxAbsDiff(hiddenStates[1]!, expected) < 1e-14);
});

test('with zero queries every token attends uniformly: out_proj(mean of v(ln1(h)))', () => {
  const weights = randomWeights(arch, 7);
  weights.set(`${L0}.self_attn.q_proj.weight`, new Float32Array(dim * dim));
  weights.set(`${L0}.self_attn.q_proj.bias`, new Float32Array(dim));
  weights.set(`${L0}.mlp.fc2.weight`, new Float32Array(dim * arch.vision.intermediateSize));
  weights.set(`${L0}.mlp.fc2.bias`, new Float32Array(dim));
  const { hiddenStates } = referenceVision(arch, lookupFrom(weights), randomPixels(arch, 8));
  const h0 = hiddenStates[0]!;
  const get = (name: string) => weights.get(`${L0}.${name}`)!;
  const eps = arch.vision.layerNormEps;
  const normed = layerNorm(h0, tokens, dim, get('layer_norm1.weight'), get('layer_norm1.bias'), eps);
  const v = linear(normed, tokens, dim, dim, get('self_attn.v_proj.weight'), get('self_attn.v_proj.bias'));
  const meanV = new Float64Array(dim);
  for (let t = 0; t < tokens; t++) for (let d = 0; d < dim; d++) meanV[d] = meanV[d]! + v[t * dim + d]! / tokens;
  const attended = linear(meanV, 1, dim, dim, get('self_attn.out_proj.weight'), get('self_attn.out_proj.bias'));
  const expected = h0.map((x, i) => x + attended[i % dim]!);
  assert.ok(maxAbsDiff(hiddenStates[1]!, expected) < 1e-14);
});

test('the MLP adds fc2(quick_gelu(fc1(layer_norm2(h))))', () => {
  const weights = randomWeights(arch, 15);
  weights.set(`${L0}.self_attn.out_proj.weight`, new Float32Array(dim * dim));
  weights.set(`${L0}.self_attn.out_proj.bias`, new Float32Array(dim));
  const { hiddenStates } = referenceVision(arch, lookupFrom(weights), randomPixels(arch, 16));
  const h0 = hiddenStates[0]!;
  const get = (name: string) => weights.get(`${L0}.${name}`)!;
  const inter = arch.vision.intermediateSize;
  const eps = arch.vision.layerNormEps;
  const normed = layerNorm(h0, tokens, dim, get('layer_norm2.weight'), get('layer_norm2.bias'), eps);
  const hidden = linear(normed, tokens, dim, inter, get('mlp.fc1.weight'), get('mlp.fc1.bias')).map(
    (x) => x / (1 + Math.exp(-1.702 * x)),
  );
  const mlp = linear(hidden, tokens, inter, dim, get('mlp.fc2.weight'), get('mlp.fc2.bias'));
  assert.ok(maxAbsDiff(hiddenStates[1]!, h0.map((x, i) => x + mlp[i]!)) < 1e-14);
});

test('the MLP applies hidden_act between fc1 and fc2', () => {
  const quick = 1 / (1 + Math.exp(-1.702)); // quick_gelu(1)
  const exact = 0.8413447460685429; // gelu(1)
  for (const [hiddenAct, act1] of [
    ['quick_gelu', quick],
    ['gelu', exact],
  ] as const) {
    const a = tinyArch({ vision: { hidden_act: hiddenAct } });
    const weights = randomWeights(a, 9);
    const inter = a.vision.intermediateSize;
    weights.set(`${L0}.self_attn.out_proj.weight`, new Float32Array(dim * dim));
    weights.set(`${L0}.self_attn.out_proj.bias`, new Float32Array(dim));
    // fc1 outputs the constant 1 in unit 0; fc2 copies unit 0 into channel 5.
    weights.set(`${L0}.mlp.fc1.weight`, new Float32Array(inter * dim));
    weights.set(`${L0}.mlp.fc1.bias`, Float32Array.from({ length: inter }, (_, i) => (i === 0 ? 1 : 0)));
    const fc2 = new Float32Array(dim * inter);
    fc2[5 * inter + 0] = 1;
    weights.set(`${L0}.mlp.fc2.weight`, fc2);
    weights.set(`${L0}.mlp.fc2.bias`, new Float32Array(dim));
    const { hiddenStates } = referenceVision(a, lookupFrom(weights), randomPixels(a, 10));
    const expected = hiddenStates[0]!.map((x, i) => x + (i % dim === 5 ? act1 : 0));
    assert.ok(maxAbsDiff(hiddenStates[1]!, expected) < 1e-15, hiddenAct);
  }
});

test('attention is bidirectional: the class token sees a change in the last patch', () => {
  const lookup = lookupFrom(randomWeights(arch, 11));
  const pixels = randomPixels(arch, 12);
  const changed = pixels.slice();
  changed[(0 * 8 + 7) * 8 + 7] = 3; // bottom-right pixel, last patch
  const before = referenceVision(arch, lookup, pixels).hiddenStates;
  const after = referenceVision(arch, lookup, changed).hiddenStates;
  assert.deepEqual(row(after[0]!, dim, 0), row(before[0]!, dim, 0));
  assert.ok(maxAbsDiff(row(after[1]!, dim, 0), row(before[1]!, dim, 0)) > 1e-6);
});

test('wrongly sized pixels or weights fail with typed errors', () => {
  const weights = randomWeights(arch, 13);
  assert.throws(() => referenceVision(arch, lookupFrom(weights), new Float32Array(10)), ImageError);
  weights.set(`${V}.pre_layrnorm.bias`, new Float32Array(dim + 1));
  assert.throws(() => referenceVision(arch, lookupFrom(weights), randomPixels(arch, 14)), CheckpointError);
});
