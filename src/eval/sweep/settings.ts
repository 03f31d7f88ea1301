// The settings a sweep runs, with token budgets matched across methods as the papers match them
// (algorithms.md 2.6, 3.4; methods/*.md): a budget B is B of LLaVA-1.5's 576 image tokens, scaled
// to the model's N image tokens (B x N / 576), and each method is set the way its own paper states
// B. Two rules:
// - average over the decoder's layers (sum over layers of the image tokens entering each, / L),
//   the rule FastV's and PyramidDrop's budgets follow in PyramidDrop's and MustDrop's tables:
//   FastV keeps K = 2 and gets the R whose average is B; PyramidDrop takes its author's recipe for
//   small budgets (layers 2, 8, 16 with ratios lambda, lambda^2, lambda^3; issue #29) and the
//   lambda whose average is closest to B; MustDrop runs at the thresholds its scripts ship for B
//   (its kept count follows from the data, so the table reports the measured average);
// - kept after the method's one reduction, the rule DART's and DivPrune's papers state ("64 of 576
//   tokens"): DART runs its code's max_num_trunction M = B at its K = 2 (it keeps the image pivots
//   beyond M, P_I + (P_I + P_T) floor(M / (P_I + P_T)), and the K layers before it see every token,
//   so its average lies above B); DivPrune keeps round(r N) with r = B / 576 before the first layer,
//   so its average is B.
// Layer lists are the papers' for 32 layers, scaled to the model's depth.
import { OptionError } from '../../errors.js';
import { DART_DEFAULTS, dartKept } from '../../reduce/dart.js';
import { MUSTDROP_BUDGETS } from '../../reduce/must-drop.js';
import { reducerFromFlags, type ReduceFlags, type StrategyName } from '../../reduce/registry.js';

export const SWEEP_METHODS = ['none', 'fastv', 'pdrop', 'mustdrop', 'dart', 'divprune'] as const;
export type SweepMethod = (typeof SWEEP_METHODS)[number];
/** What `eval sweep` runs without --reduce; the others by name (each adds a run per budget). */
export const DEFAULT_SWEEP_METHODS: readonly SweepMethod[] = ['none', 'fastv', 'pdrop', 'mustdrop'];
export const DEFAULT_BUDGETS: readonly number[] = [192, 128, 64];

const PAPER_IMAGE_TOKENS = 576;
const PAPER_LAYERS = 32;
const FASTV_K = 2;
const PDROP_SMALL_BUDGET_LAYERS = [2, 8, 16];
const MUSTDROP_LAYERS = [2, 6, 10, 14];

export interface SweepSetting {
  readonly method: SweepMethod;
  /** The budget of 576 it is matched to; null for none. */
  readonly budget: number | null;
  /** The budget in this model's image tokens: B x N / 576. */
  readonly targetAverage: number | null;
  /** Average image tokens per layer the plan gives (null when data-dependent: MustDrop). DART's lies above the target by its rule. */
  readonly plannedAverage: number | null;
  readonly flags: ReduceFlags;
  /** Name and budget, e.g. `pdrop-64`: the answers file's name. */
  readonly label: string;
  /** The options as flags, for the table. */
  readonly setting: string;
}

/** round(l x L / 32), kept >= min, strictly increasing, entries reaching `below` dropped. */
export function scaleLayers(list: readonly number[], layers: number, min: number, below: number): number[] {
  const scaled: number[] = [];
  for (const l of list) {
    const next = Math.max(Math.round((l * layers) / PAPER_LAYERS), min, (scaled.at(-1) ?? -Infinity) + 1);
    if (next < below) scaled.push(next);
  }
  return scaled;
}

function averageOf(name: StrategyName, flags: ReduceFlags, imageTokens: number, layers: number): number {
  const reducer = reducerFromFlags(name, { ...flags, reduce: name });
  const perLayer = reducer!.plannedImageTokensPerLayer!(imageTokens, layers);
  return perLayer.reduce((a, b) => a + b, 0) / layers;
}

function infeasible(method: string, budget: number, why: string): never {
  throw new OptionError({ subject: `--budgets ${budget}`, expected: `a budget ${method} can reach on this model`, found: why });
}

function fastvSetting(budget: number, target: number, imageTokens: number, layers: number): ReduceFlags {
  const k = Math.max(1, Math.round((FASTV_K * layers) / PAPER_LAYERS));
  const kept = Math.round((target * layers - k * imageTokens) / (layers - k));
  if (kept < 1 || kept > imageTokens) infeasible('FastV', budget, `K = ${k} of ${layers} layers already average more than ${target.toFixed(1)} tokens`);
  // Six decimals are exact enough that round(N(1 - R)) gives `kept` back.
  return { fastvK: k, fastvR: Number((1 - kept / imageTokens).toFixed(6)) };
}

function pdropSetting(budget: number, target: number, imageTokens: number, layers: number): ReduceFlags {
  const pdropLayers = scaleLayers(PDROP_SMALL_BUDGET_LAYERS, layers, 1, layers);
  const average = (lambda: number) => averageOf('pdrop', { pdropLayers, pdropLambda: lambda }, imageTokens, layers);
  // The average grows with lambda (a step function): bisect for the target, then take the closer side.
  let lo = 1e-6;
  let hi = 1 - 1e-6;
  if (average(lo) > target) infeasible('PyramidDrop', budget, `layers ${pdropLayers.join(',')} already average ${average(lo).toFixed(1)} tokens`);
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (average(mid) <= target) lo = mid;
    else hi = mid;
  }
  const lambda = [Number(lo.toFixed(4)), Number(hi.toFixed(4))]
    .filter((l) => l > 0 && l < 1)
    .sort((a, b) => Math.abs(average(a) - target) - Math.abs(average(b) - target))[0]!;
  return { pdropLayers, pdropLambda: lambda };
}

