// The token-reduction flags that generate, bench, flops and show share, and the strategies they
// build: --reduce none|fastv|pdrop, --fastv-k/--fastv-r, --pdrop-layers with --pdrop-ratios or
// --pdrop-lambda. Defaults are the papers' (K=2, R=0.5; layers 8,16,24, lambda 0.5).
import type { Command } from 'commander';
import { fastV, OptionError, pyramidDrop, type TokenReducer } from '../index.js';
import { parseNumber, parseWholeNumber } from './options.js';

export const STRATEGY_NAMES = ['none', 'fastv', 'pdrop'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export interface ReduceFlags {
  reduce?: string;
  fastvK?: number;
  fastvR?: number;
  pdropLayers?: number[];
  pdropRatios?: number[];
  pdropLambda?: number;
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
    .option('--pdrop-lambda <L>', 'PyramidDrop: ratios L, L^2, L^3, ... (default 0.5)', parseNumber('--pdrop-lambda', () => true, 'a number'));
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
  const fastvFlags = given(['fastvK', 'fastvR']);
  const pdropFlags = given(['pdropLayers', 'pdropRatios', 'pdropLambda']);
  if (fastvFlags.length > 0 && !allNames.includes('fastv')) {
    throw new OptionError({ subject: '--fastv-k / --fastv-r', expected: '--reduce fastv', found: `--reduce ${allNames.join(',')}` });
  }
  if (pdropFlags.length > 0 && !allNames.includes('pdrop')) {
    throw new OptionError({ subject: '--pdrop-*', expected: '--reduce pdrop', found: `--reduce ${allNames.join(',')}` });
  }
  switch (name) {
    case 'none':
      return null;
    case 'fastv':
      return fastV({ ...(flags.fastvK !== undefined ? { k: flags.fastvK } : {}), ...(flags.fastvR !== undefined ? { r: flags.fastvR } : {}) });
    case 'pdrop':
      return pyramidDrop({
        ...(flags.pdropLayers ? { layers: flags.pdropLayers } : {}),
        ...(flags.pdropRatios ? { ratios: flags.pdropRatios } : {}),
        ...(flags.pdropLambda !== undefined ? { lambda: flags.pdropLambda } : {}),
      });
  }
}
