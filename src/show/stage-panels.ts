// What each panel of `visdrop show` draws, from a strategy's reduction record: all image tokens;
// with a vision stage (MustDrop) the merge, its merged windows outlined and its key tokens marked;
// then one panel per decoder stage, the patches of kept tokens clear and the rest dimmed. Kept
// indices name image tokens the decoder saw first; after a merge one token stands for several
// patches (`vision.imageTokenOrder`), so a kept merged token keeps all of its patches clear. On
// LLaVA-NeXT a token is a base or tile patch, or a row's newline, which has no patch: captions count those.
import { GraphError } from '../errors.js';
import type { RecordToken, ReductionRecord, ReductionStage } from '../generate/reduction-record.js';
import type { LegendEntry, StagePanel } from './draw-stages.js';
import { NEXT_PADDING_LABEL, nextDrawnPatch } from './next-picture.js';
import { nextImageTokens, nextTokenPlace, type NextTokenLayout } from './next-tokens.js';

export interface TokenGrid {
  /** Image tokens the decoder sees without any reduction (the architecture's count). */
  readonly imageTokens: number;
  /** Leading image tokens that stand for no patch: CLIP's class token under the `full` feature selection. */
  readonly classTokens: number;
  /** LLaVA-NeXT's packing; patches are then numbered as next-picture.ts draws them (nextDrawnPatch). */
  readonly next?: NextTokenLayout;
  /** LLaVA-NeXT under a vision stage (MustDrop's flat mode): this many crops' tokens one after another. */
  readonly flatCrops?: number;
}

export interface Panels {
  readonly panels: StagePanel[];
  /**
   * Explains outlines, marks and dimming with a vision stage, hatching and dimming on LLaVA-NeXT;
   * empty for LLaVA-1.5 without a vision stage, whose pictures need none.
   */
  readonly legend: LegendEntry[];
}

/**
 * The patches an original image token stands for (the record's original order): none for a class
 * token or a LLaVA-NeXT newline, else its one patch in raster order (on LLaVA-NeXT, the drawn base
 * or tile patch; in a vision-stage method's flat crops, crop c's patch p is c x patches + p).
 */
export function tokenPatches(reduction: ReductionRecord, grid: TokenGrid): (token: number) => readonly number[] {
  const { next } = grid;
  const vision = visionStage(reduction) ?? reduction.vision;
  if (next) {
    // The packed layout: no vision stage reorders it, and the grid's count must be the packing's.
    if (vision || grid.classTokens !== 0 || grid.imageTokens !== nextImageTokens(next)) {
      throw new GraphError({
        subject: `${reduction.strategy} reduction record on LLaVA-NeXT`,
        expected: `no vision stage and ${nextImageTokens(next)} image tokens, no class token`,
        found: `${vision ? 'a vision stage' : 'no vision stage'}, ${grid.imageTokens} image tokens, ${grid.classTokens} class tokens`,
      });
    }
  }
  // The record's own count of image tokens entering layer 0 must agree with the first span, or every
  // index would be off (unless a stage before layer 0, DivPrune's, already cut them).
  const firstSpan = visionStage(reduction)?.order.length ?? grid.imageTokens;
  const entering = reduction.stages.some((stage) => stage.afterLayer === 0) ? undefined : reduction.imageTokensPerLayer[0];
  if (entering !== undefined && entering !== firstSpan) {
    throw new GraphError({ subject: `${reduction.strategy} reduction record`, expected: `${firstSpan} image tokens entering layer 0`, found: String(entering) });
  }
  const tokens = grid.imageTokens;
  return (token) => {
    if (!Number.isInteger(token) || token < 0 || token >= tokens) {
      throw new GraphError({ subject: `${reduction.strategy} reduction record`, expected: `image token indices in 0..${tokens - 1}`, found: String(token) });
    }
    if (next) {
      const patch = nextDrawnPatch(nextTokenPlace(token, next), next);
      return patch === null ? [] : [patch];
    }
    return token < grid.classTokens ? [] : [token - grid.classTokens];
  };
}

