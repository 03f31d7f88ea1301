// What each panel of `visdrop show` draws, from a strategy's reduction record: all image tokens;
// with a vision stage (MustDrop) the merge, its merged windows outlined and its key tokens marked;
// then one panel per decoder stage, the patches of kept tokens clear and the rest dimmed. Kept
// indices name image tokens the decoder saw first; after a merge one token stands for several
// patches (`vision.imageTokenOrder`), so a kept merged token keeps all of its patches clear.
import { GraphError } from '../errors.js';
import type { ReductionRecord } from '../generate/prefill.js';
import type { LegendEntry, StagePanel } from './draw-stages.js';

export interface TokenGrid {
  /** Image tokens the decoder sees without any reduction (the architecture's count). */
  readonly imageTokens: number;
  /** Leading image tokens that stand for no patch: CLIP's class token under the `full` feature selection. */
  readonly classTokens: number;
}

export interface Panels {
  readonly panels: StagePanel[];
  /** Explains outlines, marks and dimming; empty without a vision stage, whose pictures need none. */
  readonly legend: LegendEntry[];
}

/**
 * The patches each image token the decoder first saw stands for: none for a class token, its
 * `imageTokenOrder` entry after a merge, else the one patch in raster order.
 */
export function tokenPatches(reduction: ReductionRecord, grid: TokenGrid): (token: number) => readonly number[] {
  const order = reduction.vision?.imageTokenOrder;
  const tokens = order ? grid.classTokens + order.length : grid.imageTokens;
  // The record's own count of image tokens entering layer 0 must agree, or every index would be off.
  const entering = reduction.imageTokensPerLayer[0];
  if (entering !== undefined && entering !== tokens) {
    throw new GraphError({ subject: `${reduction.strategy} reduction record`, expected: `${tokens} image tokens entering layer 0`, found: String(entering) });
  }
  return (token) => {
    if (!Number.isInteger(token) || token < 0 || token >= tokens) {
      throw new GraphError({ subject: `${reduction.strategy} reduction record`, expected: `image token indices in 0..${tokens - 1}`, found: String(token) });
    }
    if (token < grid.classTokens) return [];
    const patch = token - grid.classTokens;
    return order ? order[patch]! : [patch];
  };
}

/** `part` of `whole` in percent, one decimal, no trailing ".0". */
function percent(part: number, whole: number): string {
  return `${((100 * part) / whole).toFixed(1).replace(/\.0$/, '')}%`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The panels for `reduction` and, with a vision stage, the legend explaining them. */
export function stagePanels(reduction: ReductionRecord, grid: TokenGrid): Panels {
  const patchesOf = tokenPatches(reduction, grid);
  const vision = reduction.vision;
  const keys = vision?.keySet ?? [];
  // Groups, not patches: one outline per merged token and one mark per key token, however many
  // patches it stands for. A key on a class token (no patch) has nothing to mark.
  const outlinedAmong = (tokens: readonly number[]) => tokens.map(patchesOf).filter((patches) => patches.length > 1);
  const markedAmong = (tokens: readonly number[]) => tokens.map(patchesOf).filter((patches) => patches.length > 0);
  const panels: StagePanel[] = [{ keptPatches: null, caption: `all ${grid.imageTokens} image tokens` }];
  if (vision) {
    const after = grid.classTokens + vision.imageTokenOrder.length;
    const all = Array.from({ length: after }, (_, t) => t);
    panels.push({
      keptPatches: null,
      outlined: outlinedAmong(all),
      marked: markedAmong(keys),
      caption: `vision: ${plural(vision.mergedWindows.length, 'window')} merged (${grid.imageTokens} -> ${after}), ${plural(keys.length, 'key token')}`,
    });
  }
  for (const stage of reduction.stages) {
    const kept = stage.keptImageTokens;
    const keptSet = new Set(kept);
    const keysKept = keys.filter((k) => keptSet.has(k));
    const caption = `after ${plural(stage.afterLayer, 'layer')}: ${kept.length} kept (${percent(kept.length, grid.imageTokens)})`;
    panels.push({
      keptPatches: kept.flatMap(patchesOf),
      outlined: outlinedAmong(kept),
      marked: markedAmong(keysKept),
      caption: vision && keys.length > 0 ? `${caption}, ${keysKept.length} of ${plural(keys.length, 'key token')}` : caption,
    });
  }
  const legend: LegendEntry[] = vision
    ? [
        { swatch: 'outline', label: 'merged window (one token)' },
        ...(keys.length > 0 ? [{ swatch: 'mark' as const, label: 'key token (top CLIP class-token attention)' }] : []),
        ...(reduction.stages.length > 0 ? [{ swatch: 'dimmed' as const, label: 'dropped' }] : []),
      ]
    : [];
  return { panels, legend };
}

/** Option values for the title: arrays comma-joined, nested options (a composition's) under dotted keys. */
function optionPairs(options: Readonly<Record<string, unknown>>, prefix = ''): string[] {
  return Object.entries(options).flatMap(([key, value]) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return optionPairs(value as Record<string, unknown>, `${prefix}${key}.`);
    return [`${prefix}${key}=${Array.isArray(value) ? value.join(',') : String(value)}`];
  });
}

/** Title line: the strategy and its options. */
export function strategyTitle(reduction: ReductionRecord): string {
  return `${reduction.strategy}: ${optionPairs(reduction.options).join(', ')}`;
}
