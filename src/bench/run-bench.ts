// One benchmark: the machine's roofline, then generations of `none` and each strategy on seeded random
// weights and one fixed input (LLaVA-NeXT: every crop of an anyres image), in interleaved rounds after
// a warm-up (a run others disturbed is repeated); median prefills give each strategy's speedup, set
// against its full-accounting FLOPs. With `profile`, each prefill is broken into its parts too.
import { availableParallelism, loadavg, totalmem } from 'node:os';
import { OptionError } from '../errors.js';
import type { LlavaArch } from '../config/llava.js';
import { generate, type GenerationInput } from '../generate/loop.js';
import type { GenerationTimings } from '../generate/events.js';
import { randomWeights } from '../models/random-weights.js';
import { LlavaRuntime } from '../runtime/llava-runtime.js';
import type { TokenReducer } from '../reduce/types.js';
import { mulberry32 } from '../util/prng.js';
import { countFlops, decoderWeightBytes, modelWeightBytes, visionFlops } from '../flops/index.js';
import { measureAttentionScaling, type AttentionTiming } from './attention-scaling.js';
import { markCpu, othersShare } from './contention.js';
import { averageAfterPruning, averageProcessed, stageCounts } from './counts.js';
import { resolveBenchOptions, type BenchImage, type BenchOptionsInput } from './options.js';
import { medianProfile, PartRecorder, type PrefillProfile } from './profile.js';
import { cutDecoder, type RawLlavaConfig } from '../config/presets.js';
import { measureBandwidth, measureMatMul, type Roofline, type RooflineOptions } from './roofline.js';
import { median } from './stats.js';
import type { BenchStrategy, ScaledList } from './strategies.js';

export interface BenchProgress {
  readonly phase: 'roofline' | 'load' | 'run';
  readonly done: number;
  readonly total: number;
  readonly label: string;
}

export interface RunBenchOptions extends BenchOptionsInput {
  readonly onProgress?: (progress: BenchProgress) => void;
  /** Sizes of the roofline measurements (tests shrink them). */
  readonly roofline?: RooflineOptions;
  /** Text tokens in the prompt, split around the image marker; default 40. */
  readonly textTokens?: number;
}

/** One strategy's medians, its kept counts, and its speedup measured and predicted. */
export interface BenchRow {
  /** The reducer's name, `none` for the baseline. */
  readonly strategy: string;
  /** The name with the options that tell rows apart (strategies.ts strategyLabel). */
  readonly label: string;
  /** The reducer's options after defaults and scaling; {} for none. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly visionMs: number;
  readonly prefillMs: number;
  readonly decodeMsPerToken: number;
  /** The prefill's full-accounting FLOPs (flops/count.ts, decoder only) per second, in GFLOP/s. */
  readonly prefillGflops: number;
  /** Full-accounting prefill FLOPs over none's: the decoder, lm_head row and the strategy's scoring. */
  readonly flopsRatio: number;
  /** none's median prefill over this one's. */
  readonly speedup: number;
  /** 1 / flopsRatio: the speedup if every FLOP took the same time. */
  readonly predictedSpeedup: number;
  /** Image tokens entering each decoder layer, as the run kept them. */
  readonly imageTokensPerLayer: readonly number[];
  /** The image's tokens, after the vision merge if any, then after each drop (counts.ts stageCounts). */
  readonly stageCounts: readonly number[];
  /** Mean of imageTokensPerLayer: the tokens each layer really processed. */
  readonly averageImageTokens: number;
  /** MustDrop only: its paper's average, counted after each pruning layer (counts.ts). */
  readonly averageImageTokensAfterPruning?: number;
  /** Median share of the CPU others (processes, hypervisor) took during its timed vision and prefill (contention.ts). */
  readonly othersCpuShare: number;
  /** With `profile`: where its prefill's time went, part by part, the median over the timed runs. */
  readonly profile?: PrefillProfile;
}

