// The whole training step against the float64 reference on a tiny LLaVA: batch 2 with right
// padding, the mean cross-entropy of the shifted labels, and every parameter tensor's gradient
// checked by central differences of the float64 loss (sampled elements: the largest analytic ones
// and random ones), plain and with a fixed keep plan applied after decoder layer 0 (a PyramidDrop
// drop inside the forward: labels and positions compacted, gradients through kept tokens only).
// Frozen parts: no weight gradients and no backward graph below the lowest trainable part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PromptError } from '../errors.js';
import { decoderLayer } from '../models/reference/llama.js';
import { referenceImageFeatures, referenceMergeEmbeddings } from '../models/reference/llava.js';
import { linear, rmsNorm } from '../models/reference/math.js';
import { lookupFrom, randomPixels, randomWeights, tinyArch, weightShapes } from '../models/reference/test-helpers.js';
import { mulberry32 } from '../util/prng.js';
import type { KeepPlan } from './image-tokens.js';
import { LlavaRuntime } from './llava-runtime.js';
import { TrainingRuntime, type LossAndGradients, type ParameterTensor, type TrainableParts, type TrainingBatch } from './training-runtime.js';

const arch = tinyArch(); // 2 CLIP layers (feature layer -2: one runs), 4 image tokens, 2 decoder layers, V = 50
const IMG = arch.imageTokenId;
const T = 10;
const ROWS = [
  { ids: [1, 5, IMG, IMG, IMG, IMG, 7, 3, 9, 11], answerFrom: 6 },
  { ids: [1, IMG, IMG, IMG, IMG, 8, 6, 2], answerFrom: 5 },
];
/** After decoder layer 0: row 0 keeps image tokens 0 and 2, row 1 keeps token 3. */
const PLANS: KeepPlan[] = [{ keep: [0, 2] }, { keep: [3] }];

function makeBatch(): TrainingBatch {
  const inputIds = new Int32Array(2 * T);
  const labels = new Int32Array(2 * T).fill(-100);
  const attentionMask = new Uint8Array(2 * T);
  ROWS.forEach((row, b) => {
    row.ids.forEach((id, t) => {
      inputIds[b * T + t] = id;
      attentionMask[b * T + t] = 1;
      if (t >= row.answerFrom) labels[b * T + t] = id;
    });
  });
  const pixels = new Float32Array(2 * 3 * arch.vision.imageSize ** 2);
  pixels.set(randomPixels(arch, 21), 0);
  pixels.set(randomPixels(arch, 22), pixels.length / 2);
  return { batch: 2, length: T, inputIds, labels, attentionMask, pixelValues: pixels, hasImage: [true, true] };
}

/** HF's loss in float64: per row, the LLaVA forward (with the drop, when given), shifted cross-entropy, mean over labelled tokens. */
function referenceLoss(weights: ReadonlyMap<string, Float32Array>, batch: TrainingBatch, plans?: readonly KeepPlan[]): number {
  const w = lookupFrom(weights);
  const t = arch.text;
  const D = t.hiddenSize;
  const per = 3 * arch.vision.imageSize ** 2;
  let total = 0;
  let count = 0;
  ROWS.forEach((row, b) => {
    const features = referenceImageFeatures(arch, w, batch.pixelValues.subarray(b * per, (b + 1) * per));
    let h = referenceMergeEmbeddings(arch, w, row.ids, features);
    let labels = row.ids.map((id, i) => (i >= row.answerFrom ? id : -100));
    let positions = row.ids.map((_, i) => i);
    for (let layer = 0; layer < t.numLayers; layer++) {
      h = decoderLayer(arch, w, `language_model.model.layers.${layer}`, h, positions);
      if (plans && layer === 0) {
        const imageStart = row.ids.indexOf(IMG);
        const N = arch.imageTokensPerImage;
        const keep = [...positions.slice(0, imageStart), ...plans[b]!.keep.map((k) => imageStart + k), ...positions.slice(imageStart + N)];
        const kept = new Float64Array(keep.length * D);
        keep.forEach((r, i) => kept.set(h.subarray(r * D, (r + 1) * D), i * D));
        h = kept;
        labels = keep.map((r) => labels[r]!);
        positions = keep.map((_, i) => i);
      }
    }
    const tokens = positions.length;
    const logits = linear(rmsNorm(h, tokens, D, w('language_model.model.norm.weight'), t.rmsNormEps), tokens, D, t.vocabSize, w('language_model.lm_head.weight'));
    for (let i = 0; i + 1 < tokens; i++) {
      const target = labels[i + 1]!;
      if (target === -100) continue;
      const logitRow = logits.subarray(i * t.vocabSize, (i + 1) * t.vocabSize);
      const max = Math.max(...logitRow);
      total -= logitRow[target]! - (Math.log(logitRow.reduce((s, x) => s + Math.exp(x - max), 0)) + max);
      count++;
    }
  });
  return total / count;
}

