// DART: the shared conformance suite, then the spec's rules (dart.md sections 2-4): the per-pivot
// quota and kept counts, the CPython set order of the pivots, the greedy picks from a shared pool,
// original positions, and option errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError } from '../errors.js';
import { dart, dartKept, dartTokenTopk, DART_DEFAULTS } from './dart.js';
import { pythonSetOrder } from './python-set-order.js';
import { reducerFromFlags } from './registry.js';
import { runStrategyConformance } from './conformance.case.test.js';
import type { BoundaryContext, KeepPlan } from './types.js';

// The conformance prompt has 16 image tokens and 4 text tokens after the image.
runStrategyConformance('dart layer 2, 2+2 pivots, M 8', () => dart({ layer: 2, pivotImage: 2, pivotText: 2, maxTokens: 8 }));
runStrategyConformance('dart layer 3, 1+3 pivots, ratio 0.5', () => dart({ layer: 3, pivotImage: 1, pivotText: 3, ratio: 0.5 }));

const defaults = { ...DART_DEFAULTS };

describe('dart rules', () => {
  it('picks floor(M / pivots) per pivot and keeps P_I + pivots x that, not M', () => {
    assert.equal(dartTokenTopk(defaults, 576, false), 16);
    assert.equal(dartKept(defaults, 576, false), 132);
    assert.equal(dartKept({ ...defaults, maxTokens: 192 }, 576, false), 196);
    assert.equal(dartKept({ ...defaults, maxTokens: 64 }, 576, false), 68);
    // Without M: floor(576 x (1 - 0.778) / 8) = floor(15.98) = 15, Python's float floor division.
    assert.equal(dartTokenTopk({ ...defaults, maxTokens: null }, 576, false), 15);
    // LLaVA-NeXT: floor(min(320, N - 4) / 8), M ignored.
    assert.equal(dartKept(defaults, 2928, true), 324);
    assert.equal(dartKept(defaults, 200, true), 4 + 8 * 24);
  });

  it("visits pivots in CPython's set order (goldens from python3.11 list(set(keys)))", () => {
    const goldens: [number[], number[]][] = [
      [[11, 39, 59, 62, 71, 73, 70, 74], [70, 71, 39, 73, 74, 11, 59, 62]],
      [[974, 2427, 2229, 534, 1515, 2473, 1941, 2562], [2562, 2473, 1515, 974, 2229, 534, 1941, 2427]],
      [[2379, 268, 2480, 53, 1921, 1062, 2256, 959], [1921, 1062, 2379, 268, 2480, 2256, 53, 959]],
      [[785, 2937, 1926, 2215, 2251, 1951, 1626, 2617, 616, 949, 2600, 621], [1926, 2215, 616, 2600, 2251, 621, 2617, 785, 949, 2937, 1626, 1951]],
      [
        [2142, 1597, 62, 2750, 262, 652, 2421, 175, 1233, 127, 1103, 1936, 2436, 2944, 1587, 2925, 1748, 1617, 2982, 2363],
        [2944, 2436, 262, 652, 1936, 2982, 175, 1587, 2363, 1597, 2750, 62, 1103, 1233, 1617, 1748, 2142, 2925, 2421, 127],
      ],
      [[35, 67, 99, 131, 163, 195, 611, 612, 700, 611], [99, 67, 35, 131, 163, 195, 611, 612, 700]],
    ];
    for (const [keys, order] of goldens) assert.deepEqual(pythonSetOrder(keys), order);
  });

  it('chooses pivots by key L1 norm and lets each take the least similar tokens from a shared pool', async () => {
    // Rows: 0 text, 1..6 image (originals 0..5), 7..8 text. One kv head of width 2 (two query heads).
    const keys = [
      [0, 0],
      [1, 0],
      [0, 1],
      [-5, 1],
      [1, 1],
      [0, -1],
      [1, 0.5],
      [1, 1],
      [0, -3],
    ];
    const keysT = new Float32Array(18);
    keys.forEach(([a, b], p) => {
      keysT[p] = a!;
      keysT[9 + p] = b!;
    });
    // States by angle: text pivot row 8 at 0°, image tokens at 10, 170, 90, 100, 180, 45 degrees.
    const angles = [0, 10, 170, 90, 100, 180, 45, 0, 0];
    const hidden = Float32Array.from(angles.flatMap((deg) => [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)]));
    const sequence = { hidden, positions: [0, 1, 2, 3, 4, 5, 6, 7, 8], imageStart: 1, imageTokens: [0, 1, 2, 3, 4, 5], keyTokens: [] };
    const context: BoundaryContext = {
      layer: 2,
      originalImageTokens: 6,
      sequence,
      numHeads: 2,
      attention: undefined,
      scoresAtNextLayer: () => Promise.reject(new Error('DART does not score with the next layer')),
      keysBefore: () => ({ keysT, numKvHeads: 1, headDim: 2 }),
      finalNormWeight: Float32Array.from([1, 1]),
      cosineDistances: () => Promise.reject(new Error('DART compares pivots with the pool only')),
      anyres: false,
    };
    const strategy = dart({ layer: 2, pivotImage: 1, pivotText: 1, maxTokens: 4 });
    assert.equal(strategy.positionPolicy, 'keep-original');
    const plan = (await strategy.onBoundary(context)) as KeepPlan | undefined;
    // Set order of {3, 8}: 8 (slot 0) before 3. Row 8 (0°) takes rows 5 (180°) and 2 (170°); then
    // row 3 (90°) takes rows 1 (80° away) and 6 (45°) from what is left; row 4 (10° away) goes.
    assert.deepEqual(plan!.keep, [0, 1, 2, 4, 5]);
    assert.deepEqual(plan!.detail, {
      tokenTopk: 2,
      imagePivots: [2],
      textPivots: [1],
      pivotVisitOrder: [8, 3],
      perPivot: [
        { pivot: 8, kind: 'text', picked: [4, 1] },
        { pivot: 3, kind: 'image', picked: [0, 5] },
      ],
    });
    // Budgets the image cannot fill, and more text pivots than text, are errors, not clamps.
    await assert.rejects(dart({ layer: 2, pivotImage: 1, pivotText: 1, maxTokens: 6 }).onBoundary(context), (e: unknown) => e instanceof OptionError && /dart budget/.test(e.message));
    await assert.rejects(dart({ layer: 2, pivotImage: 1, pivotText: 3, maxTokens: 4 }).onBoundary(context), (e: unknown) => e instanceof OptionError && /dart pivotText/.test(e.message));
  });

  it('rejects bad options with a clear error', () => {
    assert.throws(() => dart({ layer: 0 }), (e: unknown) => e instanceof OptionError && /dart layer/.test(e.message));
    assert.throws(() => dart({ layer: 32 }).checkModel(32), (e: unknown) => e instanceof OptionError && /dart layer/.test(e.message) && /32/.test(e.message));
    assert.throws(() => dart({ maxTokens: 128, ratio: 0.5 }), (e: unknown) => e instanceof OptionError && /dart ratio/.test(e.message));
    assert.throws(() => dart({ ratio: 1 }), (e: unknown) => e instanceof OptionError && /dart ratio/.test(e.message));
    assert.throws(() => dart({ pivotImage: 0, pivotText: 0 }), (e: unknown) => e instanceof OptionError && /pivot/.test(e.message));
    assert.throws(() => dart({ maxTokens: 0 }), OptionError);
    assert.throws(() => reducerFromFlags('fastv', { dartLayer: 3 }), (e: unknown) => e instanceof OptionError && /--dart-\*/.test(e.message));
  });

  it('is built from the flags, a ratio only with --dart-max-tokens none or without M', () => {
    assert.deepEqual(reducerFromFlags('dart', {})!.options, { layer: 2, pivotImage: 4, pivotText: 4, maxTokens: 128, nextBudget: 320 });
    assert.equal(reducerFromFlags('dart', { dartMaxTokens: null, dartRatio: 0.5 })!.options.maxTokens, null);
    assert.deepEqual(reducerFromFlags('dart', { dartRatio: 0.5 })!.options, { layer: 2, pivotImage: 4, pivotText: 4, maxTokens: null, ratio: 0.5, nextBudget: 320 });
  });
});
