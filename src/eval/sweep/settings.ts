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
//   so its average is B; VisionZip keeps D + C = B tokens out of the tower, split as its README's
//   settings split every budget (162 + 30, 108 + 20, 54 + 10: D = 27/32 of B, Python's rounding);
// - SparseVLM runs the (scale, bias) its README ships for B (192, 128, 64 only); like MustDrop's,
//   its kept counts follow from the data, and the table reports the measured average.
// With `--match mustdrop`, FastV and PyramidDrop are set to MustDrop's measured average at each
// budget instead of B's arithmetic (the issue's and the papers' tables compare methods at equal
// average kept tokens; on a shallow decoder B itself may be out of FastV's reach while MustDrop's
// average is not): they are planned after MustDrop has run (`deferred`).
// Layer lists are the papers' for 32 layers, scaled to the model's depth. A budget a method cannot
// reach on the model (FastV's first K layers alone average more than B on a shallow decoder, say)
// is reported as unreachable, with the reason, and the sweep runs the rest.
import { OptionError } from '../../errors.js';
import { DART_DEFAULTS, dartKept } from '../../reduce/dart.js';
import { MUSTDROP_BUDGETS } from '../../reduce/must-drop.js';
import { reducerFromFlags, type ReduceFlags, type StrategyName } from '../../reduce/registry.js';
import { SPARSEVLM_DEFAULT_LAYERS, SPARSEVLM_PRESETS } from '../../reduce/sparsevlm.js';

export const SWEEP_METHODS = ['none', 'fastv', 'pdrop', 'mustdrop', 'visionzip', 'sparsevlm', 'dart', 'divprune'] as const;
export type SweepMethod = (typeof SWEEP_METHODS)[number];
/** What `eval sweep` runs without --reduce; the others by name (each adds a run per budget). */
export const DEFAULT_SWEEP_METHODS: readonly SweepMethod[] = ['none', 'fastv', 'pdrop', 'mustdrop'];
export const DEFAULT_BUDGETS: readonly number[] = [192, 128, 64];
/** What FastV's and PyramidDrop's average is matched to: B scaled to the model, or MustDrop's measured average at B. */
export const SWEEP_MATCHES = ['budget', 'mustdrop'] as const;
export type SweepMatch = (typeof SWEEP_MATCHES)[number];

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

/** A budget one method cannot reach on the model: the sweep skips it and says why. */
class UnreachableBudget extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

