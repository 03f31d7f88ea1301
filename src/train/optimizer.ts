// AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias-corrected moments, eps added
// after the square root), with global-norm gradient clipping as torch.nn.utils.clip_grad_norm_,
// one tight pass per tensor over Float32Arrays: the clip coefficient and the accumulation scale are
// folded into the update, so a step reads each gradient once for its norm and once to update.
// Weight decay skips biases and norm weights, as the Hugging Face Trainer's parameter groups do.
// Large steps run on every core (adamw-workers.ts) with the same bits as one thread: the update is
// elementwise, and each tensor's sum of squares is still taken whole by one thread in index order
// and the sums added in the gradients' order.
import { availableParallelism } from 'node:os';
import { addSquares, updateRange, type UpdateCoefficients } from './adamw-kernel.js';
import { SLOTS } from './adamw-protocol.js';
import { AdamWWorkers, type UpdateTensor } from './adamw-workers.js';

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

export interface AdamWThreads {
  /** Worker threads beside the main thread (default: one per core but the main thread's; 0: one thread). */
  readonly workers?: number;
  /** Fewest gradient values a step must have to run on the workers (default PARALLEL_FROM). */
  readonly parallelFrom?: number;
  /** Values a worker takes at a time (default CHUNK). */
  readonly chunk?: number;
  /** Chunks queued to each worker at most (default SLOTS). */
  readonly slots?: number;
}

/**
 * Below this many gradient values a step stays on the main thread: the workers' fixed cost (two
 * phases, each a message and a few slot handshakes) eats what they save. Measured on the 2-core
 * machine with the other core idle (steps of 8 equal tensors and 4 norms, median of 21, one
 * thread against one worker beside it): the same time at 2^16 values, 1.23x faster at 2^17, 1.31x
 * at 2^18, 1.5-2x from 2^19 on (visdrop-tiny's 9.2M: 1.7x). With the other core busy the worker
 * cannot help, and the same steps were 6-15% slower below 2^21.
 */
export const PARALLEL_FROM = 1 << 18;

/** 2^18 values (1 MiB a slot array): ~1.4 ms of update a chunk, so the rings' handshakes cost nothing. */
export const CHUNK = 1 << 18;

export class AdamW {
  /** Optimizer steps taken (torch's per-parameter `step`, the same for every parameter here). */
  steps = 0;
  /** The moments by parameter name; those of steps run on the workers are over SharedArrayBuffers. */
  readonly moments = new Map<string, MomentState>();
  private readonly workers: number;
  private readonly parallelFrom: number;
  private readonly chunk: number;
  private readonly slots: number;
  private pool: AdamWWorkers | null = null;
  /** Each parameter name's id in the workers' registry of moments. */
  private readonly ids = new Map<string, number>();

  constructor(
    readonly settings: AdamWSettings,
    threads: AdamWThreads = {},
  ) {
    this.workers = threads.workers ?? Math.max(0, availableParallelism() - 1);
    this.parallelFrom = threads.parallelFrom ?? PARALLEL_FROM;
    this.chunk = threads.chunk ?? CHUNK;
    this.slots = threads.slots ?? SLOTS;
  }

  /**
   * One update of `params` in place from `grads` (same names), each gradient taken times `gradScale`
   * (1 / micro-batches accumulated) and then clipped to the global norm. `lr` is one rate for every
   * parameter or a rate per parameter name (parameter groups, as LLaVA-NeXT's vision tower lr).
   * Every gradient is checked against its parameter before anything changes.
   */
  step(params: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr: number | ((name: string) => number), gradScale = 1): StepResult {
    const entries = [...grads].map(([name, grad]) => {
      const param = params.get(name);
      if (!param || param.length !== grad.length) throw new RangeError(`AdamW: no parameter of ${grad.length} values for gradient ${name}`);
      return { name, grad, param };
    });
    const values = entries.reduce((n, e) => n + e.grad.length, 0);
    if (this.pool && !this.pool.open) this.pool = null; // a failed step closed it; start afresh
    const pool = this.workers > 0 && values >= this.parallelFrom ? (this.pool ??= AdamWWorkers.start(this.workers, this.chunk, this.slots)) : null;

    const squares = pool ? pool.sumsOfSquares(entries.map((e) => e.grad)) : entries.map((e) => addSquares(e.grad, 0));
    let sumSquares = 0;
    for (const s of squares) sumSquares += s;
    const gradNorm = Math.sqrt(sumSquares) * gradScale;
    const { beta1, beta2, eps, weightDecay, maxGradNorm } = this.settings;
    // torch: clip_coef = max_norm / (total_norm + 1e-6), applied only when below 1.
    const clipCoef = maxGradNorm > 0 ? maxGradNorm / (gradNorm + 1e-6) : 1;
    const clipped = clipCoef < 1;
    const scale = gradScale * (clipped ? clipCoef : 1);
    this.steps += 1;
    const bias1 = 1 - beta1 ** this.steps;
    const bias2Sqrt = Math.sqrt(1 - beta2 ** this.steps);
    const tensors: UpdateTensor[] = entries.map(({ name, grad, param }) => {
      const rate = typeof lr === 'number' ? lr : lr(name);
      const coefficients: UpdateCoefficients = {
        scale,
        beta1,
        beta2,
        oneMinusBeta1: 1 - beta1,
        oneMinusBeta2: 1 - beta2,
        stepSize: rate / bias1,
        keep: decays(name) ? 1 - rate * weightDecay : 1,
        bias2Sqrt,
        eps,
      };
      return { id: this.idOf(name), param, grad, ...this.momentsOf(name, param.length, pool !== null), coefficients };
    });
    if (pool) pool.update(tensors);
    else for (const t of tensors) updateRange(t.param, t.grad, t.expAvg, t.expAvgSq, t.coefficients);
    return { gradNorm, clipped };
  }

  /** Chunks the current update workers have processed (0 before any step ran on them). */
  get chunksOnWorkers(): number {
    return this.pool?.chunksOnWorkers ?? 0;
  }

  /** Ends the update workers, if any started (a later step starts them again). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }

  private idOf(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) this.ids.set(name, (id = this.ids.size));
    return id;
  }

  /**
   * A parameter's moments, zeros at first; moved into shared memory when workers are to use them.
   * Shared moments are written here once, on this thread, rather than first touched by two threads
   * at once in the first step (one 7B layer, 223M parameters, on the shared 2-core machine: first
   * step 3.3-3.9 s with the pages touched here, 3.4-6.5 s without).
   */
  private momentsOf(name: string, length: number, shared: boolean): MomentState {
    const moments = this.moments.get(name);
    const inShared = (array: Float32Array) => array.buffer instanceof SharedArrayBuffer;
    if (moments && (!shared || (inShared(moments.expAvg) && inShared(moments.expAvgSq)))) return moments;
    const allocate = (from: Float32Array | undefined) => {
      if (!shared) return new Float32Array(length);
      const array = new Float32Array(new SharedArrayBuffer(4 * length));
      if (from) array.set(from);
      else array.fill(0);
      return array;
    };
    const fresh = { expAvg: allocate(moments?.expAvg), expAvgSq: allocate(moments?.expAvgSq) };
    this.moments.set(name, fresh);
    return fresh;
  }
}
