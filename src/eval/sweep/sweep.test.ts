// Budget matching against the papers' arithmetic, and the table and plot of a sweep.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { OptionError } from '../../errors.js';
import { reducerFromFlags } from '../../reduce/registry.js';
import { sweepSvg, writeSweepPng } from './plot.js';
import { sweepCsv, sweepMarkdown, type SweepRow } from './report.js';
import { DEFAULT_SWEEP_METHODS, matchedSetting, scaleLayers, sweepSettings, type SweepSetting } from './settings.js';

/** Image tokens entering each decoder layer under a setting's plan. */
function perLayer(s: SweepSetting, imageTokens: number, layers: number): number[] {
  return reducerFromFlags(s.method, { ...s.flags, reduce: s.method })!.plannedImageTokensPerLayer!(imageTokens, layers);
}

describe('sweep settings', () => {
  it('LLaVA-1.5-7B (32 layers, 576 tokens): FastV K=2 with R giving the budget on average; PyramidDrop on 2,8,16', () => {
    const settings = sweepSettings(['none', 'fastv', 'pdrop', 'mustdrop'], [192, 128, 64], 32, 576).settings;
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
    const settings = sweepSettings(['fastv', 'pdrop', 'mustdrop'], [64], 16, 2880).settings;
    assert.equal(settings.find((s) => s.label === 'fastv-64')!.targetAverage, 320);
    assert.equal(settings.find((s) => s.label === 'fastv-64')!.flags.fastvK, 1);
    assert.deepEqual(settings.find((s) => s.label === 'pdrop-64')!.flags.pdropLayers, [1, 4, 8]);
    assert.deepEqual(settings.find((s) => s.label === 'mustdrop-64')!.flags.mustdropLayers, [1, 3, 5, 7]);
    assert.deepEqual(scaleLayers([2, 6, 10, 14], 4, 0, 3), [0, 1, 2]);
  });
  it('refuses unknown methods; a MustDrop budget without shipped thresholds is unreachable', () => {
    assert.deepEqual(unreachable(['mustdrop'], [100], 32, 576), ['mustdrop-100']);
    assert.throws(() => sweepSettings(['tome'], [64], 32, 576), OptionError);
    assert.throws(() => sweepSettings(['mustdrop-vision+pdrop'], [64], 32, 576), OptionError);
  });
  it('runs none, FastV, PyramidDrop and MustDrop unless asked for more', () => {
    assert.deepEqual(DEFAULT_SWEEP_METHODS, ['none', 'fastv', 'pdrop', 'mustdrop']);
  });
  it('LLaVA-1.5-7B: DART at its code\'s M = B and K = 2 (kept 196/132/68, dart.md 5), DivPrune keeping B', () => {
    const settings = sweepSettings(['dart', 'divprune'], [192, 128, 64], 32, 576).settings;
    const keptByDart: Record<number, number> = { 192: 196, 128: 132, 64: 68 };
    for (const s of settings.filter((x) => x.method === 'dart')) {
      assert.deepEqual(s.flags, { dartLayer: 2, dartMaxTokens: s.budget });
      const tokens = perLayer(s, 576, 32);
      assert.deepEqual(tokens.slice(0, 3), [576, 576, keptByDart[s.budget!]]);
      assert.equal(s.plannedAverage, (2 * 576 + 30 * keptByDart[s.budget!]!) / 32);
    }
    for (const s of settings.filter((x) => x.method === 'divprune')) {
      assert.deepEqual(s.flags, { divpruneKeep: s.budget });
      assert.equal(s.plannedAverage, s.budget);
    }
  });
  it('the default model (8 layers, 144 tokens): DART at K=1 with M = B/4; DivPrune on the target', () => {
    const settings = sweepSettings(['dart', 'divprune'], [192, 128, 64], 8, 144).settings;
    assert.deepEqual(settings.map((s) => s.targetAverage), [null, 48, 32, 16, 48, 32, 16]);
    // DART's rule counts the tokens kept after its layer (4 + 8 floor(M/8)), not the average: the
    // first layer sees all 144, so its average lies above the target.
    for (const [budget, kept] of [[192, 52], [128, 36], [64, 20]] as const) {
      const s = settings.find((x) => x.label === `dart-${budget}`)!;
      assert.deepEqual(s.flags, { dartLayer: 1, dartMaxTokens: budget / 4 });
      assert.deepEqual(perLayer(s, 144, 8), [144, ...Array<number>(7).fill(kept)]);
      assert.equal(s.plannedAverage, (144 + 7 * kept) / 8);
    }
    for (const s of settings.filter((x) => x.method === 'divprune')) {
      assert.deepEqual(perLayer(s, 144, 8), Array<number>(8).fill(s.targetAverage!));
      assert.equal(s.plannedAverage, s.targetAverage);
    }
  });
  it("DivPrune's count is Python's round of B/576 x N (half to even); budgets DART or DivPrune cannot reach are refused", () => {
    assert.deepEqual(sweepSettings(['divprune'], [10, 6], 8, 144).settings.slice(1).map((s) => s.flags.divpruneKeep), [2, 2]);
    assert.deepEqual(unreachable(['divprune'], [1], 8, 144), ['divprune-1']);
    // M = 4 leaves each of the 8 pivots no token; M = 576 keeps 580 of 576 (the pivots come on top).
    assert.deepEqual(unreachable(['dart'], [16], 8, 144), ['dart-16']);
    assert.deepEqual(unreachable(['dart'], [576], 32, 576), ['dart-576']);
    assert.deepEqual(unreachable(['dart'], [64], 1, 576), ['dart-64']);
  });
  it('an 8-layer decoder on 144 image tokens: VisionZip splits B as 27:5 (D + C = B/4), SparseVLM at the shipped presets on layers 1,2,4,5; FastV and PyramidDrop cannot reach 64', () => {
    const plan = sweepSettings(['fastv', 'pdrop', 'visionzip', 'sparsevlm'], [192, 128, 64], 8, 144);
    const flags = (label: string) => plan.settings.find((s) => s.label === label)!.flags;
    assert.deepEqual([flags('visionzip-192'), flags('visionzip-128'), flags('visionzip-64')], [
      { visionzipDominant: 40, visionzipContextual: 8 },
      { visionzipDominant: 27, visionzipContextual: 5 },
      { visionzipDominant: 14, visionzipContextual: 2 },
    ]);
    for (const budget of [192, 128, 64]) {
      const s = plan.settings.find((x) => x.label === `visionzip-${budget}`)!;
      assert.equal(s.plannedAverage, s.targetAverage, 'D + C tokens enter every layer');
      assert.deepEqual(flags(`sparsevlm-${budget}`), { sparsevlmPreset: budget, sparsevlmLayers: [1, 2, 4, 5] });
    }
    // K = 1 of 8 layers sees all 144 tokens: 18 on average before anything is dropped.
    assert.deepEqual(plan.unreachable.map((u) => `${u.method}-${u.budget}`), ['fastv-64', 'pdrop-64']);
    assert.match(plan.unreachable[0]!.reason, /FastV cannot reach 64 of 576/);
  });
  it("LLaVA-1.5-7B: VisionZip at its README's 162+30, 108+20, 54+10; SparseVLM at its presets on its own layers", () => {
    const settings = sweepSettings(['visionzip', 'sparsevlm'], [192, 128, 64], 32, 576).settings;
    assert.deepEqual(settings.filter((s) => s.method === 'visionzip').map((s) => [s.flags.visionzipDominant, s.flags.visionzipContextual]), [[162, 30], [108, 20], [54, 10]]);
    assert.deepEqual(settings.filter((s) => s.method === 'sparsevlm').map((s) => s.flags), [{ sparsevlmPreset: 192 }, { sparsevlmPreset: 128 }, { sparsevlmPreset: 64 }]);
  });
  it("--match mustdrop defers FastV and PyramidDrop, then sets them to MustDrop's measured average (4 layers, 144 tokens)", () => {
    const plan = sweepSettings(['none', 'fastv', 'pdrop', 'mustdrop'], [192, 64], 4, 144, 'mustdrop');
    assert.deepEqual(plan.settings.map((s) => s.label), ['none', 'mustdrop-192', 'mustdrop-64']);
    assert.deepEqual(plan.deferred, [{ method: 'fastv', budget: 192 }, { method: 'fastv', budget: 64 }, { method: 'pdrop', budget: 192 }, { method: 'pdrop', budget: 64 }]);
    assert.deepEqual(plan.unreachable, []);
    // MustDrop measured 77.7 on average: FastV K=1 keeps round((4 x 77.7 - 144) / 3) = 56 after it, (144 + 3 x 56) / 4 = 78.
    const fastv = matchedSetting({ method: 'fastv', budget: 192 }, 77.7, plan) as SweepSetting;
    assert.deepEqual(fastv.flags, { fastvK: 1, fastvR: Number((1 - 56 / 144).toFixed(6)) });
    assert.equal(fastv.plannedAverage, 78);
    assert.equal(fastv.targetAverage, 77.7);
    assert.equal(fastv.label, 'fastv-192-as-mustdrop');
    const pdrop = matchedSetting({ method: 'pdrop', budget: 192 }, 77.7, plan) as SweepSetting;
    assert.deepEqual(pdrop.flags.pdropLayers, [1, 2, 3]);
    assert.ok(Math.abs(pdrop.plannedAverage! - 77.7) < 1, `average ${pdrop.plannedAverage}`);
    // Below 36 (every token through layer 1 of 4) neither can follow.
    const low = matchedSetting({ method: 'fastv', budget: 64 }, 30, plan);
    assert.ok('reason' in low);
    assert.match(low.reason, /FastV cannot reach 64 of 576 .* \(MustDrop's measured average at 64\)$/);
  });
  it('--match mustdrop needs MustDrop in the sweep', () => {
    assert.throws(() => sweepSettings(['fastv', 'pdrop'], [64], 4, 144, 'mustdrop'), OptionError);
  });
});

function unreachable(...args: Parameters<typeof sweepSettings>): string[] {
  return sweepSettings(...args).unreachable.map((u) => `${u.method}-${u.budget}`);
}

describe('sweep table and plot', () => {
  const settings = sweepSettings(['fastv', 'pdrop'], [192, 64], 32, 576).settings;
  const rows: SweepRow[] = settings.map((setting, i) => ({ setting, n: 10, score: 50 - i, flopsRatio: 1 - i * 0.15, averageImageTokens: setting.plannedAverage, prefillMs: 100 - i, answersFile: `${setting.label}.jsonl` }));
  it('Markdown and CSV, one row per setting', () => {
    const md = sweepMarkdown(rows, 'accuracy (%)').split('\n');
    assert.equal(md.length, 2 + rows.length + 1);
    assert.match(md[2]!, /^\| none \|  \| full \| 10 \| 50\.00 \| 1\.000 \|  \| 576\.0 \| 100\.0 \|$/);
    const csv = sweepCsv(rows).trim().split('\n');
    assert.equal(csv[0], 'method,budget,setting,n,score,flops_ratio,target_avg_image_tokens,avg_image_tokens,prefill_ms');
    assert.equal(csv.length, rows.length + 1);
  });
  it('lists the budgets a method cannot reach under the table, with the reason', () => {
    const { unreachable } = sweepSettings(['fastv'], [64], 8, 144);
    const md = sweepMarkdown(rows, 'accuracy (%)', unreachable).trim().split('\n');
    assert.match(md.at(-1)!, /^- not run: fastv at 64 \(FastV cannot reach 64 of 576 here: K = 1 of 8 layers already average more than 16\.0 tokens\)$/);
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
