// Budget matching against the papers' arithmetic, and the table and plot of a sweep.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { OptionError } from '../../errors.js';
import { sweepSvg, writeSweepPng } from './plot.js';
import { sweepCsv, sweepMarkdown, type SweepRow } from './report.js';
import { scaleLayers, sweepSettings } from './settings.js';

describe('sweep settings', () => {
  it('LLaVA-1.5-7B (32 layers, 576 tokens): FastV K=2 with R giving the budget on average; PyramidDrop on 2,8,16', () => {
    const settings = sweepSettings(['none', 'fastv', 'pdrop', 'mustdrop'], [192, 128, 64], 32, 576);
    assert.deepEqual(settings.map((s) => s.label), ['none', 'fastv-192', 'fastv-128', 'fastv-64', 'pdrop-192', 'pdrop-128', 'pdrop-64', 'mustdrop-192', 'mustdrop-128', 'mustdrop-64']);
    // FastV at 64: (2 x 576 + 30 x kept) / 32 = 64 -> kept = round(29.87) = 30 -> average (1152 + 900) / 32 = 64.125.
    const fastv64 = settings.find((s) => s.label === 'fastv-64')!;
    assert.equal(fastv64.flags.fastvK, 2);
    assert.equal(fastv64.plannedAverage, (2 * 576 + 30 * 30) / 32);
    // The author's example (issue #29): layers 2,8,16 and lambda 0.19 average 62.9 ~ 64.
    const pdrop64 = settings.find((s) => s.label === 'pdrop-64')!;
    assert.deepEqual(pdrop64.flags.pdropLayers, [2, 8, 16]);
    assert.ok(Math.abs(pdrop64.plannedAverage! - 64) < 2, `average ${pdrop64.plannedAverage}`);
    assert.ok(Math.abs(pdrop64.flags.pdropLambda! - 0.19) < 0.01, `lambda ${pdrop64.flags.pdropLambda}`);
    const must = settings.find((s) => s.label === 'mustdrop-128')!;
    assert.deepEqual(must.flags, { mustdropBudget: 128 });
    for (const s of settings.filter((x) => x.method !== 'none' && x.method !== 'mustdrop')) {
      assert.ok(Math.abs(s.plannedAverage! - s.targetAverage!) / s.targetAverage! < 0.05, `${s.label}: ${s.plannedAverage} for ${s.targetAverage}`);
    }
  });
  it("scales budgets to the model's image tokens and layer lists to its depth", () => {
    const settings = sweepSettings(['fastv', 'pdrop', 'mustdrop'], [64], 16, 2880);
    assert.equal(settings.find((s) => s.label === 'fastv-64')!.targetAverage, 320);
    assert.equal(settings.find((s) => s.label === 'fastv-64')!.flags.fastvK, 1);
    assert.deepEqual(settings.find((s) => s.label === 'pdrop-64')!.flags.pdropLayers, [1, 4, 8]);
    assert.deepEqual(settings.find((s) => s.label === 'mustdrop-64')!.flags.mustdropLayers, [1, 3, 5, 7]);
    assert.deepEqual(scaleLayers([2, 6, 10, 14], 4, 0, 3), [0, 1, 2]);
  });
  it('refuses a MustDrop budget without shipped thresholds, and unknown methods', () => {
    assert.throws(() => sweepSettings(['mustdrop'], [100], 32, 576), OptionError);
    assert.throws(() => sweepSettings(['sparsevlm'], [64], 32, 576), OptionError);
  });
});

describe('sweep table and plot', () => {
  const settings = sweepSettings(['fastv', 'pdrop'], [192, 64], 32, 576);
  const rows: SweepRow[] = settings.map((setting, i) => ({ setting, n: 10, score: 50 - i, flopsRatio: 1 - i * 0.15, averageImageTokens: setting.plannedAverage, prefillMs: 100 - i, answersFile: `${setting.label}.jsonl` }));
  it('Markdown and CSV, one row per setting', () => {
    const md = sweepMarkdown(rows, 'accuracy (%)').split('\n');
    assert.equal(md.length, 2 + rows.length + 1);
    assert.match(md[2]!, /^\| none \|  \| full \| 10 \| 50\.00 \| 1\.000 \|  \| 576\.0 \| 100\.0 \|$/);
    const csv = sweepCsv(rows).trim().split('\n');
    assert.equal(csv[0], 'method,budget,setting,n,score,flops_ratio,target_avg_image_tokens,avg_image_tokens,prefill_ms');
    assert.equal(csv.length, rows.length + 1);
  });
  it('an SVG with one line per method and the no-reduction point, and its PNG', async () => {
    const svg = sweepSvg(rows, 'synth', 'accuracy (%)');
    assert.equal((svg.match(/<polyline/g) ?? []).length, 2);
    assert.ok(svg.includes('no reduction'));
    const dir = mkdtempSync(join(tmpdir(), 'visdrop-sweep-'));
    try {
      await writeSweepPng(svg, join(dir, 'plot.png'));
      const meta = await sharp(readFileSync(join(dir, 'plot.png'))).metadata();
      assert.equal(meta.format, 'png');
      assert.ok(meta.width! >= 640);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