/** The record's vision-side stage, if any. */
function visionStage(reduction: ReductionRecord): ReductionStage | undefined {
  return reduction.stages.find((stage) => stage.where === 'vision');
}

/** The patches each token of a stage's `order` stands for: built tokens through their members, "cls" none. */
function recordTokenPatches(reduction: ReductionRecord, grid: TokenGrid): (token: RecordToken) => readonly number[] {
  const patchesOf = tokenPatches(reduction, grid);
  const members = new Map(reduction.stages.flatMap((stage) => stage.created.map((c) => [c.id, c.members] as const)));
  return (token) => {
    if (typeof token === 'number') return patchesOf(token);
    const merged = members.get(token);
    if (merged) return merged.flatMap(patchesOf);
    if (token === 'cls') return [];
    throw new GraphError({ subject: `${reduction.strategy} reduction record`, expected: 'an original index, a built token id or "cls"', found: JSON.stringify(token) });
  };
}

/** A stage's image pivots (DART's `detail.imagePivots`, original image-token indices), else none. */
function imagePivots(detail: Readonly<Record<string, unknown>> | undefined): number[] {
  const pivots = detail?.imagePivots;
  return Array.isArray(pivots) ? pivots.filter((p): p is number => Number.isInteger(p)) : [];
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
  const patchesOf = recordTokenPatches(reduction, grid);
  const vision = reduction.vision;
  const entry = visionStage(reduction);
  // Key tokens are places in the first span: named through the vision stage's order.
  const keys: RecordToken[] = (vision?.keySet ?? []).map((k) => entry?.order[k] ?? k);
  // Groups, not patches: one outline per merged token and one mark per key token, however many
  // patches it stands for. A key on a class token (no patch) has nothing to mark.
  // Tokens built between decoder layers (SparseVLM's recycled clusters) gather patches from all over
  // the image: each of their patches is outlined on its own rather than one box around them all.
  const decoderBuilt = new Set(reduction.stages.filter((stage) => stage.afterLayer !== undefined).flatMap((stage) => stage.created.map((c) => c.id)));
  const outlinedAmong = (tokens: readonly RecordToken[]) => [
    ...tokens.filter((t) => !decoderBuilt.has(String(t))).map(patchesOf).filter((patches) => patches.length > 1),
    ...tokens.filter((t) => decoderBuilt.has(String(t))).flatMap((t) => patchesOf(t).map((p) => [p])),
  ];
  const markedAmong = (tokens: readonly RecordToken[]) => tokens.map(patchesOf).filter((patches) => patches.length > 0);
  const panels: StagePanel[] = [{ keptPatches: null, caption: allCaption(grid) }];
  if (vision && entry) {
    const after = entry.order.length;
    // On LLaVA-NeXT every crop merges its own windows; `mergedWindows` holds the base crop's only.
    const windows = vision.mergedWindowsPerCrop?.flat().length ?? vision.mergedWindows.length;
    panels.push({
      keptPatches: null,
      outlined: outlinedAmong(entry.order),
      marked: markedAmong(keys),
      caption: `vision: ${plural(windows, 'window')} merged (${grid.imageTokens} -> ${after}), ${plural(keys.length, 'key token')}`,
    });
  } else if (entry) {
    // A feature stage (VisionZip): kept patches clear, the patches merged into built tokens outlined each.
    const merged = entry.created.flatMap((c) => c.members.flatMap(patchesOf));
    panels.push({
      keptPatches: entry.keptImageTokens.flatMap(patchesOf),
      outlined: merged.map((p) => [p]),
      caption: `vision: ${entry.keptImageTokens.length} kept + ${entry.created.length} contextual (${merged.length} merged), ${grid.imageTokens} -> ${entry.order.length}`,
    });
  }
  const decoderStages = reduction.stages.filter((stage) => stage.afterLayer !== undefined);
  let pivotsShown = false;
  for (const stage of decoderStages) {
    const kept = stage.order;
    const keptSet = new Set(kept);
    const keysKept = keys.filter((k) => keptSet.has(k));
    const pivots = imagePivots(stage.detail);
    pivotsShown ||= pivots.length > 0;
    const where = stage.afterLayer === 0 ? 'before the decoder' : `after ${plural(stage.afterLayer!, 'layer')}`;
    const caption = `${where}: ${kept.length} kept (${percent(kept.length, grid.imageTokens)})`;
    const details = grid.next ? [nextKeptCounts(stage.keptImageTokens, grid.next)] : vision && keys.length > 0 ? [`${keysKept.length} of ${plural(keys.length, 'key token')}`] : [];
    panels.push({
      keptPatches: kept.flatMap(patchesOf),
      outlined: outlinedAmong(kept),
      marked: markedAmong([...keysKept, ...pivots]),
      caption: [caption, ...details].join(', '),
    });
  }
  const dropped: LegendEntry[] = decoderStages.length > 0 ? [{ swatch: 'dimmed', label: 'dropped' }] : [];
  const pivotMark: LegendEntry[] = pivotsShown ? [{ swatch: 'mark', label: 'image pivot (DART: largest key L1 norm)' }] : [];
  const next = grid.next;
  let legend: LegendEntry[] = [];
  if (entry && !vision) {
    legend = [{ swatch: 'outline', label: 'merged into a contextual token' }, { swatch: 'dimmed', label: 'dropped' }];
  } else if (decoderBuilt.size > 0) {
    legend = [{ swatch: 'outline', label: 'recycled into a cluster token' }, { swatch: 'dimmed', label: 'dropped' }];
  } else if (vision) {
    legend = [
      { swatch: 'outline', label: 'merged window (one token)' },
      ...(keys.length > 0 ? [{ swatch: 'mark' as const, label: 'key token (top CLIP class-token attention)' }] : []),
      ...dropped,
    ];
  } else if (next) {
    const padded = next.grid.height < next.tileRows * next.patchesPerSide || next.grid.width < next.tileCols * next.patchesPerSide;
    legend = [...(padded ? [{ swatch: 'hatched' as const, label: NEXT_PADDING_LABEL }] : []), ...pivotMark, ...dropped];
  } else if (pivotsShown) {
    legend = [...pivotMark, ...dropped];
  }
  return { panels, legend };
}

