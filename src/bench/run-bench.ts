// One benchmark: measure the machine's roofline, build a LLaVA runtime on seeded random weights (no
// checkpoint needed), then time full generations, one warm-up and `runs` measured, on a fixed
// image and prompt, and set the medians against the roofline: prefill against the MatMul rate,
// decode against the time to stream the decoder's weights once at the measured bandwidth.
import { availableParallelism, loadavg, totalmem } from 'node:os';
import { OptionError } from '../errors.js';
import type { LlavaArch } from '../config/llava.js';
import { generate, type GenerationInput } from '../generate/loop.js';
import type { GenerationTimings } from '../generate/events.js';
import { randomWeights } from '../models/random-weights.js';
import { LlavaRuntime } from '../runtime/llava-runtime.js';
import { mulberry32 } from '../util/prng.js';
import { decoderPrefillFlops, decoderWeightBytes, modelWeightBytes, visionFlops } from '../flops/engine.js';
import { resolveBenchOptions, type BenchOptionsInput } from './options.js';
import { cutDecoder, type RawLlavaConfig } from './presets.js';
import { measureBandwidth, measureMatMul, type Roofline, type RooflineOptions } from './roofline.js';
import { median } from './stats.js';

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

/** One strategy's medians and how they compare with the roofline. */
export interface BenchRow {
  readonly strategy: 'none';
  readonly visionMs: number;
  readonly prefillMs: number;
  readonly decodeMsPerToken: number;
  /** Decoder prefill FLOPs (flops.ts) per second, in GFLOP/s. */
  readonly prefillGflops: number;
  /** prefillGflops / the roofline's MatMul rate. */
  readonly rooflineFraction: number;
  /** Vision FLOPs (tower and projector) per second, in GFLOP/s. */
  readonly visionGflops: number;
  /** Decoder weight bytes / measured bandwidth: the fastest a decode step can stream them. */
  readonly boundMsPerToken: number;
  /** decodeMsPerToken / boundMsPerToken. */
  readonly boundRatio: number;
}

export interface BenchResult {
  readonly roofline: Roofline;
  /** Cores, and the 1-minute load average when the bench began: other work skews every timing. */
  readonly machine: { readonly cores: number; readonly loadAverage: number };
  readonly preset: string;
  readonly layers: number;
  readonly totalLayers: number;
  readonly visionLayers: number;
  readonly totalVisionLayers: number;
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
  readonly rows: readonly BenchRow[];
}

/** Seeds of the fixed inputs, so every run and every machine times the same work. */
const PIXEL_SEED = 1;
const PROMPT_SEED = 2;
const DEFAULT_TEXT_TOKENS = 40;
/**
 * Peak RSS over the weights' bytes, as measured on the 7B preset (~1.5x: transient copies while each
 * graph is built and opened, and the roofline's 1 GiB buffer), and the share of physical memory that
 * peak may take before loading is refused rather than risked.
 */
const PEAK_FACTOR = 1.5;
const MEMORY_SHARE = 0.9;

