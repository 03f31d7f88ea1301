// The strategies one bench compares: `none` first (every speedup divides its prefill), then each
// --reduce name built from the shared strategy flags, MustDrop once per token budget. When --layers
// cuts the decoder, the papers' layer lists are scaled to the depth that runs, unless given.
import { dart, fastV, mustDrop, MUSTDROP_BUDGETS, OptionError, pyramidDrop, type TokenReducer } from '../index.js';
import { MUSTDROP_STAGES } from '../reduce/must-drop.js';
// The bench takes exactly the flags generate, flops and show take, so it builds strategies as they do.
import { SPARSEVLM_DEFAULT_LAYERS } from '../reduce/sparsevlm.js';
import { reducerFromFlags, strategyNames, type ReduceFlags, type StrategyName } from '../reduce/registry.js';

export type MustDropBudget = keyof typeof MUSTDROP_BUDGETS;
export const DEFAULT_MUSTDROP_BUDGETS: readonly MustDropBudget[] = [192, 128, 64];

export interface StrategyFlags extends ReduceFlags {
  /** Budgets MustDrop runs at, one row each (text "192,128,64" or numbers); default all three. */
  readonly mustdropBudgets?: string | readonly number[];
}

export interface BenchStrategy {
  /** The reducer's name (`none` for the baseline). */
  readonly name: string;
  /** Name and the options that tell rows apart, as the table shows it: `pdrop 3,6,9`. */
  readonly label: string;
  readonly reducer: TokenReducer | null;
}

/** A layer list the bench changed to fit a cut decoder, for the table's header. */
export interface ScaledList {
  readonly flag: string;
  readonly from: readonly number[];
  readonly to: readonly number[];
}

/**
 * round(l·layers/totalLayers) for each l, raised where needed to stay >= min and strictly
 * increasing; entries that reach `below` are dropped (so a very shallow cut keeps fewer stages).
 */
export function scaleLayerList(list: readonly number[], layers: number, totalLayers: number, min: number, below: number): number[] {
  const scaled: number[] = [];
  for (const l of list) {
    const next = Math.max(Math.round((l * layers) / totalLayers), min, (scaled.at(-1) ?? -Infinity) + 1);
    if (next < below) scaled.push(next);
  }
  return scaled;
}

/**
 * The flags with the default layer lists of the strategies in `names` scaled from the full depth to
 * `layers`, for each list the user did not give; unchanged at full depth. The defaults are read
 * from the strategies themselves. FastV's K stays >= 1; PyramidDrop's counts lie in [1, layers);
 * MustDrop's layer indices lie below layers - 1 (a layer must follow the last filter).
 */
export function scaleLayerLists(
  flags: ReduceFlags,
  names: readonly StrategyName[],
  layers: number,
  totalLayers: number,
): { flags: ReduceFlags; scaled: ScaledList[] } {
  if (layers >= totalLayers) return { flags, scaled: [] };
  const scaled: ScaledList[] = [];
  const result: ReduceFlags = { ...flags };
  if (flags.fastvK === undefined && names.some((n) => n.endsWith('fastv'))) {
    const k = fastV().options.k as number;
    result.fastvK = Math.max(1, Math.round((k * layers) / totalLayers));
    scaled.push({ flag: '--fastv-k', from: [k], to: [result.fastvK] });
  }
  if (flags.dartLayer === undefined && names.includes('dart')) {
    const layer = dart().options.layer as number;
    result.dartLayer = Math.max(1, Math.round((layer * layers) / totalLayers));
    scaled.push({ flag: '--dart-layer', from: [layer], to: [result.dartLayer] });
  }
  if (flags.pdropLayers === undefined && names.some((n) => n.endsWith('pdrop'))) {
    const list = pyramidDrop().options.layers as number[];
    result.pdropLayers = scaleLayerList(list, layers, totalLayers, 1, layers);
    scaled.push({ flag: '--pdrop-layers', from: list, to: result.pdropLayers });
  }
  // Only plain MustDrop filters in the decoder; the compositions take its vision stage alone.
  if (flags.mustdropLayers === undefined && names.includes('mustdrop')) {
    const list = mustDrop().options.layers as number[];
    result.mustdropLayers = scaleLayerList(list, layers, totalLayers, 0, layers - 1);
    scaled.push({ flag: '--mustdrop-layers', from: list, to: result.mustdropLayers });
  }
  if (flags.sparsevlmLayers === undefined && names.includes('sparsevlm')) {
    const list = [...SPARSEVLM_DEFAULT_LAYERS];
    result.sparsevlmLayers = scaleLayerList(list, layers, totalLayers, 1, layers);
    scaled.push({ flag: '--sparsevlm-layers', from: list, to: result.sparsevlmLayers });
  }
  return { flags: result, scaled };
}

