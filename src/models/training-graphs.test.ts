// Each training graph kind against the float64 reference (src/models/reference): the forward graph's
// output, then the backward graph's gradient of every weight tensor and of the input, compared with
// central differences of L = sum(R * reference output) for a random R. Errors are relative to the
// tensor's norm: |analytic - numeric| / |analytic| as vectors over the tensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { GraphBuilder } from '../onnx/builder.js';
import { mulberry32 } from '../util/prng.js';
import { embeddings as referenceEmbeddings, encoderLayer } from './reference/clip.js';
import { decoderLayer } from './reference/llama.js';
import { gelu, layerNorm, linear, rmsNorm } from './reference/math.js';
import { randomWeights, tinyArch, weightShapes } from './reference/test-helpers.js';
import { visionEmbeddingsBody, visionLayerBody, VISION_EMBEDDING_WEIGHTS, VISION_LAYER_WEIGHTS } from './clip/vision-training.js';
import { VISION_PREFIX } from './clip/vision.js';
import { DECODER_LAYER_WEIGHTS, decoderLayerBody, lossBody } from './llama/decoder-training.js';
import { DECODER_PREFIX, LM_HEAD_WEIGHT } from './llama/decoder.js';
import { projectorBody, projectorWeightNames } from './llava/projector-training.js';
import { PROJECTOR_PREFIX } from './llava/projector.js';
import { buildStoredTrainingPair, buildTrainingBackward, buildTrainingForward, gradName, type TrainingBodyBuilder } from './training-graph.js';

const arch = tinyArch();
const weights = randomWeights(arch, 3);

interface KindCase {
  readonly name: string;
  readonly body: TrainingBodyBuilder;
  /** Weight suffix -> full checkpoint name. */
  readonly weightNames: ReadonlyMap<string, string>;
  /** The activation input (differentiated) and its dims, or none. */
  readonly activation?: { readonly name: string; readonly dims: readonly number[] };
  /** Other inputs, fed as they are. */
  readonly extra: Record<string, ort.Tensor>;
  readonly outputName: string;
  readonly outputDims: readonly number[];
  readonly scalarLoss?: boolean;
  /** Seed mask: output elements that count (padding rows do not). */
  readonly counts?: (index: number) => boolean;
  /** The float64 reference output for the given weights (by full name) and activation. */
  reference(w: ReadonlyMap<string, Float32Array>, activation: Float64Array): Float64Array;
}

const lookup = (w: ReadonlyMap<string, Float32Array>) => (name: string) => w.get(name)!;
const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
const session = (g: GraphBuilder) => ort.InferenceSession.create(g.toModelBytes(), { graphOptimizationLevel: 'all' });

function prefixed(prefix: string, suffixes: readonly string[]): Map<string, string> {
  return new Map(suffixes.map((s) => [s, `${prefix}.${s}`]));
}

function randomInput(length: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length }, () => 2 * random() - 1);
}

const v = arch.vision;
const t = arch.text;
const S = v.numPatches + 1;
// Decoder: two rows, the second padded after 4 of 6 tokens; positions 0..5 in each.
const decoderT = 6;
const decoderLengths = [6, 4];

