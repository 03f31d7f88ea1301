// The machine's roofline as onnxruntime-node reaches it in this process: the f32 MatMul rate on a
// prefill-shaped product against a constant (pre-packed) weight, and the memory read bandwidth of
// read-only passes over a buffer far larger than the caches. Both take the fastest of their timed
// runs: a roofline is a ceiling, and other processes on the machine can only slow a run down.
import { GraphBuilder } from '../onnx/builder.js';
import { Ops } from '../onnx/ops.js';
import { floatTensor, GraphSession, type SessionSettings } from '../runtime/session.js';
import { mulberry32 } from '../util/prng.js';

export interface Roofline {
  /** f32 GFLOP/s of x [M, K] times a constant weight [K, N]. */
  readonly matmulGflops: number;
  /** GB/s (1e9 bytes) read from a float input fed at run time (see measureBandwidth). */
  readonly bandwidthGBs: number;
}

export interface RooflineOptions extends SessionSettings {
  /** MatMul rows; 616 = 576 image tokens + 40 text tokens, a LLaVA-1.5 prefill. */
  readonly matmulRows?: number;
  /** MatMul inner and output width; 4096 = the 7B decoder's hidden size. */
  readonly matmulWidth?: number;
  /** Bytes the bandwidth passes read; ~1 GiB so caches (tens of MB) hold a negligible share. */
  readonly bandwidthBytes?: number;
  /** Timed runs per measurement, after one untimed warm-up. */
  readonly runs?: number;
}

/** Row width of the bandwidth buffer: long contiguous rows, and the 7B decoder's hidden size. */
const STREAM_ROW = 4096;
const DEFAULT_RUNS = 5;

export async function measureRoofline(options: RooflineOptions = {}): Promise<Roofline> {
  return { matmulGflops: await measureMatMul(options), bandwidthGBs: await measureBandwidth(options) };
}

/** GFLOP/s of x [rows, width] times a constant [width, width]. */
export async function measureMatMul(options: RooflineOptions = {}): Promise<number> {
  const { matmulRows: rows = 616, matmulWidth: width = 4096, runs = DEFAULT_RUNS } = options;
  const g = new GraphBuilder('roofline_matmul');
  const op = new Ops(g);
  const next = mulberry32(1);
  const randoms = (count: number) => Float32Array.from({ length: count }, () => next() - 0.5);
  const x = g.input('x', 'float32', [rows, width]);
  // An initializer, as decoder weights are: onnxruntime pre-packs it once at session creation.
  const weight = g.weight('weight', randoms(width * width), [width, width]);
  g.output(op.matMul(x, weight), 'y', 'float32', [rows, width]);
  const session = await GraphSession.create(g, options);
  const feeds = { x: floatTensor(randoms(rows * width), [rows, width]) };
  try {
    const ms = await timedRuns(runs, () => session.run(feeds));
    return (2 * rows * width * width) / (ms * 1e6);
  } finally {
    await session.release();
  }
}

/**
 * GB/s read from `bandwidthBytes` of floats fed at run time: the better of a ReduceSum and a vector
 * times the same bytes as a matrix. Both read everything once and write next to nothing; the
 * vector-matrix product is also exactly what a decode step does, and on some machines onnxruntime's
 * reduction kernel does not saturate memory (2-core Ice Lake: ~15 GB/s against ~23 for the product).
 */
export async function measureBandwidth(options: RooflineOptions = {}): Promise<number> {
  const { bandwidthBytes = 2 ** 30, runs = DEFAULT_RUNS } = options;
  const rows = Math.max(1, Math.round(bandwidthBytes / (4 * STREAM_ROW)));
  // Filled, so every page is mapped before the timed runs rather than faulted in during them.
  const data = new Float32Array(rows * STREAM_ROW).fill(1);
  const x = floatTensor(data, [rows, STREAM_ROW]);

  const reduce = new GraphBuilder('roofline_reduce');
  // Summing along the contiguous last axis: many rows, so every thread has work; writes [rows, 1].
  const sum = reduce.node('ReduceSum', [reduce.input('x', 'float32', [rows, STREAM_ROW]), reduce.constInt64([1])], { keepdims: 1 });
  reduce.output(sum, 'sum', 'float32', [rows, 1]);

  const product = new GraphBuilder('roofline_vector_matrix');
  const vector = product.input('v', 'float32', [1, rows]);
  product.output(new Ops(product).matMul(vector, product.input('x', 'float32', [rows, STREAM_ROW])), 'y', 'float32', [1, STREAM_ROW]);
  const v = floatTensor(new Float32Array(rows).fill(1), [1, rows]);

  let best = 0;
  for (const [graph, feeds] of [[reduce, { x }], [product, { x, v }]] as const) {
    const session = await GraphSession.create(graph, options);
    try {
      best = Math.max(best, data.byteLength / ((await timedRuns(runs, () => session.run(feeds))) * 1e6));
    } finally {
      await session.release();
    }
  }
  return best;
}

/** One untimed warm-up, then the fastest wall time of `runs` calls, in ms. */
export async function timedRuns(runs: number, body: () => Promise<unknown>): Promise<number> {
  await body();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await body();
    times.push(performance.now() - start);
  }
  return Math.min(...times);
}
