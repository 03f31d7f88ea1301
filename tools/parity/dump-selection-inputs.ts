// Dumps what VisionZip's and SparseVLM's selections read, from visdrop's own run of a small seeded
// random model (the conformance model's shape), with visdrop's choices, to
// test-fixtures/parity/selection-inputs.json. tools/python/selection_parity.py then runs the
// authors' selection code path (torch) on the same tensors and writes the goldens the tests read.
// Run by hand, never by tests:  npx tsx tools/parity/dump-selection-inputs.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { CONFORMANCE_ARCH } from '../../src/reduce/conformance.case.test.js';
import { randomWeights } from '../../src/models/random-weights.js';
import { LlavaRuntime } from '../../src/runtime/llava-runtime.js';
import { generate } from '../../src/generate/loop.js';
import { mulberry32 } from '../../src/util/prng.js';
import { visionZip } from '../../src/reduce/visionzip.js';
import { sparseVlm } from '../../src/reduce/sparsevlm.js';
import type { TokenReducer } from '../../src/reduce/types.js';

const list = (a: ArrayLike<number>) => Array.from(a);
const runtime = await LlavaRuntime.create(CONFORMANCE_ARCH, randomWeights(21));
const next = mulberry32(5);
const input = {
  inputIds: [1, 7, 9, 60, 13, 15, 17, 19, 21, 23],
  pixelValues: { data: Float32Array.from({ length: 3 * 28 * 28 }, () => next() * 4 - 2), shape: [1, 3, 28, 28] as [1, 3, number, number] },
};

async function run(reducer: TokenReducer) {
  for await (const event of generate(runtime, input, { maxNewTokens: 1, sampling: { kind: 'greedy' }, stopStrings: [], eosTokenIds: [], decoder: { push: () => '' }, reducer })) {
    if (event.type === 'prefill') return event.reduction!;
  }
  throw new Error('no prefill');
}

const cases: unknown[] = [];
for (const [dominant, contextual] of [[6, 3], [3, 5]] as const) {
  const strategy = visionZip({ dominant, contextual });
  const seen: unknown[] = [];
  const features = strategy.features!;
  const record = await run({
    ...strategy,
    features: { ...features, select: (image) => (seen.push({ classAttention: list(image.classAttention), keyMean: list(image.keyMean), numHeads: image.numHeads, headDim: image.headDim }), features.select(image)) },
  });
  cases.push({ method: 'visionzip', options: { dominant, contextual }, inputs: seen, record: record.stages });
}
for (const options of [{ layers: [1, 2, 4, 5], scale: 2.5, bias: 0, seed: 0 }, { layers: [2, 4], scale: 1.5, bias: 3, seed: 3 }]) {
  const strategy = sparseVlm(options);
  const stages: unknown[] = [];
  let embeddings: unknown = null;
  const record = await run({
    ...strategy,
    forPrompt(start, numLayers) {
      embeddings = { hidden: list(start.hidden), imageStart: start.imageStart, imageTokens: start.imageTokens.length, tokens: start.positions.length };
      const inner = strategy.forPrompt!(start, numLayers);
      return {
        ...inner,
        async onBoundary(context) {
          const { sequence } = context;
          const D = sequence.hidden.length / sequence.positions.length;
          const n = sequence.imageTokens.length;
          stages.push({
            layer: context.layer,
            raterRows: inner.attentionRowsBefore!(context.layer, sequence),
            attention: list(context.attention!),
            numHeads: context.numHeads,
            tokens: sequence.positions.length,
            imageHidden: list(sequence.hidden.subarray(sequence.imageStart * D, (sequence.imageStart + n) * D)),
          });
          return inner.onBoundary(context);
        },
      };
    },
  });
  cases.push({ method: 'sparsevlm', options, embeddings, hiddenSize: CONFORMANCE_ARCH.text.hiddenSize, inputs: stages, record: record.stages });
}
mkdirSync('test-fixtures/parity', { recursive: true });
writeFileSync('test-fixtures/parity/selection-inputs.json', JSON.stringify({ cases }));
await runtime.release();
console.log(`wrote ${cases.length} cases`);