export interface BenchResult {
  readonly roofline: Roofline;
  /** Cores, and the 1-minute load average when the bench began: other work skews every timing. */
  readonly machine: { readonly cores: number; readonly loadAverage: number };
  /**
   * Share of the CPU others took while the roofline was measured and at most in one kept timed run
   * (contention.ts), and how many timed runs were repeated because others took more than DISTURBED_SHARE.
   */
  readonly contention: { readonly roofline: number; readonly worstRun: number; readonly repeatedRuns: number };
  readonly preset: string;
  readonly layers: number;
  readonly totalLayers: number;
  /** Default layer lists the bench scaled to `layers`. */
  readonly scaledLists: readonly ScaledList[];
  readonly visionLayers: number;
  readonly totalVisionLayers: number;
  /** LLaVA-NeXT's anyres image (its crops all go through the tower); null for LLaVA-1.5. */
  readonly image: BenchImage | null;
  /** FLOPs of encoding the image without a vision stage (tower and projector). */
  readonly visionFlops: number;
  /** The image's tokens and the prompt's length without reduction. */
  readonly imageTokens: number;
  readonly textTokens: number;
  readonly promptTokens: number;
  readonly decodeTokens: number;
  readonly runs: number;
  readonly loadMs: number;
  /** Weights the runtime holds (sessions and embedding table). */
  readonly weightBytes: number;
  /** Decoder weights one decode step reads (layers, final norm, lm_head). */
  readonly decodeBytesPerToken: number;
  /** process.resourceUsage().maxRSS at the end, in bytes. */
  readonly peakRssBytes: number;
  /** `none` first. */
  readonly rows: readonly BenchRow[];
  /** With `profile`: one layer's attention graph alone, each kernel, at LLaVA-1.5's prompt length and this one. */
  readonly attentionScaling?: readonly AttentionTiming[];
}

/** Seeds of the fixed inputs, so every run and every machine times the same work. */
const PIXEL_SEED = 1;
const PROMPT_SEED = 2;
export const DEFAULT_TEXT_TOKENS = 40;
/**
 * Peak RSS over the weights' bytes, as measured on the 7B preset (~1.5x: transient copies while each
 * graph is built and opened, and the roofline's 1 GiB buffer), and the share of physical memory that
 * peak may take before loading is refused rather than risked.
 */
const PEAK_FACTOR = 1.5;
const MEMORY_SHARE = 0.9;
/**
 * A timed run during which others took more of the CPU than this is repeated, at most `runs` times
 * per strategy: on a shared 2-core machine, others taking 10 % of the CPU slowed a prefill by 10-25 %.
 */
export const DISTURBED_SHARE = 0.05;
/** Timed runs of each attention-scaling measurement, after a warm-up. */
const SCALING_RUNS = 3;

