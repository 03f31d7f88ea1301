// `visdrop bench --kernels`: every Linear encoding onnxruntime offers for int8 and 4-bit weights,
// timed on this machine at one Linear of a preset's decoder (its MLP up projection, the commonest
// shape) in a prefill's shape (616 rows: 576 image tokens and 40 of text) and a decode step's (one
// row), with each one's relative error against the f32 MatMul on the same seeded weights. Which
// kernel is fastest differs between machines (int8 dot-product instructions, AMX) and between the
// two shapes (a decode step only reads the weights once), so the choice is measured, not assumed.
// A decode step reads every layer's weights once, from memory: timed on one weight over and over,
// the weight would sit in the CPU's cache, so the decode row runs through copies of the weight (as
// many as make `decodeWorkingSet` bytes) in turn.
import { normalizeLlavaConfig } from '../config/llava.js';
import { PRESETS } from '../config/presets.js';
import { OptionError } from '../errors.js';
import { linear } from '../models/linear.js';
import { randomWeights } from '../models/random-weights.js';
import { GraphBuilder } from '../onnx/builder.js';
import { Ops } from '../onnx/ops.js';
import type { LinearEncoding, WeightFormat } from '../quant/format.js';
import { floatTensor, GraphSession } from '../runtime/session.js';
import { mulberry32 } from '../util/prng.js';
import { markCpu, othersShare } from './contention.js';
import { timedRuns } from './roofline.js';
import { alignedTable } from './text-table.js';

export interface KernelCandidate {
  /** Short name: the encoding and its block size. */
  readonly name: string;
  readonly label: string;
  readonly encoding: LinearEncoding;
  /** The weight format whose decoder uses this encoding today, if any. */
  readonly usedBy?: WeightFormat;
}

export const KERNEL_CANDIDATES: readonly KernelCandidate[] = [
  { name: 'f32', label: 'f32 MatMul', encoding: { kind: 'f32' }, usedBy: 'f32' },
  { name: 'int8', label: 'int8, per-token activations (MatMulIntegerToFloat)', encoding: { kind: 'int8' }, usedBy: 'q8' },
  { name: 'int8-tensor', label: 'int8, per-tensor activations (DynamicQuantizeMatMul)', encoding: { kind: 'int8-tensor' } },
  { name: 'int8-blocks-32', label: '8-bit MatMulNBits, block 32', encoding: { kind: 'int8-blocks', blockSize: 32 } },
  { name: 'int8-blocks-128', label: '8-bit MatMulNBits, block 128', encoding: { kind: 'int8-blocks', blockSize: 128 } },
  { name: 'int4-32', label: '4-bit MatMulNBits, block 32', encoding: { kind: 'int4', blockSize: 32 }, usedBy: 'q4' },
  { name: 'int4-128', label: '4-bit MatMulNBits, block 128', encoding: { kind: 'int4', blockSize: 128 } },
  { name: 'int4-256', label: '4-bit MatMulNBits, block 256', encoding: { kind: 'int4', blockSize: 256 } },
];

export interface KernelBenchOptions {
  readonly preset?: string;
  /** Rows of the prefill shape (default 616). */
  readonly rows?: number;
  /** Timed runs after a warm-up; the fastest counts (default 3), for the prefill and for each decode turn through the copies. */
  readonly runs?: number;
  readonly threads?: number;
  /** Override the preset's shape (tests use small ones). */
  readonly inFeatures?: number;
  readonly outFeatures?: number;
  /** Bytes of weights the decode row cycles through, well past any CPU cache (default 512 MB). */
  readonly decodeWorkingSet?: number;
  readonly onProgress?: (label: string, done: number, total: number) => void;
}

const DEFAULT_DECODE_WORKING_SET = 512e6;
/** Copies cap: the 4-bit weights of a tiny test shape would otherwise need thousands of sessions. */
const MAX_DECODE_COPIES = 32;

export interface KernelRow {
  readonly name: string;
  readonly label: string;
  readonly usedBy: WeightFormat | null;
  /** Bytes of the encoded weight and its scales. */
  readonly weightBytes: number;
  readonly prefillMs: number;
  readonly prefillGflops: number;
  /** One row through one copy of the weight, averaged over the copies' turn. */
  readonly decodeMs: number;
  /** Weight bytes read per ms of a decode step, GB/s: the rate a decode step is bound by. */
  readonly decodeGBs: number;
  /** Copies of the weight the decode row ran through in turn. */
  readonly decodeCopies: number;
  /** RMS of (y - y_f32) over RMS of y_f32, on the prefill's output. */
  readonly relativeError: number;
}

export interface KernelBenchResult {
  readonly preset: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly rows: number;
  readonly threads: number | null;
  readonly kernels: readonly KernelRow[];
  /** Share of the machine's CPU time other processes used while the kernels ran. */
  readonly othersCpuShare: number;
}

