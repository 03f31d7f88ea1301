// MustDrop: the shared conformance suite for each stage combination offered, then the spec's rules
// (section 3): window similarity and merge order, the key set, dual-attention filtering, the
// post-prefill cache shrink with faithful and corrected decode positions, and option errors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError } from '../errors.js';
import { randomWeights } from '../models/random-weights.js';
import { LlavaRuntime } from '../runtime/llava-runtime.js';
import { KvCache } from '../runtime/kv-cache.js';
import { prefill } from '../generate/prefill.js';
import { mulberry32 } from '../util/prng.js';
import { mustDrop, windowSimilarities, MUSTDROP_BUDGETS } from './must-drop.js';
import { fastV } from './fastv.js';
import { pyramidDrop } from './pyramid-drop.js';
import { withVisionStage } from './types.js';
import { CONFORMANCE_ARCH, runStrategyConformance } from './conformance.case.test.js';
import type { TokenPlan } from './types.js';

/** A plan's tokens as member lists: a kept token as itself alone, a built one as its members. */
function groupsOf(plan: TokenPlan): number[][] {
  return plan.tokens.map((t) => (typeof t === 'number' ? [t] : [...t.members]));
}

// The conformance model has a 4x4 patch grid (one whole 3x3 window) and 6 decoder layers; a merge
// threshold of -1 merges every whole window, and thresholds this high drop some of 8 tokens.
const SMALL = { mergeThreshold: -1, globalThr: 0.1, individualThr: 0.3, layers: [1, 3] };
const COUNTS_SKIP = { test: 'image tokens per layer are as declared', reason: 'MustDrop keeps a data-dependent number of tokens' };

runStrategyConformance('mustdrop, all stages', () => mustDrop({ ...SMALL }), {
  skip: [
    COUNTS_SKIP,
    {
      test: 'a cached decode step equals a fresh prefill of the longer sequence with the plans replayed',
      reason: 'the decode-stage cache shrink lets decode tokens in layers 1..3 see only the final tokens, which no prefill replays',
    },
  ],
});
runStrategyConformance('mustdrop, vision and prefill', () => mustDrop({ ...SMALL, stages: ['vision', 'prefill'] }), { skip: [COUNTS_SKIP] });
runStrategyConformance('mustdrop, prefill only, corrected positions', () => mustDrop({ ...SMALL, stages: ['prefill', 'decode'], correctedDecodePositions: true }), {
  skip: [
    COUNTS_SKIP,
    { test: 'a cached decode step equals a fresh prefill of the longer sequence with the plans replayed', reason: 'the decode-stage cache shrink, as above' },
  ],
});
runStrategyConformance('mustdrop-vision+pdrop', () => withVisionStage(mustDrop({ ...SMALL, stages: ['vision'] }), pyramidDrop({ layers: [2, 4], ratios: [0.5, 0.25] })));
runStrategyConformance('mustdrop-vision+fastv', () => withVisionStage(mustDrop({ ...SMALL, stages: ['vision'] }), fastV({ k: 2, r: 0.5 })));

/** hidden [1 + grid^2, D]: the class token, then patch p = `make(p)`. */
function patchHidden(grid: number, D: number, make: (patch: number) => number[]): Float32Array {
  const hidden = new Float32Array((1 + grid * grid) * D);
  for (let p = 0; p < grid * grid; p++) hidden.set(make(p), (1 + p) * D);
  return hidden;
}

