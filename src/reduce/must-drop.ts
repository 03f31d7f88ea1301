// MustDrop (arXiv 2411.10803), as liuting20/MustDrop's code behaves (spec: algorithms.md section 3):
// - vision: after CLIP layer 0, tile the patch grid into 3x3 windows, merge the windows whose mean
//   off-diagonal cosine similarity is >= 0.8 (each into the plain mean of its tokens), order
//   [class, merged windows by descending similarity, unmerged patches in raster order]; key set =
//   top ceil(0.08 N0) patches by head-mean class-token attention at the last CLIP layer;
// - prefill: after decoder layers 2, 6, 10, 14, drop an image token when its share of the summed
//   text->image attention is below global_thr AND its largest single text attention is below
//   individual_thr; key tokens always stay; positions renumbered;
// - decode: once after prefill, shrink the caches of layers 2..14 to the final kept tokens; decode
//   positions are each layer's cache length (the code's quirk, ambiguity 17) unless corrected.
// A grid that is not a multiple of the window: only whole windows are candidates; the leftover
// rows and columns are never merged and stay in raster order with the other unmerged patches.
// LLaVA-NeXT, as MustDrop's code does it (ambiguity 22): crops concatenated flat (no unpadding, no
// newline tokens), every crop merging the same number r (the fewest over the crops) of its own
// windows, and a key set per crop.
import { z } from 'zod';
import { OptionError } from '../errors.js';
import { meanToken } from '../runtime/token-plan.js';
import { parseOptions } from './options.js';
import { topKSorted } from './select.js';
import type { TokenReducer, VisionMerge, VisionStage } from './types.js';

/** The thresholds MustDrop's scripts ship per token budget (README, scripts/v1_5/eval/textvqa_*.sh). */
export const MUSTDROP_BUDGETS = {
  192: { globalThr: 0.001, individualThr: 0.001 },
  128: { globalThr: 0.0012, individualThr: 0.001 },
  64: { globalThr: 0.011, individualThr: 0.01 },
} as const;

export const MUSTDROP_STAGES = ['vision', 'prefill', 'decode'] as const;
export type MustDropStage = (typeof MUSTDROP_STAGES)[number];

export const mustDropOptionsSchema = z
  .object({
    budget: z.union([z.literal(192), z.literal(128), z.literal(64)], { message: '192, 128 or 64' }).optional(),
    globalThr: z.number().min(0, 'global_thr in [0, 1]').max(1, 'global_thr in [0, 1]').optional(),
    individualThr: z.number().min(0, 'individual_thr in [0, 1]').max(1, 'individual_thr in [0, 1]').optional(),
    layers: z.array(z.number().int().min(0, 'layer indices >= 0')).min(1, 'at least one layer').default([2, 6, 10, 14]),
    stages: z.array(z.enum(MUSTDROP_STAGES)).min(1, 'at least one stage').default([...MUSTDROP_STAGES]),
    window: z.number().int().min(2, 'a window side >= 2').default(3),
    mergeThreshold: z.number().min(-1, 'a cosine similarity in [-1, 1]').max(1, 'a cosine similarity in [-1, 1]').default(0.8),
    keyRate: z.number().min(0, 'a key rate in [0, 1]').max(1, 'a key rate in [0, 1]').default(0.08),
    correctedDecodePositions: z.boolean().default(false),
  })
  .refine((o) => o.budget === undefined || (o.globalThr === undefined && o.individualThr === undefined), {
    message: 'a budget or thresholds, not both',
    path: ['budget'],
  })
  .refine((o) => (o.globalThr === undefined) === (o.individualThr === undefined), {
    message: 'both thresholds together',
    path: ['individualThr'],
  })
  .refine((o) => o.layers.every((l, i) => i === 0 || l > o.layers[i - 1]!), { message: 'strictly increasing layer indices', path: ['layers'] })
  .refine((o) => new Set(o.stages).size === o.stages.length, { message: 'each stage once', path: ['stages'] });

export type MustDropOptions = z.input<typeof mustDropOptionsSchema>;

/** Mean off-diagonal cosine similarity of each whole window of the patch grid (row-major ids). */
export function windowSimilarities(hidden: Float32Array, hiddenSize: number, gridSize: number, window: number): Float64Array {
  const perSide = Math.floor(gridSize / window);
  const similarities = new Float64Array(perSide * perSide);
  const members = window * window;
  for (let wy = 0; wy < perSide; wy++) {
    for (let wx = 0; wx < perSide; wx++) {
      const tokens = windowPatches(wy, wx, gridSize, window).map((p) => hidden.subarray((1 + p) * hiddenSize, (2 + p) * hiddenSize));
      const norms = tokens.map((t) => Math.max(Math.sqrt(t.reduce((sum, x) => sum + x * x, 0)), 1e-8));
      let sum = 0;
      for (let a = 0; a < members; a++) {
        for (let b = 0; b < members; b++) {
          if (a === b) continue;
          let dot = 0;
          for (let d = 0; d < hiddenSize; d++) dot += tokens[a]![d]! * tokens[b]![d]!;
          sum += dot / (norms[a]! * norms[b]!);
        }
      }
      similarities[wy * perSide + wx] = sum / (members * (members - 1));
    }
  }
  return similarities;
}

