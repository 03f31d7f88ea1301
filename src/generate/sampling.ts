// Choosing the next token from logits: greedy, or sampling with temperature, top-k and top-p applied
// in Hugging Face's order (temperature, then top-k, then top-p) from an explicit seeded PRNG, so a
// seed reproduces a run exactly.
import { OptionError } from '../errors.js';
import { mulberry32 } from '../util/prng.js';

export type SamplingOptions =
  | { readonly kind: 'greedy' }
  | {
      readonly kind: 'sample';
      readonly temperature: number;
      /** Keep only the k most likely tokens (0 or undefined: all). */
      readonly topK?: number;
      /** Keep the smallest set of most likely tokens whose probabilities sum to at least p. */
      readonly topP?: number;
      readonly seed: number;
    };

export type Sampler = (logits: Float32Array) => number;

/** Index of the largest logit; the first one on ties, as torch.argmax. */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

export function validateSampling(options: SamplingOptions): void {
  if (options.kind === 'greedy') return;
  const { temperature, topK, topP } = options;
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new OptionError({ subject: 'temperature', expected: 'a number > 0 (0 means greedy)', found: String(temperature) });
  }
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0)) {
    throw new OptionError({ subject: 'top-k', expected: 'a whole number >= 0', found: String(topK) });
  }
  if (topP !== undefined && !(topP > 0 && topP <= 1)) {
    throw new OptionError({ subject: 'top-p', expected: 'a number in (0, 1]', found: String(topP) });
  }
  if (!Number.isInteger(options.seed)) {
    throw new OptionError({ subject: 'seed', expected: 'a whole number', found: String(options.seed) });
  }
}

export function createSampler(options: SamplingOptions): Sampler {
  validateSampling(options);
  if (options.kind === 'greedy') return argmax;
  const random = mulberry32(options.seed);
  const { temperature, topK = 0, topP = 1 } = options;
  return (logits) => {
    const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
    const kept = topK > 0 ? order.slice(0, topK) : order;
    const max = logits[kept[0]!]! / temperature;
    const weights = kept.map((i) => Math.exp(logits[i]! / temperature - max));
    const total = weights.reduce((a, b) => a + b, 0);
    // Top-p: the shortest prefix of the sorted tokens holding at least topP of the mass.
    let cut = 0;
    let mass = 0;
    while (cut < kept.length && mass < topP * total) mass += weights[cut++]!;
    let draw = random() * mass;
    for (let i = 0; i < cut; i++) {
      draw -= weights[i]!;
      if (draw < 0) return kept[i]!;
    }
    return kept[cut - 1]!;
  };
}