describe('mustdrop vision stage', () => {
  const vision = mustDrop().vision!;
  // A 6x6 grid has four 3x3 windows: 0 (top left), 1 (top right), 2, 3. Windows 1 and 3 hold near
  // copies of one vector (3 more so than 1); windows 0 and 2 hold alternating orthogonal vectors.
  const windowOf = (p: number) => Math.floor(Math.floor(p / 6) / 3) * 2 + Math.floor((p % 6) / 3);
  const hidden = patchHidden(6, 4, (p) => {
    const w = windowOf(p);
    if (w === 1) return [1, 0.2 * (p % 2), 0, 0];
    if (w === 3) return [1, 0.05 * (p % 3), 0, 0];
    return p % 2 === 0 ? [1, 0, 0, 0] : [0, 0, 1, 0];
  });

  it('scores windows by mean off-diagonal cosine similarity', () => {
    const similarities = windowSimilarities(hidden, 4, 6, 3);
    assert.equal(similarities.length, 4);
    assert.ok(similarities[1]! > 0.97 && similarities[3]! > similarities[1]!);
    // Window 0 holds patches 0,1,2,6,7,8,12,13,14: six even, three odd; of the 72 ordered pairs,
    // 6*5 + 3*2 = 36 are alike (cosine 1) and the rest orthogonal (cosine 0).
    assert.ok(Math.abs(similarities[0]! - 36 / 72) < 1e-12, `window 0: ${similarities[0]}`);
  });

  it('merges windows at or above the threshold, most similar first, then unmerged patches in raster order', () => {
    const merge = vision.merge([{ hidden, hiddenSize: 4, gridSize: 6 }])![0]!;
    assert.deepEqual(merge.mergedWindows, [3, 1]);
    const window = (wy: number, wx: number) => [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => (wy * 3 + Math.floor(i / 3)) * 6 + wx * 3 + (i % 3));
    const unmerged = Array.from({ length: 36 }, (_, p) => p).filter((p) => windowOf(p) === 0 || windowOf(p) === 2);
    assert.deepEqual(groupsOf(merge.plan), [window(1, 1), window(0, 1), ...unmerged.map((p) => [p])]);
    assert.equal(groupsOf(merge.plan).length, 36 - 2 * 8);
  });

  it('merges nothing when no window reaches the threshold', () => {
    const dissimilar = patchHidden(6, 4, (p) => (p % 2 === 0 ? [1, 0, 0, 0] : [0, 0, 1, 0]));
    assert.equal(vision.merge([{ hidden: dissimilar, hiddenSize: 4, gridSize: 6 }]), undefined);
  });

  it('on a grid that is not a multiple of the window, leaves the leftover rows and columns unmerged', () => {
    const same = patchHidden(4, 2, () => [1, 1]);
    const merge = mustDrop({ mergeThreshold: 0.5 }).vision!.merge([{ hidden: same, hiddenSize: 2, gridSize: 4 }])![0]!;
    assert.deepEqual(merge.mergedWindows, [0]);
    assert.deepEqual(groupsOf(merge.plan), [[0, 1, 2, 4, 5, 6, 8, 9, 10], [3], [7], [11], [12], [13], [14], [15]]);
  });

  it('over several crops, every crop merges the fewest count any crop reaches, its own windows', () => {
    const twoSimilar = patchHidden(6, 4, (p) => (Math.floor(Math.floor(p / 6) / 3) * 2 + Math.floor((p % 6) / 3) < 2 ? [1, 0, 0, 0] : p % 2 === 0 ? [1, 0, 0, 0] : [0, 0, 1, 0]));
    const merges = vision.merge([
      { hidden, hiddenSize: 4, gridSize: 6 }, // windows 1 and 3 reach the threshold
      { hidden: twoSimilar, hiddenSize: 4, gridSize: 6 }, // windows 0 and 1 do, equally
    ])!;
    assert.deepEqual(merges.map((m) => m.mergedWindows), [[3, 1], [0, 1]]);
    const oneSimilar = patchHidden(6, 4, (p) => (Math.floor(Math.floor(p / 6) / 3) * 2 + Math.floor((p % 6) / 3) === 2 ? [1, 0, 0, 0] : p % 2 === 0 ? [1, 0, 0, 0] : [0, 0, 1, 0]));
    const fewest = vision.merge([{ hidden, hiddenSize: 4, gridSize: 6 }, { hidden: oneSimilar, hiddenSize: 4, gridSize: 6 }])!;
    assert.deepEqual(fewest.map((m) => m.mergedWindows), [[3], [2]]);
    assert.equal(groupsOf(fewest[0]!.plan).length, groupsOf(fewest[1]!.plan).length);
  });

  it('keys: the top ceil(0.08 N) patches by head-mean class attention, ascending', () => {
    // Two heads over S = 1 + 25 tokens; patch j scores (j * 7) mod 25, so the top two are 7 (24) and 14 (23).
    const S = 26;
    const attention = new Float32Array(2 * S);
    for (let h = 0; h < 2; h++) for (let j = 0; j < 25; j++) attention[h * S + 1 + j] = ((j * 7) % 25) / 100 + h * 0.001;
    assert.deepEqual(vision.keyTokens(attention, 2, S), [7, 14]); // ceil(0.08 * 25) = 2
  });
});