/** --mustdrop-budgets as budgets: each a shipped one (192, 128, 64), each once. */
export function parseMustDropBudgets(given: string | readonly number[] | undefined): MustDropBudget[] {
  if (given === undefined) return [...DEFAULT_MUSTDROP_BUDGETS];
  const items = typeof given === 'string' ? given.split(',').map((s) => s.trim()) : given;
  const values = items.map((item) => (typeof item === 'string' && !/^\d+$/.test(item) ? NaN : Number(item)));
  const known = Object.keys(MUSTDROP_BUDGETS).map(Number);
  if (values.length === 0 || !values.every((v) => known.includes(v)) || new Set(values).size !== values.length) {
    throw new OptionError({
      subject: '--mustdrop-budgets',
      expected: `a comma-separated list of distinct budgets among ${known.sort((a, b) => b - a).join(', ')}`,
      found: typeof given === 'string' ? JSON.stringify(given) : `[${given.join(', ')}]`,
    });
  }
  return values as MustDropBudget[];
}

/**
 * The strategies to run, `none` first whether listed or not. `mustdrop` becomes one strategy per
 * budget unless --mustdrop-budget or explicit thresholds pin one. Throws OptionError on a bad name,
 * a name listed twice, a flag of a strategy not listed, or options that do not fit `layers`.
 */
export function benchStrategies(
  flags: StrategyFlags,
  layers: number,
  totalLayers: number,
): { strategies: BenchStrategy[]; scaled: ScaledList[] } {
  const listed = strategyNames(flags);
  const repeated = listed.find((name, i) => listed.indexOf(name) !== i);
  if (repeated) throw new OptionError({ subject: '--reduce', expected: 'each strategy once', found: `${repeated} twice` });
  const names: StrategyName[] = ['none', ...listed.filter((n) => n !== 'none')];
  const pinned = flags.mustdropBudget !== undefined || flags.mustdropGlobalThr !== undefined || flags.mustdropIndividualThr !== undefined;
  if (flags.mustdropBudgets !== undefined && (pinned || !names.includes('mustdrop'))) {
    throw new OptionError({
      subject: '--mustdrop-budgets',
      expected: '--reduce with mustdrop, and neither --mustdrop-budget nor thresholds',
      found: pinned ? 'a budget or thresholds given too' : `--reduce ${names.join(',')}`,
    });
  }
  const budgets = pinned ? [undefined] : parseMustDropBudgets(flags.mustdropBudgets);
  const { flags: scaledFlags, scaled } = scaleLayerLists(flags, names, layers, totalLayers);
  const strategies = names.flatMap((name) =>
    (name === 'mustdrop' ? budgets : [undefined]).map((budget) => {
      const reducer = reducerFromFlags(name, budget === undefined ? scaledFlags : { ...scaledFlags, mustdropBudget: budget }, names);
      reducer?.checkModel(layers);
      return { name: reducer?.name ?? 'none', label: strategyLabel(reducer, budget ?? flags.mustdropBudget), reducer };
    }),
  );
  return { strategies, scaled };
}

/** `none`, `fastv K=1 R=0.5`, `pdrop 3,6,9`, `mustdrop 1,2,4,5 budget 128`, `mustdrop-vision+pdrop 3,6,9`, `dart K=2 4+4 pivots M=128`, `divprune ratio 0.098`. */
export function strategyLabel(reducer: TokenReducer | null, budget?: number): string {
  if (!reducer) return 'none';
  const prefillName = reducer.name.split('+').at(-1)!;
  // A composition's options are {vision, prefill}; the prefill part tells rows apart.
  const options = (reducer.name.includes('+') ? reducer.options.prefill : reducer.options) as Record<string, unknown>;
  const list = (key: string) => (options[key] as readonly number[]).join(',');
  switch (prefillName) {
    case 'fastv':
      return `${reducer.name} K=${String(options.k)} R=${String(options.r)}`;
    case 'pdrop':
      return `${reducer.name} ${list('layers')}`;
    case 'dart': {
      const budget = options.maxTokens === null ? `r=${String(options.ratio)}` : `M=${String(options.maxTokens)}`;
      return `${reducer.name} K=${String(options.layer)} ${String(options.pivotImage)}+${String(options.pivotText)} pivots ${budget}`;
    }
    case 'divprune':
      return `${reducer.name} ${options.keep !== undefined ? `keep ${String(options.keep)}` : `ratio ${String(options.ratio)}`}`;
    case 'visionzip':
      return `visionzip ${String(options.dominant)}+${String(options.contextual)}`;
    case 'sparsevlm':
      return `sparsevlm ${list('layers')} scale ${String(options.scale)} bias ${String(options.bias)}`;
    default: {
      const thresholds = budget !== undefined ? `budget ${budget}` : `thresholds ${String(options.globalThr)}/${String(options.individualThr)}`;
      const stages = options.stages as readonly string[];
      const partial = stages.length < MUSTDROP_STAGES.length ? ` (${stages.join(',')} only)` : '';
      return `${reducer.name} ${list('layers')} ${thresholds}${partial}`;
    }
  }
}