/** Patch indices of window (wy, wx), row-major inside the window. */
function windowPatches(wy: number, wx: number, gridSize: number, window: number): number[] {
  return Array.from({ length: window * window }, (_, i) => (wy * window + Math.floor(i / window)) * gridSize + wx * window + (i % window));
}

function visionStage(window: number, mergeThreshold: number, keyRate: number): VisionStage {
  return {
    mergeAfter: 1,
    merge(images): VisionMerge[] | undefined {
      const similarities = images.map(({ hidden, hiddenSize, gridSize }) => windowSimilarities(hidden, hiddenSize, gridSize, window));
      // r = how many windows reach the threshold, the fewest over the images (crops), so every
      // image merges the same count; each merges its own r most similar windows, most similar first.
      const r = Math.min(...similarities.map((sims) => sims.filter((s) => s >= mergeThreshold).length));
      if (r === 0) return undefined;
      return images.map(({ gridSize }, i) => {
        const sims = similarities[i]!;
        const perSide = Math.floor(gridSize / window);
        const merged = Array.from(sims.keys())
          .sort((a, b) => sims[b]! - sims[a]! || a - b)
          .slice(0, r);
        const groups = merged.map((id) => windowPatches(Math.floor(id / perSide), id % perSide, gridSize, window));
        const inMerged = new Set(groups.flat());
        const rest = Array.from({ length: gridSize * gridSize }, (_, p) => p).filter((p) => !inMerged.has(p));
        return { plan: { tokens: [...groups.map(meanToken), ...rest] }, mergedWindows: merged };
      });
    },
    keyAttentionLayer: -1, // the last CLIP layer (MustDrop: layer 23 of CLIP-L)
    keyTokens(attention, numHeads, tokens) {
      // attention [H, 1, S]: the class token's row; patch columns 1..S-1.
      const patches = tokens - 1;
      const scores = new Float64Array(patches);
      for (let h = 0; h < numHeads; h++) for (let j = 0; j < patches; j++) scores[j] = scores[j]! + attention[h * tokens + 1 + j]! / numHeads;
      return topKSorted(scores, Math.ceil(keyRate * patches));
    },
  };
}

/** MustDrop, all three stages by default, with budget 192's thresholds unless told otherwise. */
export function mustDrop(options: MustDropOptions = {}): TokenReducer {
  const o = parseOptions('mustdrop', mustDropOptionsSchema, options);
  const { globalThr, individualThr } = o.globalThr !== undefined ? { globalThr: o.globalThr, individualThr: o.individualThr! } : MUSTDROP_BUDGETS[o.budget ?? 192];
  const stages = new Set(o.stages);
  const prefillOn = stages.has('prefill');
  const layers = o.layers;
  return {
    name: 'mustdrop',
    options: { globalThr, individualThr, layers, stages: o.stages, window: o.window, mergeThreshold: o.mergeThreshold, keyRate: o.keyRate, correctedDecodePositions: o.correctedDecodePositions },
    positionPolicy: 'reindex',
    decodePositions: o.correctedDecodePositions ? 'continue-cache' : 'cache-length',
    boundaries: prefillOn ? layers.map((l) => l + 1) : [],
    checkModel(numLayers) {
      if (prefillOn && layers.at(-1)! >= numLayers - 1) {
        throw new OptionError({
          subject: 'mustdrop layers',
          expected: `layer indices below ${numLayers - 1} (a layer must follow the last drop)`,
          found: `[${layers.join(', ')}]`,
        });
      }
    },
    attentionRowsBefore(_boundary, sequence) {
      // Every token after the image: the question, the template and "ASSISTANT:".
      const textStart = sequence.imageStart + sequence.imageTokens.length;
      return Array.from({ length: sequence.positions.length - textStart }, (_, i) => textStart + i);
    },
    async onBoundary({ sequence, attention, numHeads }) {
      const T = sequence.positions.length;
      const n = sequence.imageTokens.length;
      const rows = T - (sequence.imageStart + n);
      const global = new Float64Array(n);
      const individual = new Float64Array(n);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < n; j++) {
          let mean = 0;
          for (let h = 0; h < numHeads; h++) mean += attention![(h * rows + r) * T + sequence.imageStart + j]!;
          mean /= numHeads;
          global[j] = global[j]! + mean;
          individual[j] = Math.max(individual[j]!, mean);
        }
      }
      const total = global.reduce((a, b) => a + b, 0);
      const keys = new Set(sequence.keyTokens);
      const keep = Array.from({ length: n }, (_, j) => j).filter((j) => keys.has(j) || global[j]! >= globalThr * total || individual[j]! >= individualThr);
      return { keep };
    },
    ...(stages.has('vision') ? { vision: visionStage(o.window, o.mergeThreshold, o.keyRate) } : {}),
    ...(stages.has('decode') && prefillOn ? { shrinkCachesAfterPrefill: { from: layers[0]!, to: layers.at(-1)! + 1 } } : {}),
  };
}