export async function runBench(options: RunBenchOptions): Promise<BenchResult> {
  const resolved = resolveBenchOptions(options);
  const arch = cutDecoder(resolved.config, resolved.layers);
  const textTokens = options.textTokens ?? DEFAULT_TEXT_TOKENS;
  checkMemory(resolved.config, resolved.layers);
  const report = options.onProgress ?? (() => {});
  const machine = { cores: availableParallelism(), loadAverage: loadavg()[0] ?? 0 };

  const rooflineMark = markCpu();
  report({ phase: 'roofline', done: 0, total: 2, label: 'MatMul rate' });
  const matmulGflops = await measureMatMul(options.roofline);
  report({ phase: 'roofline', done: 1, total: 2, label: 'memory bandwidth' });
  const bandwidthGBs = await measureBandwidth(options.roofline);
  report({ phase: 'roofline', done: 2, total: 2, label: 'done' });
  const roofline = { matmulGflops, bandwidthGBs };
  const rooflineContention = othersShare(rooflineMark);

  const loadStart = performance.now();
  const runtime = await LlavaRuntime.create(arch, randomWeights(0), {
    onProgress: (p) => report({ phase: 'load', done: p.done, total: p.total, label: p.label }),
  });
  const loadMs = performance.now() - loadStart;
  let result: BenchResult;
  try {
    const input = benchInput(arch, textTokens, resolved.image);
    const { strategies, runs } = resolved;
    const { samples, repeats } = await timedRounds(runtime, input, strategies, { runs, decodeTokens: resolved.decodeTokens, profile: resolved.profile, report });

    const baseline = samples[0]![0]!; // `none`: every image token in every layer
    const baselinePrefillMs = median(samples[0]!.map((g) => g.timings.prefillMs));
    const rows = strategies.map((strategy, i) =>
      compare(arch, strategy, samples[i]!, { imageTokens: baseline.imageTokens, textTokens, prefillMs: baselinePrefillMs }),
    );
    result = {
      roofline,
      machine,
      contention: {
        roofline: rooflineContention,
        worstRun: Math.max(...samples.flat().map((g) => g.othersCpuShare)),
        repeatedRuns: repeats,
      },
      preset: resolved.preset,
      layers: resolved.layers,
      totalLayers: resolved.totalLayers,
      scaledLists: resolved.scaledLists,
      visionLayers: arch.visionLayersUsed,
      totalVisionLayers: arch.vision.numLayers,
      image: resolved.image,
      visionFlops: visionFlops(arch, baseline.imageTokens, resolved.image?.crops),
      imageTokens: baseline.imageTokens,
      textTokens,
      promptTokens: baseline.promptTokens,
      decodeTokens: resolved.decodeTokens,
      runs,
      loadMs,
      weightBytes: runtime.weightBytes,
      decodeBytesPerToken: decoderWeightBytes(arch.text),
      peakRssBytes: process.resourceUsage().maxRSS * 1024, // reported in KiB
      rows,
    };
  } finally {
    await runtime.release();
  }
  if (!resolved.profile) return result;
  // After the model is released: the MatMul kernel's [H, T, T] scores take gigabytes at NeXT lengths.
  const lengths = [...new Set([arch.imageTokensPerImage + textTokens, result.promptTokens])];
  return { ...result, attentionScaling: await measureAttentionScaling(arch.text, lengths, SCALING_RUNS) };
}

/**
 * Every strategy once per round, so drift in the machine's speed weighs on all alike; round 0 is the
 * warm-up (it opens each strategy's extra sessions, faults in pages). A timed run others disturbed
 * is repeated, at most `runs` times per strategy. Returns each strategy's kept runs and the repeats.
 */
export async function timedRounds(
  runtime: LlavaRuntime,
  input: GenerationInput,
  strategies: readonly BenchStrategy[],
  options: { runs: number; decodeTokens: number; profile: boolean; report: (progress: BenchProgress) => void },
): Promise<{ samples: Generation[][]; repeats: number }> {
  const { runs, decodeTokens, profile, report } = options;
  const samples = strategies.map((): Generation[] => []);
  const repeats = strategies.map(() => 0);
  let total = (runs + 1) * strategies.length;
  let done = 0;
  for (let round = 0; round <= runs; round++) {
    for (const [i, strategy] of strategies.entries()) {
      const run = `${round === 0 ? 'warm-up' : `run ${round} of ${runs}`}: ${strategy.label}`;
      report({ phase: 'run', done: done++, total, label: run });
      let generation = await timedGeneration(runtime, input, decodeTokens, strategy.reducer, profile);
      while (round > 0 && generation.othersCpuShare > DISTURBED_SHARE && repeats[i]! < runs) {
        repeats[i]!++;
        total++;
        report({ phase: 'run', done: done++, total, label: `${run}, again (others took ${(100 * generation.othersCpuShare).toFixed(0)}% of the CPU)` });
        generation = await timedGeneration(runtime, input, decodeTokens, strategy.reducer, profile);
      }
      if (round > 0) samples[i]!.push(generation);
    }
  }
  report({ phase: 'run', done: total, total, label: 'done' });
  return { samples, repeats: repeats.reduce((a, b) => a + b, 0) };
}

