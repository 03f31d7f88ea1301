// VisionZip (arXiv 2412.04467), as dvlab-research/VisionZip's code behaves (spec:
// shared/reference/methods/visionzip.md): at CLIP layer L-2 (the layer whose output LLaVA's features
// are), keep the class token and the D-1 patches the class token attends to most (summed over
// heads), in token order; of the remaining tokens take every step-th (step = max(1, M // C)) as the
// C contextual targets, assign every other remaining token to the target whose head-mean key it is
// most cosine-similar to, and build each contextual token as target + mean of its members. The
// decoder sees [class, dominant patches ascending, contextual tokens], D + C tokens; positions are
// contiguous and decoding is vanilla. LLaVA-NeXT: per crop, assembled as the code does (vision.ts).
import { z } from 'zod';
import { OptionError } from '../errors.js';
import { parseOptions } from './options.js';
import { torchTopk } from '../util/torch-topk.js';
import type { CreatedToken, FeatureContext, FeatureStage, TokenPlan, TokenReducer } from './types.js';

/** (dominant incl. the class token, contextual) per budget, LLaVA-1.5 (the paper's table; README's 64 is the default). */
export const VISIONZIP_BUDGETS = {
  192: { dominant: 162, contextual: 30 },
  128: { dominant: 108, contextual: 20 },
  64: { dominant: 54, contextual: 10 },
} as const;

export const visionZipOptionsSchema = z.object({
  dominant: z.number().int().min(1, 'dominant >= 1 (the class token counts as one)').default(54),
  contextual: z.number().int().min(1, 'contextual >= 1').default(10),
});

export type VisionZipOptions = z.input<typeof visionZipOptionsSchema>;

/** The plan over one image's S tokens (class token 0): [class, dominant ascending, contextual]. */
export function visionZipPlan(image: FeatureContext, dominant: number, contextual: number): TokenPlan {
  const { classAttention, numHeads: H, keyMean, headDim: Hd } = image;
  const S = classAttention.length / H;
  // Class-token attention to each patch, summed over heads in float32 as the code's sum(dim=1); the
  // top D-1 as torch.topk picks them (ties at the cut included), then in token order.
  const scores = new Float32Array(S - 1);
  for (let h = 0; h < H; h++) for (let j = 0; j < S - 1; j++) scores[j] = scores[j]! + classAttention[h * S + 1 + j]!;
  const kept = [0, ...torchTopk(scores, dominant - 1).sort((a, b) => a - b).map((j) => j + 1)];
  const keptSet = new Set(kept);
  const remaining = Array.from({ length: S }, (_, t) => t).filter((t) => !keptSet.has(t));
  const step = Math.max(1, Math.floor(remaining.length / contextual));
  const targetPlaces = Array.from({ length: contextual }, (_, c) => c * step);
  const targets = targetPlaces.map((place) => remaining[place]!);
  const targetSet = new Set(targets);
  const normalized = (t: number) => {
    const k = keyMean.subarray(t * Hd, (t + 1) * Hd);
    const norm = Math.sqrt(k.reduce((sum, x) => sum + x * x, 0));
    return Array.from(k, (x) => x / norm);
  };
  const targetKeys = targets.map(normalized);
  const members: number[][] = targets.map(() => []);
  for (const t of remaining) {
    if (targetSet.has(t)) continue;
    const key = normalized(t);
    let best = 0;
    let bestSimilarity = -Infinity;
    targetKeys.forEach((target, c) => {
      let dot = 0;
      for (let d = 0; d < Hd; d++) dot += key[d]! * target[d]!;
      if (dot > bestSimilarity) {
        bestSimilarity = dot;
        best = c;
      }
    });
    members[best]!.push(t);
  }
  // target + (sum of members) / max(1, count)
  const built: CreatedToken[] = targets.map((target, c) => {
    const group = members[c]!;
    const share = 1 / Math.max(1, group.length);
    return { members: [target, ...group], weights: [1, ...group.map(() => share)] };
  });
  return { tokens: [...kept, ...built] };
}

function featureStage(dominant: number, contextual: number): FeatureStage {
  return {
    layer: -2,
    check(tokens, numLayers) {
      if (numLayers < 2) {
        throw new OptionError({ subject: 'visionzip', expected: 'a vision tower of at least 2 layers (it reads layer L-2)', found: `${numLayers} layer` });
      }
      if (dominant > tokens) {
        throw new OptionError({ subject: 'visionzip dominant', expected: `at most ${tokens} (the class token and ${tokens - 1} patches)`, found: String(dominant) });
      }
      if (tokens - dominant < contextual) {
        throw new OptionError({
          subject: 'visionzip contextual',
          expected: `at most ${tokens - dominant} (the tokens left after ${dominant} dominant of ${tokens})`,
          found: String(contextual),
        });
      }
    },
    select: (image) => visionZipPlan(image, dominant, contextual),
  };
}

export function visionZip(options: VisionZipOptions = {}): TokenReducer {
  const { dominant, contextual } = parseOptions('visionzip', visionZipOptionsSchema, options);
  return {
    name: 'visionzip',
    options: { dominant, contextual },
    positionPolicy: 'reindex',
    boundaries: [],
    checkModel() {},
    // D + C for one image (LLaVA-1.5); a count already reduced to it stays. LLaVA-NeXT's per-crop
    // counts come from a run (its total is crops x (D + C)).
    plannedImageTokensPerLayer(imageTokens, numLayers) {
      return Array.from({ length: numLayers }, () => Math.min(imageTokens, dominant + contextual));
    },
    async onBoundary() {
      return undefined;
    },
    features: featureStage(dominant, contextual),
  };
}
