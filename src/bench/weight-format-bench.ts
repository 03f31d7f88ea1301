// The weight-format benchmark: one llava-hf checkpoint from disk in one weight format, measured as a
// user meets it. The first load converts and quantises the checkpoint into an empty converted-model
// cache, the second reads that cache, each in a process of its own when the caller can start one; then `none` and each strategy run in interleaved rounds (run-bench.ts). The
// format's own MatMul rate and the memory bandwidth, measured in the same process, are the roofline.
// The CLI runs one process per format (cli/bench-formats.ts), so its peak RSS is that format's alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadLlavaConfig } from '../config/llava.js';
import { OptionError } from '../errors.js';
import { modelWeightBytes } from '../flops/index.js';
import { loadModel, type LlavaModel } from '../generate/model.js';
import { linearPlan, type WeightFormat } from '../quant/format.js';
import { measureFormatMatMul, type FormatRooflineOptions } from './format-roofline.js';
import { measureBandwidth, type RooflineOptions } from './roofline.js';
import { benchInput, compare, DEFAULT_TEXT_TOKENS, timedRounds, type BenchProgress, type BenchRow } from './run-bench.js';
import { median } from './stats.js';
import { benchStrategies, type StrategyFlags } from './strategies.js';

export interface FormatBenchOptions extends StrategyFlags {
  /** A llava-hf checkpoint directory. */
  readonly model: string;
  readonly weights: WeightFormat;
  readonly runs: number;
  readonly decodeTokens: number;
  readonly onProgress?: (progress: BenchProgress) => void;
  /**
   * Loads the checkpoint in this format from `cacheDir` in a process of its own (the CLI runs
   * `visdrop cache warm`), as a user's next process meets the cache: a second load in this process
   * reuses the memory the first one freed and is faster than that (a 7B in q8: 10.7 s against 16.1).
   * Without it (tests), both loads run here.
   */
  readonly loadInNewProcess?: (cacheDir: string) => NewProcessLoad;
  readonly roofline?: FormatRooflineOptions & RooflineOptions;
}

/** A load timed in a process of its own. */
export interface NewProcessLoad {
  readonly loadMs: number;
  readonly cachedGraphs: number;
  readonly peakRssBytes: number;
}

export interface FormatBenchResult {
  readonly model: string;
  readonly weights: WeightFormat;
  /** GFLOP/s of this format's Linear kernel on the 7B up projection at prefill shape, and GB/s read. */
  readonly formatMatmulGflops: number;
  readonly bandwidthGBs: number;
  /** Converting the checkpoint (into an empty cache), and reading the cache; null for f32, which is not cached. */
  readonly firstLoadMs: number;
  readonly cachedLoadMs: number | null;
  /** Whether the loads ran in processes of their own (`loadInNewProcess`) or both in this one. */
  readonly loadsInNewProcesses: boolean;
  readonly weightBytes: number;
  readonly decodeBytesPerToken: number;
  readonly peakRssBytes: number;
  readonly promptTokens: number;
  /** `none` first. */
  readonly rows: readonly BenchRow[];
}

/** f32 weights of the model (times the load's transient copies) must fit in this share of memory. */
const F32_MEMORY_SHARE = 0.9;
const F32_PEAK_FACTOR = 1.2;

export async function runFormatBench(options: FormatBenchOptions): Promise<FormatBenchResult> {
  linearPlan({ weights: options.weights }); // an unknown format fails before anything runs
  const arch = loadLlavaConfig(options.model);
  const { strategies } = benchStrategies(options, arch.text.numLayers, arch.text.numLayers);
  if (options.weights === 'f32' && F32_PEAK_FACTOR * modelWeightBytes(arch) > F32_MEMORY_SHARE * totalmem()) {
    throw new OptionError({
      subject: '--weights f32',
      expected: `f32 weights that fit in ${(F32_MEMORY_SHARE * totalmem() / 1e9).toFixed(1)} GB of memory`,
      found: `${(modelWeightBytes(arch) / 1e9).toFixed(1)} GB for ${options.model}`,
      hint: 'use q8 or q4',
    });
  }
  const report = options.onProgress ?? (() => {});
  report({ phase: 'roofline', done: 0, total: 2, label: `${options.weights} MatMul rate` });
  const formatMatmulGflops = await measureFormatMatMul(options.weights, options.roofline);
  report({ phase: 'roofline', done: 1, total: 2, label: 'memory bandwidth' });
  const bandwidthGBs = await measureBandwidth(options.roofline);

  // An empty cache of its own, so the first load converts and the second reads what it wrote.
  const cacheDir = mkdtempSync(join(tmpdir(), 'visdrop-bench-cache-'));
  let model: LlavaModel | null = null;
  try {
    const load = () =>
      loadModel(options.model, {
        weights: options.weights,
        cache: { dir: cacheDir },
        onProgress: (p) => report({ phase: 'load', done: p.done, total: p.total, label: p.label }),
      });
    let firstLoadMs: number;
    let cachedLoadMs: number | null = null;
    let loadPeakRssBytes = 0;
    const fresh = options.loadInNewProcess;
    if (fresh && options.weights !== 'f32') {
      const first = fresh(cacheDir);
      const cached = fresh(cacheDir);
      if (cached.cachedGraphs === 0) throw new Error('the second load read nothing from the cache the first had just written');
      [firstLoadMs, cachedLoadMs, loadPeakRssBytes] = [first.loadMs, cached.loadMs, Math.max(first.peakRssBytes, cached.peakRssBytes)];
      model = await load();
    } else {
      model = await load();
      firstLoadMs = model.loadMs;
      if (options.weights !== 'f32') {
        await model.release();
        model = null;
        model = await load();
        if (model.cachedGraphs === 0) throw new Error('the second load read nothing from the cache it had just written');
        cachedLoadMs = model.loadMs;
      }
    }
    const runtime = model.runtime;
    const input = benchInput(arch, DEFAULT_TEXT_TOKENS);
    const { samples } = await timedRounds(runtime, input, strategies, { runs: options.runs, decodeTokens: options.decodeTokens, profile: false, report });
    const baseline = samples[0]![0]!;
    const baselinePrefillMs = median(samples[0]!.map((g) => g.timings.prefillMs));
    const rows = strategies.map((strategy, i) =>
      compare(arch, strategy, samples[i]!, { imageTokens: baseline.imageTokens, textTokens: DEFAULT_TEXT_TOKENS, prefillMs: baselinePrefillMs }),
    );
    return {
      model: options.model,
      weights: options.weights,
      formatMatmulGflops,
      bandwidthGBs,
      firstLoadMs,
      cachedLoadMs,
      loadsInNewProcesses: fresh !== undefined && options.weights !== 'f32',
      weightBytes: runtime.weightBytes,
      decodeBytesPerToken: runtime.decodeWeightBytes,
      peakRssBytes: Math.max(loadPeakRssBytes, process.resourceUsage().maxRSS * 1024),
      promptTokens: baseline.promptTokens,
      rows,
    };
  } finally {
    await model?.release();
    rmSync(cacheDir, { recursive: true, force: true });
  }
}