describe('mustdrop prefill rule', () => {
  it('drops a token only when both its global share and its best single attention are low; keys stay', async () => {
    const strategy = mustDrop({ globalThr: 0.2, individualThr: 0.5 });
    // One head; 1 token before 4 image tokens, then 2 text rows; keys are all 7 tokens.
    const sequence = { hidden: new Float32Array(0), positions: [0, 1, 2, 3, 4, 5, 6], imageStart: 1, imageTokens: [0, 1, 2, 3], keyTokens: [3] };
    // Text-row attention over image columns: token 0 strong globally, token 1 strong once (0.6),
    // tokens 2 and 3 weak (3 is a key token).
    const rows = [
      [0.1, 0.4, 0.6, 0.05, 0.05, 0.3, 0.0],
      [0.1, 0.4, 0.0, 0.05, 0.05, 0.2, 0.2],
    ];
    const plan = await strategy.onBoundary({
      layer: 3,
      originalImageTokens: 4,
      sequence,
      numHeads: 1,
      attention: Float32Array.from(rows.flat()),
      scoresAtNextLayer: () => Promise.reject(new Error('unused')),
    });
    assert.deepEqual(strategy.attentionRowsBefore!(3, sequence), [5, 6]);
    assert.deepEqual(plan, { keep: [0, 1, 3] });
  });

  it('uses the shipped thresholds per budget, and the paper layers by default', () => {
    assert.deepEqual(MUSTDROP_BUDGETS[64], { globalThr: 0.011, individualThr: 0.01 });
    const strategy = mustDrop({ budget: 128 });
    assert.equal(strategy.options.globalThr, 0.0012);
    assert.deepEqual(strategy.boundaries, [3, 7, 11, 15]);
    assert.equal(strategy.positionPolicy, 'reindex');
    assert.equal(strategy.decodePositions, 'cache-length');
    assert.deepEqual(strategy.shrinkCachesAfterPrefill, { from: 2, to: 15 });
    assert.equal(mustDrop({ correctedDecodePositions: true }).decodePositions, 'continue-cache');
    assert.equal(mustDrop({ stages: ['vision', 'prefill'] }).shrinkCachesAfterPrefill, undefined);
    assert.equal(mustDrop({ stages: ['prefill'] }).vision, undefined);
    assert.deepEqual(mustDrop({ stages: ['vision'] }).boundaries, []);
  });

  it('rejects bad options with a clear error', () => {
    const fails = (options: Parameters<typeof mustDrop>[0], ...mentions: RegExp[]) =>
      assert.throws(() => mustDrop(options), (e: unknown) => e instanceof OptionError && mentions.every((m) => m.test(e.message)));
    fails({ budget: 100 as 64 }, /mustdrop budget/, /192, 128 or 64/, /100/);
    fails({ budget: 64, globalThr: 0.1, individualThr: 0.1 }, /not both/);
    fails({ globalThr: 0.1 }, /both thresholds/);
    fails({ globalThr: 1.5, individualThr: 0.1 }, /global_thr in \[0, 1\]/, /1\.5/);
    fails({ layers: [6, 2] }, /increasing/);
    fails({ stages: ['vision', 'encode' as 'vision'] }, /mustdrop stages/);
    assert.throws(() => mustDrop().checkModel(8), (e: unknown) => e instanceof OptionError && /\[2, 6, 10, 14\]/.test(e.message));
  });
});

describe('mustdrop cache policy', () => {
  const arch = CONFORMANCE_ARCH;
  let runtime: LlavaRuntime;
  before(async () => {
    runtime = await LlavaRuntime.create(arch, randomWeights(4));
  });
  after(() => runtime.release());

  async function prefilled(correctedDecodePositions: boolean) {
    const next = mulberry32(2);
    const D = arch.text.hiddenSize;
    const T = 20;
    const cache = new KvCache(arch.text.numLayers, arch.text.numKvHeads, arch.text.headDim);
    const strategy = mustDrop({ globalThr: 0.1, individualThr: 0.3, layers: [1, 3], stages: ['prefill', 'decode'], correctedDecodePositions });
    const start = {
      hidden: Float32Array.from({ length: T * D }, () => next() * 2 - 1),
      positions: Array.from({ length: T }, (_, i) => i),
      imageStart: 2,
      imageTokens: Array.from({ length: 12 }, (_, i) => i),
      keyTokens: [],
    };
    const result = await prefill(runtime, start, cache, strategy);
    return { cache, result, strategy };
  }

  it('shrinks the caches of layers from the first to the last pruning layer to the final tokens', async () => {
    const { cache, result } = await prefilled(false);
    const counts = result.reduction!.imageTokensPerLayer;
    const finalLength = 20 - 12 + result.reduction!.stages.at(-1)!.keptImageTokens.length;
    assert.ok(counts[4]! < 12, `something was dropped: ${counts.join(',')}`);
    const lengths = cache.layers.map((kv) => kv.length);
    assert.deepEqual(lengths, [20, finalLength, finalLength, finalLength, finalLength, finalLength]);
    // Layer 1 processed the full sequence at positions 0..19 and keeps the survivors' positions.
    assert.equal(cache.layer(1).positions.at(-1), 19);
    assert.equal(cache.layer(4).positions.at(-1), finalLength - 1);
  });

  it('decodes at the cache length as the code does, or right after the last cached position when corrected', async () => {
    const faithful = await prefilled(false);
    const corrected = await prefilled(true);
    const step = async (setup: typeof faithful) => {
      await runtime.decoderLayers(0, arch.text.numLayers, { hidden: runtime.embedTokens([5]), positions: [20] }, setup.cache, {
        positions: setup.strategy.decodePositions!,
      });
      return setup.cache.layers.map((kv) => kv.positions.at(-1));
    };
    const finalLength = faithful.cache.layer(5).length;
    assert.deepEqual(await step(faithful), [20, finalLength, finalLength, finalLength, finalLength, finalLength]);
    const correctedPositions = await step(corrected);
    assert.equal(correctedPositions[0], 20);
    assert.equal(correctedPositions[1], 20, 'layer 1 keys carry the unpruned positions');
    assert.equal(correctedPositions[5], finalLength - 1 + 1);
  });
});