function parameters(seed: number): Map<string, ParameterTensor> {
  const weights = randomWeights(arch, seed);
  const shapes = weightShapes(arch);
  return new Map([...weights].map(([name, data]) => [name, { shape: shapes.get(name)!, data }]));
}

const ALL: TrainableParts = { vision: true, projector: true, llm: true };
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

async function checkAgainstReference(plans?: readonly KeepPlan[]): Promise<{ lossError: number; worst: number; worstName: string; tensors: number; stepMs: number }> {
  const params = parameters(5);
  const weights = new Map([...params].map(([name, p]) => [name, p.data]));
  const batch = makeBatch();
  const runtime = await TrainingRuntime.create(arch, params, { intraOpThreads: 1 });
  const boundary = plans
    ? async (view: { layer: number }) => {
        assert.equal(view.layer, 1);
        return plans;
      }
    : undefined;
  const result = await runtime.lossAndGradients(batch, { trainable: ALL, ...(boundary ? { boundary } : {}) });
  const started = performance.now();
  await runtime.lossAndGradients(batch, { trainable: ALL, ...(boundary ? { boundary } : {}) });
  const stepMs = performance.now() - started;
  await runtime.release();

  const expectedLoss = referenceLoss(weights, batch, plans);
  const lossError = Math.abs(result.loss - expectedLoss) / Math.abs(expectedLoss);
  assert.ok(lossError < 1e-5, `loss ${result.loss} vs reference ${expectedLoss}`);
  assert.equal(result.tokens, plans ? 4 + 3 : 4 + 3);

  // Every parameter that reaches the loss has a gradient; CLIP's last layer (after the feature layer)
  // and its post_layernorm (LLaVA takes hidden states, not the pooled output) do not.
  const unused = [...weights.keys()].filter((name) => /^vision_tower\.vision_model\.(encoder\.layers\.1\.|post_layernorm)/.test(name));
  assert.deepEqual([...result.grads.keys()].sort(), [...weights.keys()].filter((n) => !unused.includes(n)).sort());

  const random = mulberry32(9);
  let worst = 0;
  let worstName = '';
  for (const [name, analytic] of result.grads) {
    const data = weights.get(name)!;
    assert.equal(analytic.length, data.length, name);
    const byMagnitude = Array.from(analytic.keys()).sort((a, b) => Math.abs(analytic[b]!) - Math.abs(analytic[a]!));
    const sample = [...new Set([...byMagnitude.slice(0, 3), ...Array.from({ length: 3 }, () => Math.floor(random() * data.length))])];
    const a: number[] = [];
    const n: number[] = [];
    for (const k of sample) {
      const original = data[k]!;
      data[k] = original + 1e-3;
      const plusValue = data[k]!;
      const plus = referenceLoss(weights, batch, plans);
      data[k] = original - 1e-3;
      const minusValue = data[k]!;
      const minus = referenceLoss(weights, batch, plans);
      data[k] = original;
      a.push(analytic[k]!);
      n.push((plus - minus) / (plusValue - minusValue));
    }
    const error = norm(n) < 1e-7 ? norm(a) : norm(a.map((x, i) => x - n[i]!)) / norm(n);
    if (error > worst) {
      worst = error;
      worstName = name;
    }
    assert.ok(error <= 1e-3, `${name}: relative error ${error.toExponential(2)} (analytic ${a.map((x) => x.toExponential(3))}, numeric ${n.map((x) => x.toExponential(3))})`);
  }
  return { lossError, worst, worstName, tensors: result.grads.size, stepMs };
}

test('lossAndGradients: loss and every parameter gradient match float64 central differences (batch 2, padding)', async () => {
  const r = await checkAgainstReference();
  console.log(`plain: loss rel. error ${r.lossError.toExponential(1)}, ${r.tensors} gradient tensors, worst ${r.worst.toExponential(2)} (${r.worstName}); one step ${r.stepMs.toFixed(1)} ms`);
});

test('lossAndGradients with a keep plan after decoder layer 0 matches the reference with the same drop', async () => {
  const r = await checkAgainstReference(PLANS);
  console.log(`with a drop: loss rel. error ${r.lossError.toExponential(1)}, ${r.tensors} gradient tensors, worst ${r.worst.toExponential(2)} (${r.worstName}); one step ${r.stepMs.toFixed(1)} ms`);
});