/**
 * A fixed image and a prompt of `textTokens` seeded ids with the image marker in the middle. For
 * LLaVA-NeXT the pixel values are its processor's form for `image`: one crop per tile after the base
 * image, with the image's size, so the tower runs over every crop and the features are packed.
 */
export function benchInput(arch: LlavaArch, textTokens: number, image: BenchImage | null = null): GenerationInput {
  const size = arch.vision.imageSize;
  const crops = image?.crops ?? 1;
  const nextPixel = mulberry32(PIXEL_SEED);
  // Roughly the range of CLIP-normalised pixels.
  const data = Float32Array.from({ length: crops * 3 * size * size }, () => 4 * nextPixel() - 2);
  const nextId = mulberry32(PROMPT_SEED);
  const marker = arch.imageTokenId;
  const textId = () => {
    // Uniform over the vocabulary without the marker: draw from V - 1 ids and step over it.
    const id = Math.floor(nextId() * (arch.text.vocabSize - 1));
    return id >= marker ? id + 1 : id;
  };
  const before = Math.floor(textTokens / 2);
  const ids = Array.from({ length: textTokens }, textId);
  const inputIds = [...ids.slice(0, before), marker, ...ids.slice(before)];
  if (!image) return { inputIds, pixelValues: { data, shape: [1, 3, size, size] } };
  return { inputIds, pixelValues: { data, shape: [1, crops, 3, size, size], imageSize: [image.height, image.width] } };
}

/** What one timed generation reports: its timings, and the image-token counts its prefill saw. */
export interface Generation {
  readonly timings: GenerationTimings;
  /** Length of the expanded prompt (after a vision merge, if any). */
  readonly promptTokens: number;
  /** Image tokens the vision tower produced for the decoder, after any merge. */
  readonly imageTokens: number;
  readonly imageTokensPerLayer: readonly number[];
  /** Share of the CPU others took during the vision and prefill. */
  readonly othersCpuShare: number;
  /** When profiled: the prefill's parts. */
  readonly profile?: PrefillProfile;
}

/**
 * One greedy generation of exactly `decodeTokens` timed decode steps (plus the prefill's token);
 * with `profile`, its prefill's parts as the runtime times them (decode steps are not recorded).
 */
async function timedGeneration(
  runtime: LlavaRuntime,
  input: GenerationInput,
  decodeTokens: number,
  reducer: TokenReducer | null,
  profile: boolean,
): Promise<Generation> {
  let prefill: Omit<Generation, 'timings'> | undefined;
  const recorder = profile ? new PartRecorder(runtime.arch.text.numLayers) : null;
  runtime.partTimer = recorder?.timer ?? null;
  const mark = markCpu();
  const events = generate(runtime, input, {
    maxNewTokens: decodeTokens + 1,
    sampling: { kind: 'greedy' },
    stopStrings: [],
    eosTokenIds: [], // never stops early, so every run times the same number of steps
    decoder: { push: () => '' },
    reducer,
  });
  for await (const event of events) {
    if (event.type === 'prefill') {
      const [start, end] = event.imageTokenRange!; // benchInput always has the image
      const perLayer = event.reduction?.imageTokensPerLayer ?? Array<number>(runtime.arch.text.numLayers).fill(end - start);
      prefill = {
        promptTokens: event.promptTokens,
        imageTokens: end - start,
        imageTokensPerLayer: perLayer,
        othersCpuShare: othersShare(mark),
        ...(recorder ? { profile: recorder.profile(event.timings.prefillMs) } : {}),
      };
      runtime.partTimer = null;
    }
    if (event.type === 'done') {
      if (event.reason !== 'max-new-tokens') {
        throw new OptionError({
          subject: '--decode-tokens',
          expected: `few enough tokens to fit after the ${prefill?.promptTokens ?? 0}-token prompt`,
          found: `${decodeTokens} (generation ended: ${event.reason})`,
        });
      }
      return { timings: event.timings, ...prefill! };
    }
  }
  throw new Error('generate() ended without a done event'); // its contract says it cannot
}

