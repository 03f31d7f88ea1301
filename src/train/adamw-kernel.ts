// The elementwise arithmetic of an AdamW step, in one place for the main thread and the update
// workers: a range updated by either gives the same bits as the whole tensor updated in one pass,
// because each element's update reads only that element and coefficients computed once per step.
// The squares of a gradient are summed in index order in a double, carried from one range to the
// next, so a tensor's sum is the same whether it is taken whole or range by range in order.

/** What one tensor's update needs besides its four arrays, computed once per step in doubles. */
export interface UpdateCoefficients {
  /** Accumulation scale times the clip coefficient, applied to each gradient value. */
  readonly scale: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly oneMinusBeta1: number;
  readonly oneMinusBeta2: number;
  /** The rate over the first moment's bias correction. */
  readonly stepSize: number;
  /** 1 - rate x weight decay, or 1 for the no-decay group. */
  readonly keep: number;
  /** sqrt of the second moment's bias correction. */
  readonly bias2Sqrt: number;
  readonly eps: number;
}

/** The order `UpdateCoefficients` travel in as doubles (the workers read them from shared memory). */
export const COEFFICIENT_KEYS = ['scale', 'beta1', 'beta2', 'oneMinusBeta1', 'oneMinusBeta2', 'stepSize', 'keep', 'bias2Sqrt', 'eps'] as const;

/** `sum` plus the squares of `grad`, added one by one in index order. */
export function addSquares(grad: Float32Array, sum: number): number {
  let s = sum;
  for (let i = 0; i < grad.length; i++) s += grad[i]! * grad[i]!;
  return s;
}

/** torch.optim.AdamW's update of `param` and its moments in place, over `param.length` values. */
export function updateRange(param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, c: UpdateCoefficients): void {
  const { scale, beta1, beta2, oneMinusBeta1, oneMinusBeta2, stepSize, keep, bias2Sqrt, eps } = c;
  for (let i = 0; i < param.length; i++) {
    const g = grad[i]! * scale;
    const m = expAvg[i]! * beta1 + g * oneMinusBeta1;
    const v = expAvgSq[i]! * beta2 + g * g * oneMinusBeta2;
    expAvg[i] = m;
    expAvgSq[i] = v;
    param[i] = param[i]! * keep - (stepSize * m) / (Math.sqrt(v) / bias2Sqrt + eps);
  }
}
