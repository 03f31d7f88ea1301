// One end-to-end benchmark on a tiny custom config with shrunken roofline measurements: the JSON
// row must hold finite, positive timings and rates, and the run must report what it was asked to do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBench, type BenchProgress } from './run-bench.js';
import { benchJson, formatBenchTable } from './table.js';

const TINY = {
  model_type: 'llava',
  image_token_index: 60,
  vision_config: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 3, num_attention_heads: 2, image_size: 28, patch_size: 14 },
  text_config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 4, num_attention_heads: 4, vocab_size: 64, max_position_embeddings: 128 },
};

describe('runBench', () => {
  it('runs a tiny config end to end and reports finite, positive rates', async () => {
    const phases = new Set<BenchProgress['phase']>();
    const result = await runBench({
      preset: 'tiny',
      config: TINY,
      layers: 2,
      runs: 2,
      decodeTokens: 3,
      roofline: { matmulRows: 32, matmulWidth: 64, bandwidthBytes: 2 ** 20, runs: 3 },
      onProgress: (p) => phases.add(p.phase),
    });
    const json = benchJson(result);
    assert.deepEqual(Object.keys(json), ['rooflineGflops', 'bandwidthGBs', 'preset', 'layers', 'rows']);
    assert.equal(json.preset, 'tiny');
    assert.equal(json.layers, 2);
    assert.equal(json.rows.length, 1);
    const row = json.rows[0]!;
    assert.equal(row.strategy, 'none');
    for (const [name, value] of Object.entries({ ...row, rooflineGflops: json.rooflineGflops, bandwidthGBs: json.bandwidthGBs })) {
      if (name === 'strategy') continue;
      assert.ok(Number.isFinite(value) && (value as number) > 0, `${name} = ${String(value)}`);
    }
    // 4 image tokens (2x2 patches) and 40 text tokens around the marker.
    assert.deepEqual([result.imageTokens, result.textTokens, result.promptTokens], [4, 40, 44]);
    assert.deepEqual([...phases], ['roofline', 'load', 'run']);
    assert.match(formatBenchTable(result), /decoder layers: 2 of 4/);
  });
});