function rmsRelative(y: Float32Array, reference: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < y.length; i++) {
    diff += (y[i]! - reference[i]!) ** 2;
    norm += reference[i]! ** 2;
  }
  return Math.sqrt(diff / norm);
}

export async function runKernelBench(options: KernelBenchOptions = {}): Promise<KernelBenchResult> {
  const preset = options.preset ?? 'llava-1.5-7b';
  const config = PRESETS[preset];
  if (!config) throw new OptionError({ subject: '--preset', expected: Object.keys(PRESETS).join(', '), found: preset });
  const { text } = normalizeLlavaConfig(config);
  const K = options.inFeatures ?? text.hiddenSize;
  const N = options.outFeatures ?? text.intermediateSize;
  const rows = options.rows ?? 616;
  const runs = options.runs ?? 3;
  const settings = options.threads !== undefined ? { intraOpThreads: options.threads } : {};
  const next = mulberry32(1);
  const x = Float32Array.from({ length: rows * K }, () => next() - 0.5);
  const weights = randomWeights(0);
  const start = markCpu();
  const kernels: KernelRow[] = [];
  let reference: Float32Array | null = null;
  for (const [index, candidate] of KERNEL_CANDIDATES.entries()) {
    options.onProgress?.(candidate.label, index, KERNEL_CANDIDATES.length);
    // Copy k's weight is the seeded tensor of its own name, so no two copies share memory.
    const graph = (copy: number) => {
      const g = new GraphBuilder('kernel');
      const input = g.input('x', 'float32', ['R', K]);
      g.output(linear(g, new Ops(g), weights, copy === 0 ? 'kernel.weight' : `kernel.weight.${copy}`, input, N, K, candidate.encoding), 'y', 'float32', ['R', N]);
      return g;
    };
    const first = graph(0);
    const weightBytes = first.initializerBytes;
    const copies = Math.max(1, Math.min(MAX_DECODE_COPIES, Math.ceil((options.decodeWorkingSet ?? DEFAULT_DECODE_WORKING_SET) / weightBytes)));
    const session = await GraphSession.create(first, settings);
    const sessions = [session];
    try {
      for (let copy = 1; copy < copies; copy++) sessions.push(await GraphSession.create(graph(copy), settings));
      const prefill = { x: floatTensor(x, [rows, K]) };
      const decode = { x: floatTensor(x.subarray(0, K), [1, K]) };
      const prefillMs = await timedRuns(runs, () => session.run(prefill));
      const turnMs = await timedRuns(runs, async () => {
        for (const copy of sessions) await copy.run(decode);
      });
      const decodeMs = turnMs / copies;
      const y = (await session.run(prefill)).y!.data as Float32Array;
      reference ??= y; // KERNEL_CANDIDATES starts with f32: every error is against it
      kernels.push({
        name: candidate.name,
        label: candidate.label,
        usedBy: candidate.usedBy ?? null,
        weightBytes,
        prefillMs,
        prefillGflops: (2 * rows * K * N) / (prefillMs * 1e6),
        decodeMs,
        decodeGBs: weightBytes / (decodeMs * 1e6),
        decodeCopies: copies,
        relativeError: rmsRelative(y, reference),
      });
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  }
  options.onProgress?.('done', KERNEL_CANDIDATES.length, KERNEL_CANDIDATES.length);
  return { preset, inFeatures: K, outFeatures: N, rows, threads: options.threads ?? null, kernels, othersCpuShare: othersShare(start) };
}

export function formatKernelBenchTable(result: KernelBenchResult): string {
  const header = `Linear kernels: ${result.preset}'s MLP up projection, ${result.inFeatures} -> ${result.outFeatures}; prefill ${result.rows} rows, ` +
    `decode 1 row through each of the weight's copies in turn (copies column: so the weights come from memory, as in a model's decode step); ` +
    `${result.threads ?? 'default'} threads; other processes used ${(100 * result.othersCpuShare).toFixed(0)}% of the CPU meanwhile`;
  const table = alignedTable(
    ['kernel', 'used by', 'weight MB', 'prefill ms', 'GFLOP/s', 'decode ms', 'copies', 'weight GB/s', 'rel. error'],
    result.kernels.map((k) => [
      k.label,
      k.usedBy ?? '',
      (k.weightBytes / 1e6).toFixed(1),
      k.prefillMs.toFixed(1),
      k.prefillGflops.toFixed(0),
      k.decodeMs.toFixed(2),
      String(k.decodeCopies),
      k.decodeGBs.toFixed(1),
      k.relativeError.toExponential(2),
    ]),
  );
  return `${[header, ...table].join('\n')}\n`;
}