/**
 * One strategy's row. The prediction counts, in the engine's full accounting (flops/count.ts), the
 * decoder layers over the counts the run kept, the lm_head row and the strategy's scoring, against
 * every one of the image's tokens in every layer; vision is left out, as the speedup is prefill's.
 */
export function compare(
  arch: LlavaArch,
  strategy: BenchStrategy,
  generations: readonly Generation[],
  baseline: { imageTokens: number; textTokens: number; prefillMs: number },
): BenchRow {
  // The input is fixed and greedy, so every run keeps the same tokens; the last run's counts stand for all.
  const perLayer = generations.at(-1)!.imageTokensPerLayer;
  const prefillMs = median(generations.map((g) => g.timings.prefillMs));
  const count = (imageTokens: number, imageTokensPerLayer: readonly number[], reducer: TokenReducer | null) =>
    countFlops({ text: arch.text, imageTokens, imageTokensPerLayer, textTokens: baseline.textTokens, accounting: 'full', reducer }).flops;
  // Against none's own count: MustDrop's flat NeXT crops can enter the decoder with more tokens
  // than the packed image has (no unpadding), so a strategy's counts may exceed none's.
  const noneFlops = count(baseline.imageTokens, Array<number>(arch.text.numLayers).fill(baseline.imageTokens), null);
  const flops = count(Math.max(baseline.imageTokens, ...perLayer), perLayer, flopsReducer(strategy.reducer));
  const ratio = flops / noneFlops;
  const profiles = generations.flatMap((g) => (g.profile ? [g.profile] : []));
  const boundaries = strategy.reducer?.boundaries ?? [];
  return {
    strategy: strategy.name,
    label: strategy.label,
    options: strategy.reducer?.options ?? {},
    visionMs: median(generations.map((g) => g.timings.visionMs)),
    prefillMs,
    decodeMsPerToken: median(generations.map((g) => g.timings.decodeMsPerToken)),
    prefillGflops: flops / (prefillMs * 1e6),
    flopsRatio: ratio,
    speedup: baseline.prefillMs / prefillMs,
    predictedSpeedup: 1 / ratio,
    imageTokensPerLayer: perLayer,
    stageCounts: stageCounts(baseline.imageTokens, perLayer, boundaries),
    averageImageTokens: averageProcessed(perLayer),
    ...(strategy.name === 'mustdrop' ? { averageImageTokensAfterPruning: averageAfterPruning(perLayer, boundaries) } : {}),
    othersCpuShare: median(generations.map((g) => g.othersCpuShare)),
    ...(profiles.length > 0 ? { profile: medianProfile(profiles) } : {}),
  };
}

/**
 * The reducer as the FLOPs count knows it: a composition (`mustdrop-vision+pdrop`) scores in the
 * decoder as its prefill part does, and its vision merge shows in the measured counts.
 */
function flopsReducer(reducer: TokenReducer | null): TokenReducer | null {
  return reducer?.name.includes('+') ? { ...reducer, name: reducer.name.split('+').at(-1)! } : reducer;
}

/** Refuses a depth whose f32 weights would not fit, naming the deepest that would. */
function checkMemory(config: RawLlavaConfig, layers: number): void {
  const budget = (MEMORY_SHARE * totalmem()) / PEAK_FACTOR;
  const bytes = (depth: number) => modelWeightBytes(cutDecoder(config, depth));
  if (bytes(layers) <= budget) return;
  const perLayer = bytes(2) - bytes(1);
  const fitting = Math.floor((budget - (bytes(1) - perLayer)) / perLayer);
  throw new OptionError({
    subject: '--layers',
    expected: `few enough layers that ${PEAK_FACTOR}x the f32 weights fit in ${(MEMORY_SHARE * 100).toFixed(0)}% of ${gb(totalmem())} GB of memory`,
    found: `${layers} layers, ${gb(bytes(layers))} GB of weights`,
    hint: fitting >= 1 ? `--layers ${fitting} would fit` : 'not even one layer fits',
  });
}

function gb(bytes: number): string {
  return (bytes / 1e9).toFixed(1);
}