const CASES: KindCase[] = [
  {
    name: 'CLIP embeddings (patch MatMul, class token, positions, pre-layernorm)',
    body: visionEmbeddingsBody(v),
    weightNames: prefixed(VISION_PREFIX, VISION_EMBEDDING_WEIGHTS),
    extra: { pixel_values: new ort.Tensor('float32', randomInput(2 * 3 * v.imageSize ** 2, 11), [2, 3, v.imageSize, v.imageSize]) },
    outputName: 'hidden_out',
    outputDims: [2, S, v.hiddenSize],
    reference(w) {
      const pixels = randomInput(2 * 3 * v.imageSize ** 2, 11);
      const per = 3 * v.imageSize ** 2;
      const out = new Float64Array(2 * S * v.hiddenSize);
      for (let b = 0; b < 2; b++) {
        const embedded = referenceEmbeddings(arch, lookup(w), pixels.subarray(b * per, (b + 1) * per));
        const get = (s: string) => w.get(`${VISION_PREFIX}.${s}`)!;
        out.set(layerNorm(embedded, S, v.hiddenSize, get('pre_layrnorm.weight'), get('pre_layrnorm.bias'), v.layerNormEps), b * S * v.hiddenSize);
      }
      return out;
    },
  },
  {
    name: 'CLIP encoder layer',
    body: visionLayerBody(v),
    weightNames: prefixed(`${VISION_PREFIX}.encoder.layers.1`, VISION_LAYER_WEIGHTS),
    activation: { name: 'hidden', dims: [2, S, v.hiddenSize] },
    extra: {},
    outputName: 'hidden_out',
    outputDims: [2, S, v.hiddenSize],
    reference(w, h) {
      const per = S * v.hiddenSize;
      const out = new Float64Array(2 * per);
      for (let b = 0; b < 2; b++) out.set(encoderLayer(arch, lookup(w), `${VISION_PREFIX}.encoder.layers.1`, h.subarray(b * per, (b + 1) * per)), b * per);
      return out;
    },
  },
  {
    name: 'projector',
    body: projectorBody(arch),
    weightNames: prefixed(PROJECTOR_PREFIX, projectorWeightNames(arch)),
    activation: { name: 'features', dims: [2, 3, v.hiddenSize] },
    extra: {},
    outputName: 'embeddings',
    outputDims: [2, 3, t.hiddenSize],
    reference(w, x) {
      const get = (s: string) => w.get(`${PROJECTOR_PREFIX}.${s}`)!;
      const hidden = linear(x, 6, v.hiddenSize, t.hiddenSize, get('linear_1.weight'), get('linear_1.bias')).map(gelu);
      return linear(hidden, 6, t.hiddenSize, t.hiddenSize, get('linear_2.weight'), get('linear_2.bias'));
    },
  },
  {
    name: 'LLaMA decoder layer (GQA, rotary, causal + padding mask)',
    body: decoderLayerBody(t),
    weightNames: prefixed(`${DECODER_PREFIX}.layers.1`, DECODER_LAYER_WEIGHTS),
    activation: { name: 'hidden', dims: [2, decoderT, t.hiddenSize] },
    extra: {
      position_ids: new ort.Tensor('int64', BigInt64Array.from([0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7, 8].map(BigInt)), [2, decoderT]),
      attention_mask: new ort.Tensor('bool', Uint8Array.from(decoderLengths.flatMap((len) => Array.from({ length: decoderT }, (_, i) => (i < len ? 1 : 0)))), [2, decoderT]),
    },
    outputName: 'hidden_out',
    outputDims: [2, decoderT, t.hiddenSize],
    counts: (i) => Math.floor(i / t.hiddenSize) % decoderT < decoderLengths[Math.floor(i / (decoderT * t.hiddenSize))]!,
    reference(w, h) {
      const D = t.hiddenSize;
      const out = new Float64Array(2 * decoderT * D);
      decoderLengths.forEach((len, b) => {
        const positions = Array.from({ length: len }, (_, i) => (b === 0 ? i : 3 + i));
        const rows = h.subarray(b * decoderT * D, (b * decoderT + len) * D);
        out.set(decoderLayer(arch, lookup(w), `${DECODER_PREFIX}.layers.1`, rows, positions), b * decoderT * D);
      });
      return out;
    },
  },
  {
    name: 'final norm + lm_head + cross-entropy',
    body: lossBody(t),
    weightNames: new Map([
      ['norm.weight', `${DECODER_PREFIX}.norm.weight`],
      ['lm_head.weight', LM_HEAD_WEIGHT],
    ]),
    activation: { name: 'hidden', dims: [5, t.hiddenSize] },
    extra: {
      targets: new ort.Tensor('int64', BigInt64Array.from([3, 17, 0, 49, 17].map(BigInt)), [5]),
      scale: new ort.Tensor('float32', Float32Array.from([1 / 5]), []),
    },
    outputName: 'loss',
    outputDims: [],
    scalarLoss: true,
    reference(w, h) {
      const D = t.hiddenSize;
      const V = t.vocabSize;
      const logits = linear(rmsNorm(h, 5, D, w.get(`${DECODER_PREFIX}.norm.weight`)!, t.rmsNormEps), 5, D, V, w.get(LM_HEAD_WEIGHT)!);
      let loss = 0;
      [3, 17, 0, 49, 17].forEach((target, r) => {
        const row = logits.subarray(r * V, (r + 1) * V);
        const max = Math.max(...row);
        const logSum = Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0)) + max;
        loss -= (row[target]! - logSum) / 5;
      });
      return Float64Array.of(loss);
    },
  },
];

