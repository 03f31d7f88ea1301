// The MatMul rate of each weight format, measured in the bench's own process: a prefill-shaped
// x [rows, K] through one Linear [K -> N] encoded as that format would encode it (f32 MatMul, q8
// per-token int8 activations x int8 weights, q4 MatMulNBits), on seeded random weights. A format's
// prefill is judged against its own kernel's rate, not f32's.
import { GraphBuilder } from '../onnx/builder.js';
import { Ops } from '../onnx/ops.js';
import { linear } from '../models/linear.js';
import { randomWeights } from '../models/random-weights.js';
import { linearPlan, type WeightFormat } from '../quant/format.js';
import { floatTensor, GraphSession, type SessionSettings } from '../runtime/session.js';
import { mulberry32 } from '../util/prng.js';
import { timedRuns } from './roofline.js';

export interface FormatRooflineOptions extends SessionSettings {
  /** Rows of x; 616 = 576 image tokens + 40 text tokens. */
  readonly rows?: number;
  /** The 7B decoder's up projection, its most common Linear shape. */
  readonly inFeatures?: number;
  readonly outFeatures?: number;
  readonly q4BlockSize?: number;
  readonly runs?: number;
}

/** GFLOP/s of the decoder's Linear encoding for `format` on x [rows, inFeatures]. */
export async function measureFormatMatMul(format: WeightFormat, options: FormatRooflineOptions = {}): Promise<number> {
  const { rows = 616, inFeatures = 4096, outFeatures = 11008, runs = 5 } = options;
  const g = new GraphBuilder(`roofline_${format}`);
  const x = g.input('x', 'float32', [rows, inFeatures]);
  const encoding = linearPlan({ weights: format, ...(options.q4BlockSize ? { q4BlockSize: options.q4BlockSize } : {}) }).decoder;
  g.output(linear(g, new Ops(g), randomWeights(0), 'roofline.weight', x, outFeatures, inFeatures, encoding), 'y', 'float32', [rows, outFeatures]);
  const session = await GraphSession.create(g, options);
  const next = mulberry32(1);
  const feeds = { x: floatTensor(Float32Array.from({ length: rows * inFeatures }, () => next() - 0.5), [rows, inFeatures]) };
  try {
    const ms = await timedRuns(runs, () => session.run(feeds));
    return (2 * rows * inFeatures * outFeatures) / (ms * 1e6);
  } finally {
    await session.release();
  }
}
