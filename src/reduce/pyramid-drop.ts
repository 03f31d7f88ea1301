// PyramidDrop (arXiv 2410.17247), as its code behaves (`pdrop_rank_drop`): after each layer count
// in `layers`, score image tokens with the NEXT layer's input RMSNorm, q/k projections and rotary
// embeddings at the current positions, softmax over all keys, mean over heads, query = the last
// prompt token; keep int(N * ratio) of the ORIGINAL N, in order; renumber positions 0..T-1. Decode
// positions continue each layer's cache. Checked against the spec, algorithms.md section 2.
import { z } from 'zod';
import { OptionError } from '../errors.js';
import { parseOptions } from './options.js';
import { meanAttention, topKSorted } from './select.js';
import type { TokenReducer } from './types.js';

const layerList = z.array(z.number().int().min(1, 'layer counts >= 1')).min(1, 'at least one layer');
const ratio = z.number().gt(0, 'ratios in (0, 1]').lte(1, 'ratios in (0, 1]');

export const pyramidDropOptionsSchema = z
  .object({
    layers: layerList.default([8, 16, 24]),
    ratios: z.array(ratio).optional(),
    lambda: z.number().gt(0, 'lambda in (0, 1)').lt(1, 'lambda in (0, 1)').optional(),
  })
  .refine((o) => o.ratios === undefined || o.lambda === undefined, { message: 'ratios or lambda, not both', path: ['lambda'] })
  .refine((o) => o.layers.every((l, i) => i === 0 || l > o.layers[i - 1]!), { message: 'strictly increasing layer counts', path: ['layers'] })
  .refine((o) => o.ratios === undefined || o.ratios.every((r, i) => i === 0 || r < o.ratios![i - 1]!), {
    message: 'decreasing ratios',
    path: ['ratios'],
  })
  .refine((o) => o.ratios === undefined || o.ratios.length === o.layers.length, { message: 'one ratio per layer count', path: ['ratios'] });

export type PyramidDropOptions = z.input<typeof pyramidDropOptionsSchema>;

/** Image tokens kept after stage s: int(N * ratios[s]), of the original N. */
export function pyramidDropKept(imageTokens: number, ratio: number): number {
  return Math.floor(imageTokens * ratio);
}

/** The layer counts and the kept ratio after each, from validated options (lambda 0.5 by default). */
export function pyramidDropStages(options: PyramidDropOptions = {}): { layers: number[]; ratios: number[] } {
  const parsed = parseOptions('pdrop', pyramidDropOptionsSchema, options);
  const lambda = parsed.lambda ?? 0.5;
  return { layers: parsed.layers, ratios: parsed.ratios ?? parsed.layers.map((_, i) => lambda ** (i + 1)) };
}

/** Throws OptionError unless every layer count leaves a next layer to score with. */
export function checkPyramidDropLayers(layers: readonly number[], numLayers: number): void {
  const last = layers.at(-1)!;
  if (last >= numLayers) {
    throw new OptionError({
      subject: 'pdrop layers',
      expected: `layer counts below the decoder's ${numLayers} layers (the next layer scores the tokens)`,
      found: `[${layers.join(', ')}]`,
    });
  }
}

export function pyramidDrop(options: PyramidDropOptions = {}): TokenReducer {
  const { layers, ratios } = pyramidDropStages(options);
  return {
    name: 'pdrop',
    options: { layers, ratios },
    positionPolicy: 'reindex',
    boundaries: layers,
    checkModel(numLayers) {
      checkPyramidDropLayers(layers, numLayers);
    },
    plannedImageTokensPerLayer(imageTokens, numLayers) {
      return Array.from({ length: numLayers }, (_, layer) => {
        const stage = layers.filter((l) => l <= layer).length;
        return stage === 0 ? imageTokens : pyramidDropKept(imageTokens, ratios[stage - 1]!);
      });
    },
    async onBoundary({ layer, sequence, numHeads, originalImageTokens, scoresAtNextLayer }) {
      const T = sequence.positions.length;
      const probs = await scoresAtNextLayer([T - 1]);
      const scores = meanAttention(probs, numHeads, 1, T, sequence.imageStart, sequence.imageTokens.length);
      const stage = layers.indexOf(layer);
      return { keep: topKSorted(scores, pyramidDropKept(originalImageTokens, ratios[stage]!)) };
    },
  };
}
