// Parity with DART's, DivPrune's, VisionZip's and SparseVLM's own code: visdrop on the tiny parity model
// (src/tools/reduction-parity.ts) against the goldens tools/python/ wrote by running the authors' code
// paths, re-implemented in torch, end to end (dart_divprune_parity.py from visdrop's input embeddings;
// visionzip_sparsevlm_parity.py from the pixel values through CLIP, the projector and the LLaMA
// forward): every stage as the golden states it (kept image tokens; DART's pivots, their CPython set
// order and per-pivot picks; DivPrune's pick order; VisionZip's and SparseVLM's built tokens' members
// and the image span after each stage; SparseVLM's raters, rank, k and candidates), last-prompt logits
// within 1e-3, the same greedy tokens, each decode step's logits within 1e-3.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createParityRuntime, PARITY_CASES, runParityCase, type ParityFamily, type ParityResult } from '../tools/reduction-parity.js';
import type { LlavaRuntime } from '../runtime/llava-runtime.js';

const FAMILIES: readonly ParityFamily[] = ['dart-divprune', 'visionzip-sparsevlm'];

const goldens = (family: ParityFamily) =>
  (JSON.parse(readFileSync(new URL(`../../test-fixtures/parity/${family}.json`, import.meta.url), 'utf8')) as { cases: (ParityResult & { name: string })[] }).cases;

describe("reductions against their authors' code (torch goldens)", () => {
  let runtime: LlavaRuntime;
  before(async () => {
    runtime = await createParityRuntime();
  });
  after(() => runtime.release());

  for (const family of FAMILIES) {
    const golden = goldens(family);
    it(`${family}: a golden for every case and a case for every golden`, () => {
      assert.deepEqual(golden.map((c) => c.name), PARITY_CASES.filter((c) => c.family === family).map((c) => c.name));
    });
    for (const parityCase of PARITY_CASES.filter((c) => c.family === family)) {
      it(parityCase.name, async () => {
        const expected = golden.find((c) => c.name === parityCase.name)!;
        const result = await runParityCase(runtime, parityCase);
        assert.deepEqual(
          result.stages.map((s) => s.keptImageTokens),
          expected.stages.map((s) => s.keptImageTokens),
          'kept image tokens at every stage',
        );
        // Each stage as the golden states it: the fields its method's code defines.
        const stated = result.stages.map((stage, s) =>
          Object.fromEntries(Object.keys(expected.stages[s] ?? {}).map((key) => [key, stage[key as keyof typeof stage]])),
        );
        assert.deepEqual(stated, expected.stages, 'stages with their built tokens, layout and trajectory');
        assert.equal(result.logits.length, expected.logits.length);
        const difference = Math.max(...result.logits.map((x, i) => Math.abs(x - expected.logits[i]!)));
        assert.ok(difference <= 1e-3, `last-prompt logits differ by ${difference.toExponential(2)}`);
        assert.deepEqual(result.tokens, expected.tokens, 'greedy tokens');
        // The decode steps (SparseVLM's run at each layer's own cache length) stay within the same bound.
        assert.equal(result.decodeLogits.length, expected.decodeLogits.length);
        result.decodeLogits.forEach((step, t) => {
          const stepDifference = Math.max(...step.map((x, i) => Math.abs(x - expected.decodeLogits[t]![i]!)));
          assert.ok(stepDifference <= 1e-3, `decode step ${t + 1}'s logits differ by ${stepDifference.toExponential(2)}`);
        });
      });
    }
  }
});