function infeasible(method: string, budget: number, why: string): never {
  throw new UnreachableBudget(`${method} cannot reach ${budget} of 576 here: ${why}`);
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

/** Python's round (half to even) of p / q for whole p >= 0, q > 0, in integers. */
function roundHalfEven(p: number, q: number): number {
  const floor = Math.floor(p / q);
  const twiceRest = 2 * (p - floor * q);
  return twiceRest > q || (twiceRest === q && floor % 2 === 1) ? floor + 1 : floor;
}

/** VisionZip at B tokens out of the tower: D + C = round(B N / 576), D = round(27/32 of that), as 162 + 30, 108 + 20, 54 + 10 split B. */
function visionzipSetting(budget: number, imageTokens: number): ReduceFlags {
  const total = roundHalfEven(budget * imageTokens, PAPER_IMAGE_TOKENS);
  const dominant = roundHalfEven(total * 27, 32);
  const contextual = total - dominant;
  if (dominant < 1 || contextual < 1) infeasible('VisionZip', budget, `${total} tokens leave no room for both a dominant (class) token and a contextual one`);
  return { visionzipDominant: dominant, visionzipContextual: contextual };
}

/** SparseVLM at the (scale, bias) its README ships for B, on its layers 3, 7, 16, 20 scaled to the depth. */
function sparsevlmSetting(budget: number, layers: number): ReduceFlags {
  if (!(budget in SPARSEVLM_PRESETS)) {
    infeasible('SparseVLM', budget, `its README ships settings for ${Object.keys(SPARSEVLM_PRESETS).join(', ')} only`);
  }
  const scale = layers !== PAPER_LAYERS;
  return { sparsevlmPreset: budget, ...(scale ? { sparsevlmLayers: scaleLayers(SPARSEVLM_DEFAULT_LAYERS, layers, 1, layers) } : {}) };
}

/** DivPrune at the paper's ratio r = B / 576: the count round(r N) (Python's half-to-even), computed exactly in integers. */
function divpruneSetting(budget: number, imageTokens: number): ReduceFlags {
  const keep = roundHalfEven(budget * imageTokens, PAPER_IMAGE_TOKENS);
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
  if (flags.visionzipDominant !== undefined) parts.push(`D=${flags.visionzipDominant} C=${flags.visionzipContextual}`);
  if (flags.sparsevlmPreset !== undefined) parts.push(`preset ${flags.sparsevlmPreset}, layers ${flags.sparsevlmLayers?.join(',') ?? SPARSEVLM_DEFAULT_LAYERS.join(',')}`);
  return parts.join(' ') || 'full';
}

/** A method and budget the sweep cannot run on this model, and why. */
export interface UnreachableSetting {
  readonly method: SweepMethod;
  readonly budget: number;
  readonly reason: string;
}

/** A FastV or PyramidDrop run at budget B whose target is MustDrop's measured average at B (`--match mustdrop`). */
export interface DeferredSetting {
  readonly method: 'fastv' | 'pdrop';
  readonly budget: number;
}

export interface SweepPlan {
  readonly settings: readonly SweepSetting[];
  readonly unreachable: readonly UnreachableSetting[];
  /** Planned once MustDrop's run at the same budget has measured its average (empty unless matching to MustDrop). */
  readonly deferred: readonly DeferredSetting[];
  readonly layers: number;
  readonly imageTokens: number;
}

function methodFlags(method: Exclude<SweepMethod, 'none'>, budget: number, target: number, imageTokens: number, layers: number): ReduceFlags {
  switch (method) {
    case 'fastv':
      return fastvSetting(budget, target, imageTokens, layers);
    case 'pdrop':
      return pdropSetting(budget, target, imageTokens, layers);
    case 'dart':
      return dartSetting(budget, target, imageTokens, layers);
    case 'divprune':
      return divpruneSetting(budget, imageTokens);
    case 'visionzip':
      return visionzipSetting(budget, imageTokens);
    case 'sparsevlm':
      return sparsevlmSetting(budget, layers);
    case 'mustdrop':
      if (!(budget in MUSTDROP_BUDGETS)) infeasible('MustDrop', budget, `its scripts ship thresholds for ${Object.keys(MUSTDROP_BUDGETS).join(', ')} only`);
      return { mustdropBudget: budget, ...(layers !== PAPER_LAYERS ? { mustdropLayers: scaleLayers(MUSTDROP_LAYERS, layers, 0, layers - 1) } : {}) };
  }
}

/** Methods whose kept counts follow from the data: no planned average. */
const DATA_DEPENDENT: ReadonlySet<SweepMethod> = new Set(['mustdrop', 'sparsevlm']);

/**
 * The settings for `methods` (none first) at `budgets`, for a model of `layers` decoder layers and
 * `imageTokens` image tokens, and the method-budget pairs the model cannot reach; matching to
 * MustDrop, FastV and PyramidDrop come back deferred, after every other setting.
 */
export function sweepSettings(methods: readonly string[], budgets: readonly number[], layers: number, imageTokens: number, match: SweepMatch = 'budget'): SweepPlan {
  for (const m of methods) {
    if (!(SWEEP_METHODS as readonly string[]).includes(m)) throw new OptionError({ subject: '--reduce', expected: `methods among ${SWEEP_METHODS.join(', ')}`, found: JSON.stringify(m) });
  }
  if (budgets.length === 0 || budgets.some((b) => !Number.isInteger(b) || b < 1 || b > PAPER_IMAGE_TOKENS)) {
    throw new OptionError({ subject: '--budgets', expected: `budgets in [1, ${PAPER_IMAGE_TOKENS}] image tokens of 576`, found: budgets.join(',') });
  }
  if (match === 'mustdrop' && !methods.includes('mustdrop')) {
    throw new OptionError({ subject: '--match mustdrop', expected: 'mustdrop among --reduce (its measured averages are the targets)', found: methods.join(',') });
  }
  const settings: SweepSetting[] = [{ method: 'none', budget: null, targetAverage: null, plannedAverage: imageTokens, flags: {}, label: 'none', setting: 'full' }];
  const unreachable: UnreachableSetting[] = [];
  const deferred: DeferredSetting[] = [];
  for (const method of methods.filter((m) => m !== 'none') as Exclude<SweepMethod, 'none'>[]) {
    for (const budget of budgets) {
      if (match === 'mustdrop' && (method === 'fastv' || method === 'pdrop')) {
        deferred.push({ method, budget });
        continue;
      }
      const target = (budget * imageTokens) / PAPER_IMAGE_TOKENS;
      let flags: ReduceFlags;
      try {
        flags = methodFlags(method, budget, target, imageTokens, layers);
      } catch (error) {
        if (!(error instanceof UnreachableBudget)) throw error;
        unreachable.push({ method, budget, reason: error.reason });
        continue;
      }
      const planned = DATA_DEPENDENT.has(method) ? null : averageOf(method, flags, imageTokens, layers);
      settings.push({ method, budget, targetAverage: target, plannedAverage: planned, flags, label: `${method}-${budget}`, setting: describeFlags(flags) });
    }
  }
  return { settings, unreachable, deferred, layers, imageTokens };
}

/**
 * A deferred FastV or PyramidDrop run at the average MustDrop measured at its budget, or why the
 * model cannot reach it (FastV's first layer alone may average more).
 */
export function matchedSetting(deferred: DeferredSetting, mustdropAverage: number, plan: Pick<SweepPlan, 'layers' | 'imageTokens'>): SweepSetting | UnreachableSetting {
  const { method, budget } = deferred;
  let flags: ReduceFlags;
  try {
    flags = methodFlags(method, budget, mustdropAverage, plan.imageTokens, plan.layers);
  } catch (error) {
    if (!(error instanceof UnreachableBudget)) throw error;
    return { method, budget, reason: `${error.reason} (MustDrop's measured average at ${budget})` };
  }
  return {
    method,
    budget,
    targetAverage: mustdropAverage,
    plannedAverage: averageOf(method, flags, plan.imageTokens, plan.layers),
    flags,
    label: `${method}-${budget}-as-mustdrop`,
    setting: `${describeFlags(flags)} (MustDrop's average)`,
  };
}
