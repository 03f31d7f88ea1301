// End-to-end benchmarks on tiny custom configs with shrunken roofline measurements: the JSON rows
// must hold finite, positive timings, rates and speedups, one image-token count per layer, and the
// run must report what it was asked to do; a tiny LLaVA-NeXT runs its anyres image with a profile.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBench, type BenchProgress } from './run-bench.js';
import { benchJson, formatBenchTable } from './table.js';

const VISION = { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 3, num_attention_heads: 2, image_size: 28, patch_size: 14 };
const TEXT = { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 4, num_attention_heads: 4, vocab_size: 64, max_position_embeddings: 128 };
const TINY = { model_type: 'llava', image_token_index: 60, vision_config: VISION, text_config: TEXT };
/** 32 decoder layers, as the 7B's, so that a cut scales the papers' lists; a 6x6 grid for MustDrop's windows. */
const DEEP = {
  ...TINY,
  vision_config: { ...VISION, image_size: 84 },
  text_config: { ...TEXT, num_hidden_layers: 32 },
};
/** LLaVA-NeXT on a 3x3-patch tower (MustDrop's windows fit each crop), pinpoints in 42-pixel tiles. */
const NEXT = {
  ...DEEP,
  model_type: 'llava_next',
  image_grid_pinpoints: [
    [42, 84],
    [84, 42],
    [84, 84],
  ],
  vision_config: { ...VISION, image_size: 42 },
};
const ROOFLINE = { matmulRows: 32, matmulWidth: 64, bandwidthBytes: 2 ** 20, runs: 3 };

function assertPositive(values: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(values)) {
    assert.ok(typeof value === 'number' && Number.isFinite(value) && value > 0, `${name} = ${String(value)}`);
  }
}