for (const activations of ['store', 'recompute'] as const) {
  test(`frozen parts get no weight gradients, and nothing runs below the lowest trainable part (activations: ${activations})`, async () => {
    const params = parameters(6);
    const batch = makeBatch();
    const settings = { intraOpThreads: 1, activations };
    const backward = (kind: string, frozen: boolean) => `${kind}:backward${activations === 'store' ? '-stored' : ''}${frozen ? '-frozen' : ''}`;
    const full = await TrainingRuntime.create(arch, params, settings);
    const all = await full.lossAndGradients(batch, { trainable: ALL });
    await full.release();

    // Pre-training: the projector alone; the decoder's backward runs without weight gradients, the CLIP backward not at all.
    const pretrain = await TrainingRuntime.create(arch, params, settings);
    const projectorOnly = await pretrain.lossAndGradients(batch, { trainable: { vision: false, projector: true, llm: false } });
    assert.ok([...projectorOnly.grads.keys()].every((name) => name.startsWith('multi_modal_projector.')));
    assert.equal(projectorOnly.grads.size, 4);
    for (const [name, grad] of projectorOnly.grads) assert.deepEqual(grad, all.grads.get(name), name);
    assert.deepEqual(pretrain.openedGraphs.filter((key) => key.includes('backward')).sort(), [backward('decoder-layer', true), 'loss:backward-frozen', backward('projector', false)]);
    await pretrain.release();

    // LLM only: nothing below the decoder runs backward, and the tower and projector forwards store nothing.
    const llmOnly = await TrainingRuntime.create(arch, params, settings);
    const decoderGrads = await llmOnly.lossAndGradients(batch, { trainable: { vision: false, projector: false, llm: true } });
    assert.ok([...decoderGrads.grads.keys()].every((name) => name.startsWith('language_model.')));
    assert.deepEqual(llmOnly.openedGraphs.filter((key) => key.includes('backward')).sort(), [backward('decoder-layer', false), 'loss:backward']);
    assert.ok(llmOnly.openedGraphs.includes('projector:forward') && llmOnly.openedGraphs.includes('vision-layer:forward'));
    assert.equal(decoderGrads.loss, all.loss);
    await llmOnly.release();
  });
}

test('stored activations and recomputed ones give the same loss and gradients, with and without a drop', async () => {
  const params = parameters(9);
  const batch = makeBatch();
  const dropAfterLayer0 = async () => PLANS;
  for (const boundary of [undefined, dropAfterLayer0]) {
    const results = [];
    for (const activations of ['store', 'recompute'] as const) {
      const runtime = await TrainingRuntime.create(arch, params, { intraOpThreads: 1, activations });
      results.push(await runtime.lossAndGradients(batch, { trainable: ALL, ...(boundary ? { boundary } : {}) }));
      await runtime.release();
    }
    const [stored, recomputed] = results as [LossAndGradients, LossAndGradients];
    assert.ok(stored.grads.size > 0);
    assert.equal(stored.loss, recomputed.loss);
    assert.deepEqual([...stored.grads.keys()].sort(), [...recomputed.grads.keys()].sort());
    for (const [name, grad] of recomputed.grads) {
      const other = stored.grads.get(name)!;
      const gap = Math.sqrt(grad.reduce((sum, g, i) => sum + (g - other[i]!) ** 2, 0));
      const size = Math.sqrt(grad.reduce((sum, g) => sum + g * g, 0));
      assert.ok(gap <= 1e-5 * Math.max(size, 1), `${name}: stored vs recomputed gradient differs by ${gap} (norm ${size})`);
    }
  }
});

test('a bad batch is refused with one line naming the row and what was found', async () => {
  const runtime = await TrainingRuntime.create(arch, parameters(7));
  const batch = makeBatch();
  const missingImageToken = { ...batch, inputIds: batch.inputIds.map((id, i) => (i === 2 ? 4 : id)) };
  await assert.rejects(runtime.lossAndGradients(missingImageToken, { trainable: ALL }), (e: unknown) => e instanceof PromptError && /row 0 inputIds/.test(e.message));
  const labelledPadding = { ...batch, labels: batch.labels.map((l, i) => (i === 2 * T - 1 ? 3 : l)) };
  await assert.rejects(runtime.lossAndGradients(labelledPadding, { trainable: ALL }), /-100 at padded positions/);
  await runtime.release();
});

test("the boundary's nextLayerAttention equals the inference runtime's scores at the next layer", async () => {
  const params = parameters(8);
  const weights = new Map([...params].map(([name, p]) => [name, p.data]));
  const inference = await LlavaRuntime.create(arch, { has: (name) => weights.has(name), float32: (name) => weights.get(name)! }, { intraOpThreads: 1 });
  const runtime = await TrainingRuntime.create(arch, params, { intraOpThreads: 1 });
  let checked = 0;
  await runtime.lossAndGradients(makeBatch(), {
    trainable: ALL,
    boundary: async (view) => {
      const row = view.rows[1]!;
      const D = arch.text.hiddenSize;
      const hidden = view.hidden.slice(view.length * D, (view.length + row.length) * D);
      const queries = [row.length - 1, 2];
      const expected = await inference.attentionScores(view.layer, { hidden, positions: row.positions }, queries);
      const actual = await view.nextLayerAttention(1, queries);
      assert.ok(norm(actual.map((a, i) => a - expected[i]!)) / norm(expected) < 1e-5);
      checked++;
      return undefined;
    },
  });
  assert.equal(checked, 1);
  await runtime.release();
  await inference.release();
});