test('training graphs: forward and every weight/input gradient match the float64 reference (rel. error <= 1e-3)', async () => {
  const table: string[] = [];
  for (const [caseIndex, c] of CASES.entries()) {
    const activation = c.activation ? randomInput(product(c.activation.dims), 100 + caseIndex) : new Float32Array(0);
    const feeds: Record<string, ort.Tensor> = { ...c.extra };
    for (const [suffix, full] of c.weightNames) {
      const data = weights.get(full)!;
      feeds[suffix] = new ort.Tensor('float32', data, [data.length]);
    }
    const forward = await session(buildTrainingForward(c.name, c.body));
    const shaped = reshapeWeights(c, feeds);
    if (c.activation) shaped[c.activation.name] = new ort.Tensor('float32', activation, [...c.activation.dims]);
    const output = (await forward.run(shaped))[c.outputName]!.data as Float32Array;
    const expected = c.reference(weights, Float64Array.from(activation));
    const counts = c.counts ?? (() => true);
    const forwardError = norm(expected.map((e, i) => (counts(i) ? e - output[i]! : 0))) / norm(expected.map((e, i) => (counts(i) ? e : 0)));
    assert.ok(forwardError < 1e-5, `${c.name}: forward relative error ${forwardError}`);

    const seed = c.scalarLoss ? Float32Array.of(1) : randomInput(product(c.outputDims), 200 + caseIndex).map((r, i) => (counts(i) ? r : 0));
    const backward = await session(buildTrainingBackward(c.name, c.body, { inputGrads: Boolean(c.activation), weightGrads: true, scalarLoss: c.scalarLoss ?? false }));
    const grads = await backward.run({ ...shaped, ...(c.scalarLoss ? {} : { [gradName(c.outputName)]: new ort.Tensor('float32', seed, [...c.outputDims]) }) });
    const objective = (w: ReadonlyMap<string, Float32Array>, x: Float64Array) => c.reference(w, x).reduce((s, y, i) => s + y * seed[i]!, 0);

    let worst = 0;
    const check = (label: string, analytic: Float32Array, numeric: Float64Array) => {
      // A gradient that is zero in exact math (CLIP's k_proj bias: a shift of every key by the same
      // vector leaves the softmax unchanged) is checked absolutely.
      if (norm(numeric) < 1e-7) {
        assert.ok(norm(analytic) < 1e-5, `${c.name}, ${label}: expected a zero gradient, found norm ${norm(analytic)}`);
        return;
      }
      const error = norm(numeric.map((n, i) => n - analytic[i]!)) / norm(analytic);
      worst = Math.max(worst, error);
      assert.ok(error <= 1e-3, `${c.name}, ${label}: relative error ${error.toExponential(2)}`);
    };
    for (const [suffix, full] of c.weightNames) {
      const analytic = grads[gradName(suffix)]!.data as Float32Array;
      const base = weights.get(full)!;
      const numeric = new Float64Array(base.length);
      for (let k = 0; k < base.length; k++) {
        const plus = base.slice();
        const minus = base.slice();
        plus[k] = base[k]! + 1e-3;
        minus[k] = base[k]! - 1e-3;
        const delta = plus[k]! - minus[k]!; // the float32 step actually taken
        numeric[k] = (objective(new Map(weights).set(full, plus), Float64Array.from(activation)) - objective(new Map(weights).set(full, minus), Float64Array.from(activation))) / delta;
      }
      check(suffix, analytic, numeric);
    }
    if (c.activation) {
      const analytic = grads[gradName(c.activation.name)]!.data as Float32Array;
      const x = Float64Array.from(activation);
      const numeric = new Float64Array(x.length);
      for (let k = 0; k < x.length; k++) {
        const plus = x.slice();
        const minus = x.slice();
        plus[k] = x[k]! + 1e-4;
        minus[k] = x[k]! - 1e-4;
        numeric[k] = (objective(weights, plus) - objective(weights, minus)) / 2e-4;
      }
      check(c.activation.name, analytic, numeric);
    }
    let storedGap = 0;
    if (!c.scalarLoss) {
      // The stored-activation pair computes the same output and gradients without recomputing.
      const pair = buildStoredTrainingPair(c.name, c.body, { inputGrads: Boolean(c.activation), weightGrads: true });
      const fed = (graph: GraphBuilder, from: Record<string, ort.Tensor>) => Object.fromEntries(graph.inputList.map((input) => [input.name, from[input.name]!]));
      const storing = await session(pair.forward);
      const forwardOut = await storing.run(fed(pair.forward, shaped));
      assert.deepEqual(Array.from(forwardOut[c.outputName]!.data as Float32Array), Array.from(output), `${c.name}: the storing forward's output`);
      const stored = await session(pair.backward);
      const storedGrads = await stored.run(fed(pair.backward, { ...shaped, ...forwardOut, [gradName(c.outputName)]: new ort.Tensor('float32', seed, [...c.outputDims]) }));
      assert.deepEqual(Object.keys(storedGrads).sort(), Object.keys(grads).sort());
      // Only what depends on an activation input is stored (nothing, for the pixels' embedding).
      assert.equal(pair.stored.length > 0, Boolean(c.activation), `${c.name}: ${pair.stored.length} values stored`);
      for (const [name, tensor] of Object.entries(grads)) {
        const a = Float64Array.from(tensor.data as Float32Array);
        const b = storedGrads[name]!.data as Float32Array;
        // Relative; a gradient that is zero in exact math (CLIP's k_proj bias) absolutely, as above.
        const gap = norm(a.map((x, i) => x - b[i]!)) / Math.max(norm(a), 1);
        storedGap = Math.max(storedGap, gap);
        assert.ok(gap <= 1e-5, `${c.name}, ${name}: stored-activation gradient differs from the recomputed one by ${gap}`);
      }
      await storing.release();
      await stored.release();
    }
    table.push(`${c.name.padEnd(60)} forward ${forwardError.toExponential(1)}  gradients ${worst.toExponential(2)}  stored vs recomputed ${storedGap.toExponential(1)}`);
    await forward.release();
    await backward.release();
  }
  console.log(`max relative error per layer kind:\n${table.join('\n')}`);
});

