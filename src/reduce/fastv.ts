// FastV (arXiv 2403.06764), as the spec's static KV-cache variant, the one PyramidDrop compares
// against (HF LLaVA port `fastv_forward`): after K layers, rank image tokens by the head-mean
// attention of the last prompt token at layer K-1, keep round(N(1-R)) of them in their original
// order and with their original positions; decode tokens continue from the full length.
// Checked against the spec, shared/reference/algorithms.md section 1.
import { z } from 'zod';
import { OptionError } from '../errors.js';
import { parseOptions } from './options.js';
import { meanAttention, roundHalfEven, topKSorted } from './select.js';
import type { TokenReducer } from './types.js';

export const fastVOptionsSchema = z.object({
  k: z.number().int().min(1, 'K >= 1 (K = 0 exists only in the mask variant)').default(2),
  r: z.number().gt(0, 'R in (0, 1)').lt(1, 'R in (0, 1)').default(0.5),
});

export type FastVOptions = z.input<typeof fastVOptionsSchema>;

/** Image tokens FastV keeps of `imageTokens`: round(N(1 - R)), Python's rounding. */
export function fastVKept(imageTokens: number, r: number): number {
  return roundHalfEven(imageTokens * (1 - r));
}

export function fastV(options: FastVOptions = {}): TokenReducer {
  const { k, r } = parseOptions('fastv', fastVOptionsSchema, options);
  return {
    name: 'fastv',
    options: { k, r },
    positionPolicy: 'keep-original',
    boundaries: [k],
    checkModel(numLayers) {
      if (k >= numLayers) {
        throw new OptionError({ subject: 'fastv K', expected: `a layer count below the decoder's ${numLayers} layers`, found: String(k) });
      }
    },
    plannedImageTokensPerLayer(imageTokens, numLayers) {
      return Array.from({ length: numLayers }, (_, layer) => (layer < k ? imageTokens : fastVKept(imageTokens, r)));
    },
    attentionRowsBefore(_boundary, sequence) {
      return [sequence.positions.length - 1];
    },
    async onBoundary({ sequence, attention, numHeads, originalImageTokens }) {
      const T = sequence.positions.length;
      const scores = meanAttention(attention!, numHeads, 1, T, sequence.imageStart, sequence.imageTokens.length);
      return { keep: topKSorted(scores, fastVKept(originalImageTokens, r)) };
    },
  };
}