export async function runBench(options: RunBenchOptions): Promise<BenchResult> {
  const resolved = resolveBenchOptions(options);
  const arch = cutDecoder(resolved.config, resolved.layers);
  const textTokens = options.textTokens ?? DEFAULT_TEXT_TOKENS;
  checkMemory(resolved.config, resolved.layers);
  const report = options.onProgress ?? (() => {});
  const machine = { cores: availableParallelism(), loadAverage: loadavg()[0] ?? 0 };

  report({ phase: 'roofline', done: 0, total: 2, label: 'MatMul rate' });
  const matmulGflops = await measureMatMul(options.roofline);
  report({ phase: 'roofline', done: 1, total: 2, label: 'memory bandwidth' });
  const bandwidthGBs = await measureBandwidth(options.roofline);
  report({ phase: 'roofline', done: 2, total: 2, label: 'done' });
  const roofline = { matmulGflops, bandwidthGBs };

  const loadStart = performance.now();
  const runtime = await LlavaRuntime.create(arch, randomWeights(0), {
    onProgress: (p) => report({ phase: 'load', done: p.done, total: p.total, label: p.label }),
  });
  const loadMs = performance.now() - loadStart;
  try {
    const input = benchInput(arch, textTokens);
    const total = resolved.runs + 1;
    const timings: GenerationTimings[] = [];
    let promptTokens = 0;
    for (let run = 0; run < total; run++) {
      report({ phase: 'run', done: run, total, label: run === 0 ? 'warm-up' : `run ${run} of ${resolved.runs}` });
      const measured = await timedGeneration(runtime, input, resolved.decodeTokens);
      promptTokens = measured.promptTokens;
      if (run > 0) timings.push(measured.timings); // the warm-up opens the attention sessions and faults in pages
    }
    report({ phase: 'run', done: total, total, label: 'done' });

    const row = compare(arch, roofline, promptTokens, {
      visionMs: median(timings.map((t) => t.visionMs)),
      prefillMs: median(timings.map((t) => t.prefillMs)),
      decodeMsPerToken: median(timings.map((t) => t.decodeMsPerToken)),
    });
    return {
      roofline,
      machine,
      preset: resolved.preset,
      layers: resolved.layers,
      totalLayers: resolved.totalLayers,
      visionLayers: arch.visionLayersUsed,
      totalVisionLayers: arch.vision.numLayers,
      imageTokens: promptTokens - textTokens,
      textTokens,
      promptTokens,
      decodeTokens: resolved.decodeTokens,
      runs: resolved.runs,
      loadMs,
      weightBytes: runtime.weightBytes,
      decodeBytesPerToken: decoderWeightBytes(arch.text),
      peakRssBytes: process.resourceUsage().maxRSS * 1024, // reported in KiB
      rows: [row],
    };
  } finally {
    await runtime.release();
  }
}

/** A fixed image and a prompt of `textTokens` seeded ids with the image marker in the middle. */
export function benchInput(arch: LlavaArch, textTokens: number): GenerationInput {
  const size = arch.vision.imageSize;
  const nextPixel = mulberry32(PIXEL_SEED);
  // Roughly the range of CLIP-normalised pixels.
  const data = Float32Array.from({ length: 3 * size * size }, () => 4 * nextPixel() - 2);
  const nextId = mulberry32(PROMPT_SEED);
  const marker = arch.imageTokenId;
  const textId = () => {
    // Uniform over the vocabulary without the marker: draw from V - 1 ids and step over it.
    const id = Math.floor(nextId() * (arch.text.vocabSize - 1));
    return id >= marker ? id + 1 : id;
  };
  const before = Math.floor(textTokens / 2);
  const ids = Array.from({ length: textTokens }, textId);
  return { inputIds: [...ids.slice(0, before), marker, ...ids.slice(before)], pixelValues: { data, shape: [1, 3, size, size] } };
}

/** One greedy generation of exactly `decodeTokens` timed decode steps (plus the prefill's token). */
async function timedGeneration(
  runtime: LlavaRuntime,
  input: GenerationInput,
  decodeTokens: number,
): Promise<{ timings: GenerationTimings; promptTokens: number }> {
  let promptTokens = 0;
  const events = generate(runtime, input, {
    maxNewTokens: decodeTokens + 1,
    sampling: { kind: 'greedy' },
    stopStrings: [],
    eosTokenIds: [], // never stops early, so every run times the same number of steps
    decoder: { push: () => '' },
  });
  for await (const event of events) {
    if (event.type === 'prefill') promptTokens = event.promptTokens;
    if (event.type === 'done') {
      if (event.reason !== 'max-new-tokens') {
        throw new OptionError({
          subject: '--decode-tokens',
          expected: `few enough tokens to fit after the ${promptTokens}-token prompt`,
          found: `${decodeTokens} (generation ended: ${event.reason})`,
        });
      }
      return { timings: event.timings, promptTokens };
    }
  }
  throw new Error('generate() ended without a done event'); // its contract says it cannot
}

function compare(arch: LlavaArch, roofline: Roofline, promptTokens: number, medians: GenerationTimings): BenchRow {
  const prefillGflops = decoderPrefillFlops(arch.text, promptTokens) / (medians.prefillMs * 1e6);
  const boundMsPerToken = decoderWeightBytes(arch.text) / (roofline.bandwidthGBs * 1e6);
  return {
    strategy: 'none',
    ...medians,
    prefillGflops,
    rooflineFraction: prefillGflops / roofline.matmulGflops,
    visionGflops: visionFlops(arch) / (medians.visionMs * 1e6),
    boundMsPerToken,
    boundRatio: medians.decodeMsPerToken / boundMsPerToken,
  };
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
