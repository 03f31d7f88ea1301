// AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias-corrected moments, eps added
// after the square root), with global-norm gradient clipping as torch.nn.utils.clip_grad_norm_,
// one tight pass per tensor over Float32Arrays: the clip coefficient and the accumulation scale are
// folded into the update, so a step reads each gradient once for its norm and once to update.
// Weight decay skips biases and norm weights, as the Hugging Face Trainer's parameter groups do.

export interface AdamWSettings {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Largest global gradient norm; larger gradients are scaled down to it (0: no clipping). */
  readonly maxGradNorm: number;
}

/** LLaVA's (the Hugging Face Trainer's) defaults. */
export const LLAVA_ADAMW: AdamWSettings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 };

/** The Trainer's no-decay group: biases and the weights of LayerNorm/RMSNorm modules. */
export function decays(name: string): boolean {
  if (name.endsWith('.bias')) return false;
  return !/(^|\.)(layer_norm\d|pre_layrnorm|post_layernorm|input_layernorm|post_attention_layernorm|norm)\.weight$/.test(name);
}

export interface MomentState {
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
}

export interface StepResult {
  /** Global L2 norm of the (accumulation-scaled) gradients before clipping. */
  readonly gradNorm: number;
  readonly clipped: boolean;
}

export class AdamW {
  /** Optimizer steps taken (torch's per-parameter `step`, the same for every parameter here). */
  steps = 0;
  readonly moments = new Map<string, MomentState>();

  constructor(readonly settings: AdamWSettings) {}

  /**
   * One update of `params` in place from `grads` (same names), each gradient taken times `gradScale`
   * (1 / micro-batches accumulated) and then clipped to the global norm. `lr` is one rate for every
   * parameter or a rate per parameter name (parameter groups, as LLaVA-NeXT's vision tower lr).
   */
  step(params: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr: number | ((name: string) => number), gradScale = 1): StepResult {
    let sumSquares = 0;
    for (const grad of grads.values()) {
      let s = 0;
      for (let i = 0; i < grad.length; i++) s += grad[i]! * grad[i]!;
      sumSquares += s;
    }
    const gradNorm = Math.sqrt(sumSquares) * gradScale;
    const { beta1, beta2, eps, weightDecay, maxGradNorm } = this.settings;
    // torch: clip_coef = max_norm / (total_norm + 1e-6), applied only when below 1.
    const clipCoef = maxGradNorm > 0 ? maxGradNorm / (gradNorm + 1e-6) : 1;
    const clipped = clipCoef < 1;
    const scale = gradScale * (clipped ? clipCoef : 1);
    this.steps += 1;
    const bias1 = 1 - beta1 ** this.steps;
    const bias2Sqrt = Math.sqrt(1 - beta2 ** this.steps);
    const oneMinusBeta1 = 1 - beta1;
    const oneMinusBeta2 = 1 - beta2;
    for (const [name, grad] of grads) {
      const param = params.get(name);
      if (!param || param.length !== grad.length) throw new RangeError(`AdamW: no parameter of ${grad.length} values for gradient ${name}`);
      let moments = this.moments.get(name);
      if (!moments) {
        moments = { expAvg: new Float32Array(param.length), expAvgSq: new Float32Array(param.length) };
        this.moments.set(name, moments);
      }
      const { expAvg, expAvgSq } = moments;
      const rate = typeof lr === 'number' ? lr : lr(name);
      const stepSize = rate / bias1;
      const keep = decays(name) ? 1 - rate * weightDecay : 1;
      for (let i = 0; i < param.length; i++) {
        const g = grad[i]! * scale;
        const m = expAvg[i]! * beta1 + g * oneMinusBeta1;
        const v = expAvgSq[i]! * beta2 + g * g * oneMinusBeta2;
        expAvg[i] = m;
        expAvgSq[i] = v;
        param[i] = param[i]! * keep - (stepSize * m) / (Math.sqrt(v) / bias2Sqrt + eps);
      }
    }
    return { gradNorm, clipped };
  }
}
