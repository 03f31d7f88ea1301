// Outlier smoothing for int8 activations (SmoothQuant's migration, without calibration data): the
// Linears right after an RMSNorm see activations x̂_j * γ_j, so input channels with a large norm
// weight γ_j carry outliers that coarsen every token's int8 grid. Dividing γ_j by s_j and multiplying
// input column j of the following weights by s_j changes nothing in exact arithmetic and moves the
// spread into the weights, whose scales are per output channel. s_j = sqrt(|γ_j| / max_rows |W_rj|)
// (SmoothQuant's α = 0.5, with |γ_j| standing in for the activation range it would calibrate).
import { accumulateColumnAbsMax } from './row-pool.js';
import { columnScaled, type WeightRows } from './weight-rows.js';

/** s for one norm weight γ [D] and the Linears ([out, D] each) it feeds; 1 where γ_j or the column is all zero. */
export function smoothingScales(gamma: Float32Array, weights: readonly WeightRows[]): Float32Array {
  const columnMax = new Float32Array(gamma.length);
  for (const weight of weights) {
    if (weight.cols !== gamma.length) {
      throw new RangeError(`a Linear of ${weight.cols} input features after a norm of ${gamma.length}`);
    }
    accumulateColumnAbsMax(weight, columnMax);
  }
  return Float32Array.from(gamma, (g, j) => (g !== 0 && columnMax[j]! > 0 ? Math.sqrt(Math.abs(g) / columnMax[j]!) : 1));
}

/** Smooths one norm weight [D] and the Linears it feeds: γ / s, and each Linear's columns times s. */
export function smoothGroup(gamma: Float32Array, weights: readonly WeightRows[]): { gamma: Float32Array; weights: WeightRows[] } {
  const s = smoothingScales(gamma, weights);
  return { gamma: Float32Array.from(gamma, (g, j) => g / s[j]!), weights: weights.map((weight) => columnScaled(weight, s)) };
}
