// The prompt as it moves through a reduced prefill: hidden states, position ids, and where the image
// tokens are, with the original index of each one still present. Reduction plans name image tokens
// by their place in the current image span; this file alone applies them to the rows.
// Legend: T current tokens, D hidden, N current image tokens.
import { GraphError } from '../errors.js';
import { applyTokenPlan, checkTokenPlan, isCreated, type TokenPlan } from './token-plan.js';

export interface PrefillSequence {
  readonly hidden: Float32Array; // [T, D]
  readonly positions: readonly number[]; // [T]
  /** Index of the first image token in the current sequence. */
  readonly imageStart: number;
  /**
   * For each current image token, in sequence order, its identity: its index in the image span the
   * decoder first saw, or for a token built between decoder layers the id it was given then (ids
   * count on from the first span's length).
   */
  readonly imageTokens: readonly number[];
  /** Protected image tokens (a vision stage's key set), as indices into the current image span. */
  readonly keyTokens: readonly number[];
}

/** How positions change when tokens go: kept as they were (FastV) or renumbered 0..T-1 (PyramidDrop, MustDrop). */
export type PositionPolicy = 'keep-original' | 'reindex';

/** Image tokens to keep: indices into the current image span, ascending and unique. */
export interface KeepPlan {
  readonly keep: readonly number[];
  /** What the strategy found on the way (DART's pivots, DivPrune's pick order, SparseVLM's ranks), copied into the stage's record; the runtime ignores it. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** What a decoder-side strategy returns: tokens to keep, or a plan that also builds tokens. */
export type ImagePlan = KeepPlan | (TokenPlan & { readonly detail?: Readonly<Record<string, unknown>> });

export function asTokenPlan(plan: ImagePlan): TokenPlan {
  return 'keep' in plan ? { tokens: plan.keep } : plan;
}

export function checkImagePlan(plan: ImagePlan, imageTokenCount: number, who: string): void {
  checkTokenPlan(asTokenPlan(plan), imageTokenCount, who);
}

/**
 * The sequence with the image span replaced by the plan's tokens; text rows always stay. Built
 * tokens get the identities `firstCreatedId`, `firstCreatedId + 1`, ... in plan order, and need
 * renumbered positions (a built token has no position of its own to keep).
 */
export function applyImagePlan(seq: PrefillSequence, plan: ImagePlan, hiddenSize: number, policy: PositionPolicy, firstCreatedId = Number.NaN): PrefillSequence {
  const tokens = asTokenPlan(plan).tokens;
  const N = seq.imageTokens.length;
  const T = seq.positions.length;
  const builds = tokens.some(isCreated);
  if (builds && policy !== 'reindex') {
    throw new GraphError({ subject: 'reduction plan', expected: 'renumbered positions when tokens are built', found: `position policy ${policy}` });
  }
  const keyTokens = new Set(seq.keyTokens);
  let created = 0;
  const imageTokens = tokens.map((token) => (isCreated(token) ? firstCreatedId + created++ : seq.imageTokens[token]!));
  const keptRows = [...range(0, seq.imageStart), ...tokens.map((t) => (isCreated(t) ? -1 : seq.imageStart + t)), ...range(seq.imageStart + N, T)];
  return {
    hidden: applyTokenPlan(seq.hidden, hiddenSize, seq.imageStart, N, { tokens }),
    positions: policy === 'reindex' ? range(0, keptRows.length) : keptRows.map((row) => seq.positions[row]!),
    imageStart: seq.imageStart,
    imageTokens,
    keyTokens: tokens.flatMap((t, i) => (!isCreated(t) && keyTokens.has(t) ? [i] : [])),
  };
}

/**
 * Rows of a layer's cached sequence that hold the tokens of `final`: every text row, and the image
 * rows whose original image token is still in `final`'s image span. Text and image rows keep their
 * order, so the result is ascending.
 */
export function rowsSurvivingIn(layerSequence: Pick<PrefillSequence, 'imageStart' | 'imageTokens' | 'positions'>, final: Pick<PrefillSequence, 'imageTokens'>): number[] {
  const surviving = new Set(final.imageTokens);
  const { imageStart, imageTokens } = layerSequence;
  return [
    ...range(0, imageStart),
    ...imageTokens.flatMap((original, i) => (surviving.has(original) ? [imageStart + i] : [])),
    ...range(imageStart + imageTokens.length, layerSequence.positions.length),
  ];
}

function range(start: number, end: number): number[] {
  return Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i);
}
