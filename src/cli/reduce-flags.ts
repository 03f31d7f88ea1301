// The token-reduction flags that generate, bench, flops and show share, and the strategies they
// build: --reduce none|fastv|pdrop|mustdrop|mustdrop-vision+fastv|mustdrop-vision+pdrop,
// --fastv-k/--fastv-r, --pdrop-layers with --pdrop-ratios or --pdrop-lambda, --mustdrop-*.
// Defaults are the papers' (K=2, R=0.5; layers 8,16,24, lambda 0.5; MustDrop budget 192).
import type { Command } from 'commander';
import { fastV, mustDrop, OptionError, pyramidDrop, withVisionStage, type MustDropOptions, type TokenReducer } from '../index.js';
import { parseNumber, parseWholeNumber } from './options.js';

export const STRATEGY_NAMES = ['none', 'fastv', 'pdrop', 'mustdrop', 'mustdrop-vision+fastv', 'mustdrop-vision+pdrop'] as const;
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
}

function numberList(flag: string, parseItem: (text: string) => number): (text: string) => number[] {
  return (text) => text.split(',').map((item) => parseItem(item.trim()));
}

/** Adds the strategy flags to `command`; `list` lets --reduce name several strategies (bench). */
export function addReduceFlags(command: Command, list = false): Command {
  return command
    .option(
      '--reduce <name>',
      list ? `strategies to compare, comma-separated: ${STRATEGY_NAMES.join(', ')}` : `token reduction: ${STRATEGY_NAMES.join(', ')}`,
    )
    .option('--fastv-k <K>', 'FastV: decoder layers run before the drop (default 2)', parseWholeNumber('--fastv-k', 0))
    .option('--fastv-r <R>', 'FastV: share of image tokens dropped (default 0.5)', parseNumber('--fastv-r', () => true, 'a number'))
    .option('--pdrop-layers <list>', 'PyramidDrop: layer counts after which to drop (default 8,16,24)', numberList('--pdrop-layers', parseWholeNumber('--pdrop-layers', 0)))
    .option('--pdrop-ratios <list>', 'PyramidDrop: kept share of the original image tokens per stage', numberList('--pdrop-ratios', parseNumber('--pdrop-ratios', () => true, 'numbers')))
    .option('--pdrop-lambda <L>', 'PyramidDrop: ratios L, L^2, L^3, ... (default 0.5)', parseNumber('--pdrop-lambda', () => true, 'a number'))
    .option('--mustdrop-budget <n>', 'MustDrop: the shipped thresholds for a 192, 128 or 64 token budget (default 192)', parseWholeNumber('--mustdrop-budget', 1))
    .option('--mustdrop-global-thr <G>', 'MustDrop: drop when the share of text attention is below G ...', parseNumber('--mustdrop-global-thr', () => true, 'a number'))
    .option('--mustdrop-individual-thr <I>', '... and the largest single text attention is below I', parseNumber('--mustdrop-individual-thr', () => true, 'a number'))
    .option('--mustdrop-layers <list>', 'MustDrop: decoder layers after which to filter (default 2,6,10,14)', numberList('--mustdrop-layers', parseWholeNumber('--mustdrop-layers', 0)))
    .option('--mustdrop-stages <list>', 'MustDrop: stages to run, any of vision,prefill,decode (default all)', (text: string) => text.split(',').map((s) => s.trim()))
    .option('--mustdrop-corrected-positions', "MustDrop: decode positions consistent with the cached keys (the code's are not, see README)");
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