test('a frozen layer\'s backward has no weight-gradient outputs', () => {
  const frozen = buildTrainingBackward('decoder', decoderLayerBody(t), { inputGrads: true, weightGrads: false });
  assert.deepEqual(frozen.outputList.map((o) => o.name), ['grad.hidden']);
  // Nor any node computing one: no MatMul reads a weight input transposed for its gradient.
  const weightInputs = new Set<string>(DECODER_LAYER_WEIGHTS);
  const backwardMatMuls = frozen.nodeList.filter((n) => n.opType === 'MatMul').length;
  const trained = buildTrainingBackward('decoder', decoderLayerBody(t), { inputGrads: true, weightGrads: true });
  assert.ok(trained.nodeList.filter((n) => n.opType === 'MatMul').length > backwardMatMuls);
  assert.ok(frozen.inputList.some((i) => weightInputs.has(i.name)));
});

/** Weights fed with their declared shapes (PyTorch's), looked up from the checkpoint list. */
function reshapeWeights(c: KindCase, feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const shapes = weightShapes(arch);
  const out: Record<string, ort.Tensor> = {};
  for (const [name, tensor] of Object.entries(feeds)) {
    const full = c.weightNames.get(name);
    out[name] = full ? new ort.Tensor('float32', tensor.data as Float32Array, [...shapes.get(full)!]) : tensor;
  }
  return out;
}
