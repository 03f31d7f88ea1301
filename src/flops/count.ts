// FLOPs of a prefill with or without token reduction, in three accountings: the PyramidDrop paper's
// and the FastV paper's (so their tables can be checked, algorithms.md section 5) and `full`, what
// this engine really computes (engine.ts) plus the strategy's own scoring work: the one to trust.
// Legend: N image tokens entering the decoder, n tokens counted at a layer, L layers, d hidden, m MLP width.
import type { LlavaArch, TextArch } from '../config/llava.js';
import { OptionError } from '../errors.js';
import type { TokenReducer } from '../reduce/types.js';
import { dartScoringFlops, decoderLayerFlops, divPruneScoringFlops, lastRowLogitsFlops, nextLayerScoresFlops, visionFlops } from './engine.js';

export const ACCOUNTINGS = ['pdrop', 'fastv', 'full'] as const;
export type Accounting = (typeof ACCOUNTINGS)[number];

export interface FlopsInput {
  readonly text: TextArch;
  /** `full` only: also count encoding the images (CLIP tower and projector, engine.ts visionFlops). */
  readonly vision?: LlavaArch;
  /** Image tokens entering the decoder (N): the ratio's baseline keeps them all in every layer. */
  readonly imageTokens: number;
  /** `full` with `vision`: LLaVA-NeXT's crops (base + tiles) when known; see visionFlops. */
  readonly crops?: number;
  /**
   * Image tokens entering each decoder layer. Default: the reducer's plan for N, else N everywhere.
   * The papers' accountings take fractional counts (the FastV paper's tables use (1 - R)·576 unrounded).
   */
  readonly imageTokensPerLayer?: readonly number[];
  /** Prompt tokens that are not image tokens; the `pdrop` accounting does not count them. */
  readonly textTokens: number;
  readonly accounting: Accounting;
  /** The strategy: its plan gives the default per-layer counts, and `full` adds its scoring work. */
  readonly reducer?: TokenReducer | null;
  /** A LLaVA-NeXT model (anyres), where some strategies budget differently (DART). */
  readonly anyres?: boolean;
}

export interface FlopsResult {
  /** `pdrop`, `full`: total FLOPs of the prefill; `fastv`: the per-layer average, total / L. */
  readonly flops: number;
  /** flops / the same accounting without reduction (N image tokens in every layer, no scoring). */
  readonly ratio: number;
  /** Sum over layers of the image tokens entering each layer, / L (PyramidDrop issue #22). */
  readonly averageImageTokens: number;
  readonly imageTokensPerLayer: readonly number[];
}

/** The FastV and PyramidDrop papers' Eq. 5 per layer: 4nd² + 2n²d + c·n·d·m, c FFN matrices. */
function paperLayerFlops(t: TextArch, n: number, ffnMatrices: number): number {
  const d = t.hiddenSize;
  return 4 * n * d * d + 2 * n * n * d + ffnMatrices * n * d * t.intermediateSize;
}

/** What a boundary's scoring sees: rows there, image tokens among them, the image tokens it keeps. */
interface BoundaryCounts {
  readonly tokens: number;
  readonly imageTokens: number;
  readonly kept: number;
}

/**
 * Work a strategy adds at a boundary beyond the layers themselves. FastV reads the last row's
 * probabilities out of the attention layer K-1 computes anyway; PyramidDrop scores the last row as
 * the next layer would (runtime attentionScores).
 */
const SCORING_FLOPS: Readonly<Record<string, (t: TextArch, counts: BoundaryCounts, reducer: TokenReducer) => number>> = {
  fastv: () => 0,
  pdrop: (t, { tokens }) => nextLayerScoresFlops(t, tokens, 1),
  // MustDrop ranks with the attention rows its pruning layers compute anyway.
  mustdrop: () => 0,
  dart: (t, counts, reducer) => dartScoringFlops(t, counts, reducer.options.pivotImage as number, reducer.options.pivotText as number),
  divprune: (t, { imageTokens, kept }) => divPruneScoringFlops(t, imageTokens, kept),
  // VisionZip ranks inside the tower, with the class row and head-mean keys layer L-2 computes anyway
  // (its cosine assignment, M x C x head dim, is ~0.001% of that layer); the decoder just sees fewer tokens.
  visionzip: () => 0,
  // SparseVLM scores with its pruning layers' own attention rows; the rank of a raters x N matrix and
  // DPC-kNN over at most 0.3 N + 1 hidden rows (c^2 D) stay below 0.1% of a layer at LLaVA sizes.
  sparsevlm: () => 0,
};

