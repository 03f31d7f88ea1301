// Strategies by name from one options object: the names --reduce takes, and each strategy built
// from the options generate, bench, flops, show, eval and the server share (the CLI's flags in
// camelCase). Options of a strategy that is not asked for are refused, not ignored.
// Defaults are the papers' (K=2, R=0.5; layers 8,16,24, lambda 0.5; MustDrop budget 192) or the
// authors' code's (DART layer 2, 4+4 pivots, M 128; DivPrune ratio 0.098; VisionZip 54/10 as its
// README; SparseVLM v1 layers 3,7,16,20, scale 13.5, bias 0).
import { OptionError } from '../errors.js';
import { dart } from './dart.js';
import { divPrune } from './divprune.js';
import { fastV } from './fastv.js';
import { mustDrop, type MustDropOptions } from './must-drop.js';
import { pyramidDrop } from './pyramid-drop.js';
import { sparseVlm, type SparseVlmOptions } from './sparsevlm.js';
import { visionZip } from './visionzip.js';
import { withVisionStage, type TokenReducer } from './types.js';

export const STRATEGY_NAMES = ['none', 'fastv', 'pdrop', 'mustdrop', 'mustdrop-vision+fastv', 'mustdrop-vision+pdrop', 'visionzip', 'sparsevlm', 'dart', 'divprune'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export interface ReduceFlags {
  reduce?: string;
  fastvK?: number;
  fastvR?: number;
  pdropLayers?: number[];
  pdropRatios?: number[];
  pdropLambda?: number;
  mustdropBudget?: number;
  mustdropGlobalThr?: number;
  mustdropIndividualThr?: number;
  mustdropLayers?: number[];
  mustdropStages?: string[];
  mustdropCorrectedPositions?: boolean;
  dartLayer?: number;
  dartPivotImage?: number;
  dartPivotText?: number;
  /** A count, or null for `--dart-max-tokens none` (the ratio's budget). */
  dartMaxTokens?: number | null;
  dartRatio?: number;
  dartNextBudget?: number;
  divpruneRatio?: number;
  divpruneKeep?: number;
  visionzipDominant?: number;
  visionzipContextual?: number;
  sparsevlmLayers?: number[];
  sparsevlmScale?: number;
  sparsevlmBias?: number;
  sparsevlmPreset?: number;
  sparsevlmRecycleRatio?: number;
  /** commander's --sparsevlm-no-recycle: false when given. */
  sparsevlmRecycle?: boolean;
  sparsevlmSeed?: number;
}

/** The strategy names given to --reduce (default: none), each checked. */
export function strategyNames(flags: ReduceFlags): StrategyName[] {
  const names = (flags.reduce ?? 'none').split(',').map((n) => n.trim());
  for (const name of names) {
    if (!(STRATEGY_NAMES as readonly string[]).includes(name)) {
      throw new OptionError({ subject: '--reduce', expected: `one of ${STRATEGY_NAMES.join(', ')}`, found: JSON.stringify(name) });
    }
  }
  return names as StrategyName[];
}

/** Builds strategy `name` from the flags; flags of another strategy are refused, not ignored. */
export function reducerFromFlags(name: StrategyName, flags: ReduceFlags, allNames: readonly StrategyName[] = [name]): TokenReducer | null {
  const given = (keys: (keyof ReduceFlags)[]) => keys.filter((k) => flags[k] !== undefined);
  const uses = (strategy: string) => allNames.some((n) => n.split(/[+]/).some((part) => part.startsWith(strategy)));
  const families: ReadonlyArray<readonly [string, (keyof ReduceFlags)[]]> = [
    ['fastv', ['fastvK', 'fastvR']],
    ['pdrop', ['pdropLayers', 'pdropRatios', 'pdropLambda']],
    ['mustdrop', ['mustdropBudget', 'mustdropGlobalThr', 'mustdropIndividualThr', 'mustdropLayers', 'mustdropStages', 'mustdropCorrectedPositions']],
    ['dart', ['dartLayer', 'dartPivotImage', 'dartPivotText', 'dartMaxTokens', 'dartRatio', 'dartNextBudget']],
    ['divprune', ['divpruneRatio', 'divpruneKeep']],
    ['visionzip', ['visionzipDominant', 'visionzipContextual']],
    ['sparsevlm', ['sparsevlmLayers', 'sparsevlmScale', 'sparsevlmBias', 'sparsevlmPreset', 'sparsevlmRecycleRatio', 'sparsevlmRecycle', 'sparsevlmSeed']],
  ];
  for (const [strategy, keys] of families) {
    if (given(keys).length > 0 && !uses(strategy)) {
      throw new OptionError({ subject: `--${strategy}-*`, expected: `--reduce with ${strategy}`, found: `--reduce ${allNames.join(',')}` });
    }
  }
  switch (name) {
    case 'none':
      return null;
    case 'fastv':
      return fastvFromFlags(flags);
    case 'pdrop':
      return pdropFromFlags(flags);
    case 'mustdrop':
      return mustDrop(mustDropOptions(flags));
    case 'mustdrop-vision+fastv':
      return withVisionStage(mustDrop({ ...mustDropOptions(flags), stages: ['vision'] }), fastvFromFlags(flags));
    case 'mustdrop-vision+pdrop':
      return withVisionStage(mustDrop({ ...mustDropOptions(flags), stages: ['vision'] }), pdropFromFlags(flags));
    case 'dart':
      return dart({
        ...(flags.dartLayer !== undefined ? { layer: flags.dartLayer } : {}),
        ...(flags.dartPivotImage !== undefined ? { pivotImage: flags.dartPivotImage } : {}),
        ...(flags.dartPivotText !== undefined ? { pivotText: flags.dartPivotText } : {}),
        ...(flags.dartMaxTokens !== undefined ? { maxTokens: flags.dartMaxTokens } : {}),
        ...(flags.dartRatio !== undefined ? { ratio: flags.dartRatio } : {}),
        ...(flags.dartNextBudget !== undefined ? { nextBudget: flags.dartNextBudget } : {}),
      });
    case 'divprune':
      return divPrune({
        ...(flags.divpruneRatio !== undefined ? { ratio: flags.divpruneRatio } : {}),
        ...(flags.divpruneKeep !== undefined ? { keep: flags.divpruneKeep } : {}),
      });
    case 'visionzip':
      return visionZip({
        ...(flags.visionzipDominant !== undefined ? { dominant: flags.visionzipDominant } : {}),
        ...(flags.visionzipContextual !== undefined ? { contextual: flags.visionzipContextual } : {}),
      });
    case 'sparsevlm':
      return sparseVlm(sparseVlmOptions(flags));
  }
}

function fastvFromFlags(flags: ReduceFlags): TokenReducer {
  return fastV({ ...(flags.fastvK !== undefined ? { k: flags.fastvK } : {}), ...(flags.fastvR !== undefined ? { r: flags.fastvR } : {}) });
}

function pdropFromFlags(flags: ReduceFlags): TokenReducer {
  return pyramidDrop({
    ...(flags.pdropLayers ? { layers: flags.pdropLayers } : {}),
    ...(flags.pdropRatios ? { ratios: flags.pdropRatios } : {}),
    ...(flags.pdropLambda !== undefined ? { lambda: flags.pdropLambda } : {}),
  });
}

/** MustDrop's options from its flags; zod checks the values (budget, stage names, ranges). */
function mustDropOptions(flags: ReduceFlags): MustDropOptions {
  return {
    ...(flags.mustdropBudget !== undefined ? { budget: flags.mustdropBudget as MustDropOptions['budget'] } : {}),
    ...(flags.mustdropGlobalThr !== undefined ? { globalThr: flags.mustdropGlobalThr } : {}),
    ...(flags.mustdropIndividualThr !== undefined ? { individualThr: flags.mustdropIndividualThr } : {}),
    ...(flags.mustdropLayers ? { layers: flags.mustdropLayers } : {}),
    ...(flags.mustdropStages ? { stages: flags.mustdropStages as MustDropOptions['stages'] } : {}),
    ...(flags.mustdropCorrectedPositions ? { correctedDecodePositions: true } : {}),
  };
}

/** SparseVLM's options from its flags; zod checks the values (preset, ranges, layer order). */
function sparseVlmOptions(flags: ReduceFlags): SparseVlmOptions {
  return {
    ...(flags.sparsevlmLayers ? { layers: flags.sparsevlmLayers } : {}),
    ...(flags.sparsevlmScale !== undefined ? { scale: flags.sparsevlmScale } : {}),
    ...(flags.sparsevlmBias !== undefined ? { bias: flags.sparsevlmBias } : {}),
    ...(flags.sparsevlmPreset !== undefined ? { preset: flags.sparsevlmPreset as SparseVlmOptions['preset'] } : {}),
    ...(flags.sparsevlmRecycleRatio !== undefined ? { recycleRatio: flags.sparsevlmRecycleRatio } : {}),
    ...(flags.sparsevlmRecycle === false ? { recycle: false } : {}),
    ...(flags.sparsevlmSeed !== undefined ? { seed: flags.sparsevlmSeed } : {}),
  };
}
