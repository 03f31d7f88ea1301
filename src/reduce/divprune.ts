// DivPrune (arXiv 2503.02175), as vbdi/divprune's code behaves (`LlavaMetaForCausalLM.DivPrune`;
// spec: shared/reference/methods/divprune.md): before the first decoder layer, on the image tokens'
// input embeddings (the projector's outputs; LLaVA-NeXT: the packed anyres sequence, newline
// tokens included), keep k = round(ratio x N) (Python's rounding) tokens chosen greedily as a
// max-min diverse subset under the cosine distance D = 1 - cos:
// - first the most isolated token: the largest second-smallest entry of its column of D;
// - then, each step, the token whose smallest distance to the ones chosen so far is largest;
// the first index wins ties (torch.argmax). Kept tokens go on in their original order and the
// prompt is renumbered (the LLM sees an ordinary shorter prompt): positions 0..T'-1, decode T' + t.
// One departure, for degenerate inputs only: a token already chosen is never chosen again. The
// code's argmax could return one (its distance to itself is 0 up to float noise) once every token
// left duplicates a chosen one, and would then feed that token twice.
import { z } from 'zod';
import { OptionError } from '../errors.js';
import { parseOptions } from './options.js';
import { roundHalfEven } from './select.js';
import type { TokenReducer } from './types.js';

export const divPruneOptionsSchema = z
  .object({
    ratio: z.number().gt(0, 'a ratio in (0, 1]').lte(1, 'a ratio in (0, 1]').optional(),
    keep: z.number().int().min(1, 'a count >= 1').optional(),
  })
  .refine((o) => o.ratio === undefined || o.keep === undefined, { message: 'a ratio or a count, not both', path: ['keep'] });

export type DivPruneOptions = z.input<typeof divPruneOptionsSchema>;

/** The authors' SUBSET_RATIO (run_Divprune.sh): 56 of LLaVA-1.5's 576 tokens. */
export const DIVPRUNE_DEFAULT_RATIO = 0.098;

/** Image tokens DivPrune keeps of N: `keep`, or int(round(ratio x N)). */
export function divPruneKept(options: { ratio: number; keep: number | null }, imageTokens: number): number {
  return options.keep ?? roundHalfEven(options.ratio * imageTokens);
}

/**
 * The greedy max-min selection over distances [N, N] (row-major), in pick order. Step 0 scores a
 * column by its second-smallest entry; later steps by its smallest entry over the chosen rows.
 */
export function maxMinDiverse(distances: Float32Array, N: number, k: number): number[] {
  const score = new Float64Array(N);
  for (let j = 0; j < N; j++) {
    let smallest = Infinity;
    let second = Infinity;
    for (let i = 0; i < N; i++) {
      const d = distances[i * N + j]!;
      if (d < smallest) {
        second = smallest;
        smallest = d;
      } else if (d < second) {
        second = d;
      }
    }
    score[j] = second;
  }
  const chosen: number[] = [];
  const taken = new Uint8Array(N);
  for (let step = 0; step < k; step++) {
    if (step === 1) score.fill(Infinity);
    if (step >= 1) {
      const row = chosen[step - 1]! * N;
      for (let j = 0; j < N; j++) score[j] = Math.min(score[j]!, distances[row + j]!);
    }
    let best = -1;
    for (let j = 0; j < N; j++) if (!taken[j] && (best < 0 || score[j]! > score[best]!)) best = j;
    chosen.push(best);
    taken[best] = 1;
  }
  return chosen;
}

export function divPrune(options: DivPruneOptions = {}): TokenReducer {
  const o = parseOptions('divprune', divPruneOptionsSchema, options);
  const settings = { ratio: o.ratio ?? DIVPRUNE_DEFAULT_RATIO, keep: o.keep ?? null };
  return {
    name: 'divprune',
    options: settings.keep !== null ? { keep: settings.keep } : { ratio: settings.ratio },
    positionPolicy: 'reindex',
    boundaries: [0],
    checkModel() {},
    plannedImageTokensPerLayer(imageTokens, numLayers) {
      return Array<number>(numLayers).fill(divPruneKept(settings, imageTokens));
    },
    async onBoundary({ sequence, cosineDistances }) {
      const N = sequence.imageTokens.length;
      const k = divPruneKept(settings, N);
      if (k < 1 || k > N) {
        throw new OptionError({
          subject: settings.keep !== null ? 'divprune keep' : 'divprune ratio',
          expected: `a count in [1, ${N}] of the image's ${N} tokens`,
          found: settings.keep !== null ? String(k) : `${settings.ratio} x ${N} -> ${k}`,
        });
      }
      const D = sequence.hidden.length / sequence.positions.length;
      const vectors = sequence.hidden.slice(sequence.imageStart * D, (sequence.imageStart + N) * D);
      const order = maxMinDiverse(await cosineDistances!(vectors, N), N, k);
      return {
        keep: [...order].sort((a, b) => a - b),
        detail: { selectionOrder: order.map((j) => sequence.imageTokens[j]!) },
      };
    },
  };
}
