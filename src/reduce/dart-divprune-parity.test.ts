// Parity with DART's and DivPrune's own code: visdrop on the tiny parity model (src/tools/
// reduction-parity.ts) against test-fixtures/parity/dart-divprune.json, which
// tools/python/dart_divprune_parity.py wrote by running the authors' selection code, re-implemented
// in torch, inside a transformers-style LLaMA forward on visdrop's input embeddings: the same kept
// image tokens and trajectory (DART's pivots, their CPython set order and per-pivot picks; DivPrune's
// pick order), last-prompt logits within 1e-3, the same greedy tokens.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createParityRuntime, PARITY_CASES, runParityCase, type ParityResult } from '../tools/reduction-parity.js';
import type { LlavaRuntime } from '../runtime/llava-runtime.js';

const golden = JSON.parse(readFileSync(new URL('../../test-fixtures/parity/dart-divprune.json', import.meta.url), 'utf8')) as {
  cases: (ParityResult & { name: string })[];
};

describe("dart and divprune against their authors' code (torch goldens)", () => {
  let runtime: LlavaRuntime;
  before(async () => {
    runtime = await createParityRuntime();
  });
  after(() => runtime.release());

  for (const parityCase of PARITY_CASES) {
    it(parityCase.name, async () => {
      const expected = golden.cases.find((c) => c.name === parityCase.name);
      assert.ok(expected, `a golden for ${parityCase.name}`);
      const result = await runParityCase(runtime, parityCase);
      assert.deepEqual(
        result.stages.map((s) => s.keptImageTokens),
        expected.stages.map((s) => s.keptImageTokens),
        'kept image tokens at every stage',
      );
      assert.deepEqual(result.stages, expected.stages, 'stages with their trajectory');
      const difference = Math.max(...result.logits.map((x, i) => Math.abs(x - expected.logits[i]!)));
      assert.equal(result.logits.length, expected.logits.length);
      assert.ok(difference <= 1e-3, `last-prompt logits differ by ${difference.toExponential(2)}`);
      assert.deepEqual(result.tokens, expected.tokens, 'greedy tokens');
    });
  }
});