function decoderFlops(input: FlopsInput, perLayer: readonly number[], reducer: TokenReducer | null): number {
  const { text: t, textTokens } = input;
  const sum = (layerFlops: (n: number) => number) => perLayer.reduce((total, n) => total + layerFlops(n), 0);
  switch (input.accounting) {
    case 'pdrop':
      // Image tokens only, FFN counted with its 3 matrices (gate, up, down).
      return sum((n) => paperLayerFlops(t, n, 3));
    case 'fastv':
      // Every prompt token, FFN counted with 2 matrices, averaged over layers ("FLOPs(B)" in FastV's
      // tables). Those tables keep 36 + (1 - R)·576 tokens unrounded; a FastV reducer's plan keeps
      // round(N(1 - R)), what the engine really keeps, so at R = 90 % (58 of 576, not 57.6) its
      // entries read up to 0.1 B higher. count.test.ts passes the papers' counts to check the tables.
      return sum((n) => paperLayerFlops(t, textTokens + n, 2)) / t.numLayers;
    case 'full': {
      const scoring = reducer
        ? reducer.boundaries.reduce((total, b) => {
            const before = b > 0 ? perLayer[b - 1]! : input.imageTokens; // boundary 0: the input embeddings
            const kept = perLayer[b]!;
            return total + scoringFlops(reducer, t, { tokens: textTokens + before, imageTokens: before, kept });
          }, 0)
        : 0;
      const vision = input.vision ? visionFlops(input.vision, input.imageTokens, input.crops) : 0;
      return sum((n) => decoderLayerFlops(t, textTokens + n)) + lastRowLogitsFlops(t) + scoring + vision;
    }
  }
}

function scoringFlops(reducer: TokenReducer, t: TextArch, counts: BoundaryCounts): number {
  const flops = SCORING_FLOPS[reducer.name];
  if (!flops) {
    throw new OptionError({
      subject: `--reduce ${reducer.name}`,
      expected: `a strategy whose scoring work the full accounting knows (${Object.keys(SCORING_FLOPS).join(', ')})`,
      found: JSON.stringify(reducer.name),
    });
  }
  return flops(t, counts, reducer);
}

/** A strategy's declared counts; data-dependent strategies (MustDrop) need measured ones. */
function plannedCounts(reducer: TokenReducer, imageTokens: number, numLayers: number, anyres: boolean): number[] {
  if (!reducer.plannedImageTokensPerLayer) {
    throw new OptionError({
      subject: `--reduce ${reducer.name}`,
      expected: 'a strategy whose kept counts do not depend on the image',
      found: `${reducer.name}, whose counts come from a run (see generate --json, or bench)`,
    });
  }
  return reducer.plannedImageTokensPerLayer(imageTokens, numLayers, anyres);
}

export function countFlops(input: FlopsInput): FlopsResult {
  const L = input.text.numLayers;
  const N = input.imageTokens;
  const reducer = input.reducer ?? null;
  reducer?.checkModel(L);
  const perLayer = input.imageTokensPerLayer ?? (reducer ? plannedCounts(reducer, N, L, input.anyres ?? false) : Array<number>(L).fill(N));
  checkCounts(input, perLayer);
  if (input.vision && input.accounting !== 'full') {
    throw new OptionError({ subject: '--vision', expected: '--accounting full (the papers count the decoder only)', found: `--accounting ${input.accounting}` });
  }
  const flops = decoderFlops(input, perLayer, reducer);
  return {
    flops,
    ratio: flops / decoderFlops(input, Array<number>(L).fill(N), null),
    averageImageTokens: perLayer.reduce((a, b) => a + b, 0) / L,
    imageTokensPerLayer: perLayer,
  };
}

function checkCounts(input: FlopsInput, perLayer: readonly number[]): void {
  const { imageTokens: N, textTokens, accounting } = input;
  // The engine runs whole rows; the papers' formulas are polynomials in n and take any count.
  const whole = accounting === 'full';
  const isCount = (n: number, min: number) => Number.isFinite(n) && n >= min && (!whole || Number.isInteger(n));
  const kind = whole ? 'a whole number' : 'a number';
  if (!isCount(N, 1)) throw new OptionError({ subject: '--image-tokens', expected: `${kind} >= 1`, found: String(N) });
  if (!isCount(textTokens, 0)) throw new OptionError({ subject: '--text-tokens', expected: `${kind} >= 0`, found: String(textTokens) });
  if (input.crops !== undefined && !(Number.isInteger(input.crops) && input.crops >= 1)) {
    throw new OptionError({ subject: 'crops', expected: 'a whole number >= 1', found: String(input.crops) });
  }
  if (perLayer.length !== input.text.numLayers || !perLayer.every((n) => isCount(n, 0) && n <= N)) {
    throw new OptionError({
      subject: 'imageTokensPerLayer',
      expected: `${input.text.numLayers} counts, each ${kind} in [0, ${N}]`,
      found: `[${perLayer.join(', ')}]`,
    });
  }
}