/**
 * "all 576 image tokens"; LLaVA-NeXT: "all 2340 image tokens: base 576 (left), tiles 1728 (2x2,
 * right), newlines 36", or flat "all 2880 image tokens: 5 crops of 576, flat (no unpadding, no newlines)".
 */
function allCaption(grid: TokenGrid): string {
  const all = `all ${grid.imageTokens} image tokens`;
  if (grid.flatCrops !== undefined) return `${all}: ${grid.flatCrops} crops of ${grid.imageTokens / grid.flatCrops}, flat (no unpadding, no newlines)`;
  if (!grid.next) return all;
  const { patchesPerSide: g, tileRows, tileCols, grid: kept } = grid.next;
  return `${all}: base ${g * g} (left), tiles ${kept.height * kept.width} (${tileRows}x${tileCols}, right), newlines ${kept.height}`;
}

/** "base 301, tiles 852, newlines 17 kept, 19 dropped": where the kept tokens of a LLaVA-NeXT stage lie. */
function nextKeptCounts(kept: readonly number[], next: NextTokenLayout): string {
  const count = { base: 0, tile: 0, newline: 0 };
  for (const token of kept) count[nextTokenPlace(token, next).kind]++;
  return `base ${count.base}, tiles ${count.tile}, newlines ${count.newline} kept, ${next.grid.height - count.newline} dropped`;
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
