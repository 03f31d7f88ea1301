// VisionZip: the shared conformance suite, then the spec's rules (visionzip.md section 3): the
// dominant set by summed class attention with the class token first, contextual targets by stride
// over the remaining tokens, members by cosine of head-mean keys, target + mean of members; option
// errors; and the record's vision stage on a real run.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError } from '../errors.js';
import { visionZip, visionZipPlan } from './visionzip.js';
import { runStrategyConformance } from './conformance.case.test.js';
import type { CreatedToken } from './types.js';

// The conformance model has 16 patches (17 tokens with the class token) and a 3-layer tower.
runStrategyConformance('visionzip 6+3', () => visionZip({ dominant: 6, contextual: 3 }));
runStrategyConformance('visionzip 1+2', () => visionZip({ dominant: 1, contextual: 2 }));

describe('visionzip rules', () => {
  // 7 tokens (class + 6 patches), 2 heads, head dim 2.
  const classAttention = Float32Array.from([
    // head 0 over tokens 0..6, head 1
    0.1, 0.3, 0.05, 0.2, 0.05, 0.2, 0.1,
    0.2, 0.2, 0.05, 0.3, 0.05, 0.1, 0.1,
  ]);
  // Keys: token 2 along x, token 4 along y, token 6 near x, token 5 near y.
  const keyMean = Float32Array.from([9, 9, 1, 1, 2, 0, 0, 0, 0, 3, 0.1, 2, 5, 0.5]);
  const image = { hidden: new Float32Array(0), hiddenSize: 0, classAttention, numHeads: 2, keyMean, headDim: 2 };

  it('keeps the class token and the top D-1 patches by summed class attention, in token order, then the contextual tokens', () => {
    // Summed scores of patches 1..6: 0.5, 0.1, 0.5, 0.1, 0.3, 0.2: top 2 are tokens 1 and 3.
    const plan = visionZipPlan(image, 3, 2);
    assert.deepEqual(plan.tokens.slice(0, 3), [0, 1, 3]);
    // Remaining 2, 4, 5, 6 (M = 4), step 2: targets 2 and 5; 4 joins 5 (y-like), 6 joins 2 (x-like).
    const built = plan.tokens.slice(3) as CreatedToken[];
    assert.deepEqual(built, [
      { members: [2, 6], weights: [1, 1] },
      { members: [5, 4], weights: [1, 1] },
    ]);
  });

  it('a target with no members stays itself; the tail after the last target is merged', () => {
    // D = 1: remaining 1..6 (M = 6), C = 4: step 1, targets 1, 2, 3, 4; 5 and 6 are members.
    const built = visionZipPlan(image, 1, 4).tokens.slice(1) as CreatedToken[];
    assert.deepEqual(built.map((b) => b.members[0]), [1, 2, 3, 4]);
    assert.equal(built.flatMap((b) => b.members).length, 6);
    const alone = built.find((b) => b.members.length === 1)!;
    assert.deepEqual(alone.weights, [1]);
  });

  it('rejects bad options with a clear error', () => {
    assert.throws(() => visionZip({ contextual: 0 }), (e: unknown) => e instanceof OptionError && /visionzip contextual/.test(e.message));
    assert.throws(() => visionZip({ dominant: 0 }), OptionError);
    const stage = visionZip({ dominant: 560, contextual: 30 }).features!;
    assert.throws(() => stage.check(577, 24), (e: unknown) => e instanceof OptionError && /at most 17/.test(e.message) && /30/.test(e.message));
    assert.throws(() => visionZip({ dominant: 600 }).features!.check(577, 24), (e: unknown) => e instanceof OptionError && /dominant/.test(e.message));
    assert.throws(() => visionZip().features!.check(577, 1), (e: unknown) => e instanceof OptionError && /at least 2 layers/.test(e.message));
  });
});
