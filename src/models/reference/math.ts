// Float64 building blocks of the reference forward pass: dense layers, norms, softmax and the
// activations. Written for clarity over speed; every loop is the textbook formula.
// Matrices are row-major Float64Arrays of `rows` rows; weights are PyTorch's [out, in] Float32Arrays.

/** y = x·Wᵀ + b for x [rows, inDim] and W [outDim, inDim] (nn.Linear); returns [rows, outDim]. */
export function linear(
  x: Float64Array,
  rows: number,
  inDim: number,
  outDim: number,
  weight: Float32Array,
  bias?: Float32Array,
): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let sum = bias ? bias[o]! : 0;
      for (let i = 0; i < inDim; i++) sum += x[r * inDim + i]! * weight[o * inDim + i]!;
      y[r * outDim + o] = sum;
    }
  }
  return y;
}

/** nn.LayerNorm over the last axis: (x - mean) / sqrt(biased variance + eps) * w + b. */
export function layerNorm(
  x: Float64Array,
  rows: number,
  dim: number,
  weight: Float32Array,
  bias: Float32Array,
  eps: number,
): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[r * dim + i]!;
    mean /= dim;
    let variance = 0;
    for (let i = 0; i < dim; i++) variance += (x[r * dim + i]! - mean) ** 2;
    variance /= dim;
    const scale = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = (x[r * dim + i]! - mean) * scale * weight[i]! + bias[i]!;
  }
  return y;
}

/** LlamaRMSNorm over the last axis: x / sqrt(mean(x²) + eps) * w (no mean subtraction, no bias). */
export function rmsNorm(x: Float64Array, rows: number, dim: number, weight: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let meanSquare = 0;
    for (let i = 0; i < dim; i++) meanSquare += x[r * dim + i]! ** 2;
    meanSquare /= dim;
    const scale = 1 / Math.sqrt(meanSquare + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i]! * scale * weight[i]!;
  }
  return y;
}

/** Softmax of one vector; the max is subtracted first so large scores do not overflow exp. */
export function softmax(values: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v);
  const out = values.map((v) => Math.exp(v - max));
  let sum = 0;
  for (const e of out) sum += e;
  return out.map((e) => e / sum);
}

/** Elementwise a + b (residual connections). */
export function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}

/** Elementwise a * b (the SwiGLU product). */
export function multiply(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v * b[i]!);
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** SiLU (swish), Llama's MLP activation: x * sigmoid(x). */
export function silu(x: number): number {
  return x * sigmoid(x);
}

/** CLIP's quick_gelu: x * sigmoid(1.702 x). */
export function quickGelu(x: number): number {
  return x * sigmoid(1.702 * x);
}

/** Exact GELU as torch computes it (approximate='none'): x/2 * (1 + erf(x/√2)). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x * Math.SQRT1_2));
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const ONE_OVER_SQRT_PI = 1 / Math.sqrt(Math.PI);

/**
 * The error function to within about 2e-16. Below |x| = 2 it sums the positive series
 * erf(x) = 2/√π e^{-x²} Σ (2x²)ⁿ x / (2n+1)!! (no cancellation); above, 1 - erfc(x) with erfc
 * from its continued fraction, which converges fast there. Past |x| = 6, erf is ±1 in float64.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  const value = ax < 1 ? erfSeries(ax) : 1 - erfcContinuedFraction(ax);
  return x < 0 ? -value : value;
}

function erfSeries(x: number): number {
  const x2 = x * x;
  let power = x;
  let sum = x;
  for (let n = 1; Math.abs(power) > 1e-17 * sum; n++) {
    power *= -x2 / n;
    sum += power / (2 * n + 1);
  }
  return TWO_OVER_SQRT_PI * sum;
}

// erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + (2/2)/(x + (3/2)/(x + …)))), evaluated by modified Lentz.
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = 1 / (d === 0 ? tiny : d);
    c = x + a / (c === 0 ? tiny : c);
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-17) break;
  }
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}