/** DART at the paper's "B of 576 tokens": its code's M = B (scaled to N) at K = 2 (scaled to the depth), 4 + 4 pivots as shipped. */
function dartSetting(budget: number, target: number, imageTokens: number, layers: number): ReduceFlags {
  const layer = Math.max(1, Math.round((DART_DEFAULTS.layer * layers) / PAPER_LAYERS));
  if (layer >= layers) infeasible('DART', budget, `a ${layers}-layer decoder has no layer after its pruning layer ${layer}`);
  const maxTokens = Math.round(target);
  const pivots = DART_DEFAULTS.pivotImage + DART_DEFAULTS.pivotText;
  if (maxTokens < pivots) infeasible('DART', budget, `M = ${maxTokens} gives its ${pivots} pivots floor(M / ${pivots}) = 0 tokens each`);
  const kept = dartKept({ ...DART_DEFAULTS, maxTokens }, imageTokens, false);
  if (kept > imageTokens) infeasible('DART', budget, `M = ${maxTokens} keeps ${kept} of ${imageTokens} tokens (its image pivots come on top of M)`);
  return { dartLayer: layer, dartMaxTokens: maxTokens };
}

/** DivPrune at the paper's ratio r = B / 576: the count round(r N) (Python's half-to-even), computed exactly in integers. */
function divpruneSetting(budget: number, imageTokens: number): ReduceFlags {
  const product = budget * imageTokens;
  const floor = Math.floor(product / PAPER_IMAGE_TOKENS);
  const twiceRest = 2 * (product - floor * PAPER_IMAGE_TOKENS);
  const keep = twiceRest > PAPER_IMAGE_TOKENS || (twiceRest === PAPER_IMAGE_TOKENS && floor % 2 === 1) ? floor + 1 : floor;
  if (keep < 1) infeasible('DivPrune', budget, `round(${budget}/576 x ${imageTokens}) = 0 tokens`);
  return { divpruneKeep: keep };
}

function describeFlags(flags: ReduceFlags): string {
  const parts: string[] = [];
  if (flags.fastvK !== undefined) parts.push(`K=${flags.fastvK} R=${flags.fastvR}`);
  if (flags.pdropLayers) parts.push(`layers ${flags.pdropLayers.join(',')} lambda=${flags.pdropLambda}`);
  if (flags.mustdropBudget !== undefined) parts.push(`budget ${flags.mustdropBudget} thresholds, layers ${flags.mustdropLayers?.join(',') ?? '2,6,10,14'}`);
  if (flags.dartMaxTokens != null) parts.push(`K=${flags.dartLayer} M=${flags.dartMaxTokens} pivots ${DART_DEFAULTS.pivotImage}+${DART_DEFAULTS.pivotText}`);
  if (flags.divpruneKeep !== undefined) parts.push(`keep ${flags.divpruneKeep}`);
  return parts.join(' ') || 'full';
}

/** The settings for `methods` (none first) at `budgets`, for a model of `layers` decoder layers and `imageTokens` image tokens. */
export function sweepSettings(methods: readonly string[], budgets: readonly number[], layers: number, imageTokens: number): SweepSetting[] {
  for (const m of methods) {
    if (!(SWEEP_METHODS as readonly string[]).includes(m)) throw new OptionError({ subject: '--reduce', expected: `methods among ${SWEEP_METHODS.join(', ')}`, found: JSON.stringify(m) });
  }
  if (budgets.length === 0 || budgets.some((b) => !Number.isInteger(b) || b < 1 || b > PAPER_IMAGE_TOKENS)) {
    throw new OptionError({ subject: '--budgets', expected: `budgets in [1, ${PAPER_IMAGE_TOKENS}] image tokens of 576`, found: budgets.join(',') });
  }
  const settings: SweepSetting[] = [{ method: 'none', budget: null, targetAverage: null, plannedAverage: imageTokens, flags: {}, label: 'none', setting: 'full' }];
  const scale = layers !== PAPER_LAYERS;
  for (const method of methods.filter((m) => m !== 'none') as SweepMethod[]) {
    for (const budget of budgets) {
      const target = (budget * imageTokens) / PAPER_IMAGE_TOKENS;
      let flags: ReduceFlags;
      if (method === 'fastv') flags = fastvSetting(budget, target, imageTokens, layers);
      else if (method === 'pdrop') flags = pdropSetting(budget, target, imageTokens, layers);
      else if (method === 'dart') flags = dartSetting(budget, target, imageTokens, layers);
      else if (method === 'divprune') flags = divpruneSetting(budget, imageTokens);
      else {
        if (!(budget in MUSTDROP_BUDGETS)) {
          throw new OptionError({ subject: `--budgets ${budget}`, expected: `MustDrop budgets among ${Object.keys(MUSTDROP_BUDGETS).join(', ')} (the thresholds its scripts ship)`, found: String(budget) });
        }
        flags = { mustdropBudget: budget, ...(scale ? { mustdropLayers: scaleLayers(MUSTDROP_LAYERS, layers, 0, layers - 1) } : {}) };
      }
      const planned = method === 'mustdrop' ? null : averageOf(method, flags, imageTokens, layers);
      settings.push({ method, budget, targetAverage: target, plannedAverage: planned, flags, label: `${method}-${budget}`, setting: describeFlags(flags) });
    }
  }
  return settings;
}