describe('runBench', () => {
  it('runs a tiny config end to end and reports finite, positive rates', async () => {
    const phases = new Set<BenchProgress['phase']>();
    const result = await runBench({
      preset: 'tiny',
      config: TINY,
      layers: 2,
      runs: 2,
      decodeTokens: 3,
      roofline: ROOFLINE,
      onProgress: (p) => phases.add(p.phase),
    });
    const json = benchJson(result);
    assert.deepEqual(Object.keys(json), ['rooflineGflops', 'bandwidthGBs', 'preset', 'layers', 'rows']);
    assert.equal(json.preset, 'tiny');
    assert.equal(json.layers, 2);
    assert.equal(json.rows.length, 1);
    const { strategy, label, options, imageTokensPerLayer, speedup, othersCpuShare, ...timings } = json.rows[0]!;
    assert.deepEqual([strategy, label, options, imageTokensPerLayer, speedup], ['none', 'none', {}, [4, 4], 1]);
    assertPositive({ ...timings, rooflineGflops: json.rooflineGflops, bandwidthGBs: json.bandwidthGBs });
    assert.ok(othersCpuShare >= 0 && othersCpuShare <= 1);
    // 4 image tokens (2x2 patches) and 40 text tokens around the marker.
    assert.deepEqual([result.imageTokens, result.textTokens, result.promptTokens], [4, 40, 44]);
    assert.deepEqual([...phases], ['roofline', 'load', 'run']);
    assert.match(formatBenchTable(result), /decoder layers: 2 of 4/);
  });

  it('compares none, fastv, pdrop and mustdrop at three budgets on a cut decoder', async () => {
    const result = await runBench({
      preset: 'deep',
      config: DEEP,
      layers: 6,
      runs: 1,
      decodeTokens: 2,
      reduce: 'none,fastv,pdrop,mustdrop',
      roofline: ROOFLINE,
    });
    const json = benchJson(result);
    assert.deepEqual(
      json.rows.map((r) => r.label),
      ['none', 'fastv K=1 R=0.5', 'pdrop 2,3,5', 'mustdrop 0,1,2,3 budget 192', 'mustdrop 0,1,2,3 budget 128', 'mustdrop 0,1,2,3 budget 64'],
    );
    for (const row of json.rows) {
      assertPositive({ visionMs: row.visionMs, prefillMs: row.prefillMs, speedup: row.speedup, predictedSpeedup: row.predictedSpeedup });
      assert.equal(row.imageTokensPerLayer.length, 6);
      assert.equal(row.averageImageTokensAfterPruning !== undefined, row.strategy === 'mustdrop');
    }
    // 36 image tokens (6x6 patches): FastV keeps 18 after layer 1; PyramidDrop 18, 9, 4.
    assert.deepEqual(json.rows[1]!.imageTokensPerLayer, [36, 18, 18, 18, 18, 18]);
    assert.deepEqual(json.rows[2]!.imageTokensPerLayer, [36, 36, 18, 9, 9, 4]);
    assert.equal(json.rows[0]!.predictedSpeedup, 1);
    const table = formatBenchTable(result);
    assert.match(table, /layer lists scaled to 6 of 32 layers.*--pdrop-layers 8,16,24 → 2,3,5/);
    assert.match(table, /36→18→9→4/);
    assert.match(table, /will differ on trained weights/);
  });

  it('feeds LLaVA-NeXT an anyres image and profiles every strategy’s prefill', async () => {
    const result = await runBench({
      preset: 'next',
      config: NEXT,
      layers: 6,
      runs: 1,
      decodeTokens: 2,
      reduce: 'none,fastv,pdrop,mustdrop',
      mustdropBudgets: '64',
      profile: true,
      roofline: ROOFLINE,
    });
    // Default image: 2x2 tiles of the tower's side. Base 9 tokens + a 6x6 grid with a newline per row.
    assert.deepEqual(result.image, { width: 84, height: 84, tileRows: 2, tileCols: 2, crops: 5, tokens: 51 });
    const json = benchJson(result);
    assert.deepEqual(json.rows.map((r) => r.label), ['none', 'fastv K=1 R=0.5', 'pdrop 2,3,5', 'mustdrop 0,1,2,3 budget 64']);
    assert.deepEqual(json.rows[0]!.imageTokensPerLayer, [51, 51, 51, 51, 51, 51]);
    assert.deepEqual(json.rows[1]!.imageTokensPerLayer, [51, 26, 26, 26, 26, 26]);
    assert.deepEqual(json.rows[2]!.imageTokensPerLayer, [51, 51, 25, 12, 12, 6]);
    // MustDrop's NeXT mode: 5 flat crops of 9 patches, merged, no newlines.
    assert.ok(json.rows[3]!.imageTokensPerLayer[0]! <= 45);
    for (const row of json.rows) {
      assertPositive({ speedup: row.speedup, predictedSpeedup: row.predictedSpeedup });
      const profile = row.profile!;
      assert.equal(profile.attentionMsPerLayer.length, 6);
      assert.ok(profile.attentionMsPerLayer.every((ms) => ms > 0));
      assertPositive({ attentionInput: profile.parts['attention-input'], attention: profile.parts.attention, lmHead: profile.parts['lm-head'] });
      assert.ok(profile.parts.js >= 0 && profile.parts.js < row.prefillMs);
      // Only PyramidDrop runs extra graphs to score.
      assert.equal(profile.parts.scores > 0, row.strategy === 'pdrop', row.label);
    }
    assert.deepEqual(
      json.attentionScaling!.map((t) => [t.kernel, t.tokens]),
      [['gqa-blocks', 49], ['gqa-blocks', 91], ['gqa', 49], ['gqa', 91], ['matmul', 49], ['matmul', 91]],
    );
    const table = formatBenchTable(result);
    assert.match(table, /image: 84x84 \(LLaVA-NeXT anyres\): base \+ 2x2 tiles = 5 crops through the tower, 51 image tokens/);
    assert.match(table, /mustdrop: its code’s NeXT mode/);
    assert.match(table, /prefill profile/);
    assert.match(table, /gqa-blocks growth/);
  });
});
