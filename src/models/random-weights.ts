// Seeded random weights for any tensor a model asks for: what `make-tiny` writes to disk and what
// the benchmark runs on at full size without a checkpoint. Each tensor's values depend only on the
// seed and its name, so the order in which graphs ask for them does not matter. Linear weights are
// uniform with standard deviation 1/sqrt(fan_in), which keeps activations at a steady scale through
// the layers, so the logits are spread out rather than degenerate.
import { mulberry32 } from '../util/prng.js';
import type { WeightSource } from './weights.js';

/** FNV-1a hash of a string, for per-tensor seeds. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Mean and spread of a tensor, from the role its name gives it. */
function distribution(name: string, shape: readonly number[]): { mean: number; std: number } {
  if (/norm[^.]*\.weight$|layrnorm\.weight$/.test(name)) return { mean: 1, std: 0.1 };
  if (name.endsWith('.bias')) return { mean: 0, std: 0.02 };
  if (name.endsWith('class_embedding') || name.endsWith('embed_tokens.weight')) return { mean: 0, std: 1 };
  if (name.endsWith('position_embedding.weight')) return { mean: 0, std: 0.5 };
  // A Linear [out, in] or a convolution [out, in, k, k]: fan-in is everything but the first axis.
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  return { mean: 0, std: 1 / Math.sqrt(fanIn) };
}

export function randomTensor(seed: number, name: string, shape: readonly number[]): Float32Array {
  const { mean, std } = distribution(name, shape);
  const halfWidth = std * Math.sqrt(3); // uniform(-a, a) has standard deviation a / sqrt(3)
  const next = mulberry32(seed ^ hash(name));
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < out.length; i++) out[i] = mean + (2 * next() - 1) * halfWidth;
  return out;
}

/** A WeightSource holding every name, each filled on request from `seed`. */
export function randomWeights(seed: number): WeightSource {
  return { has: () => true, float32: (name, shape) => randomTensor(seed, name, shape) };
}
