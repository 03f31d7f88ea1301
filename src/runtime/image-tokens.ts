// The prompt as it moves through a reduced prefill: hidden states, position ids, and where the image
// tokens are, with the original index of each one still present. Reduction plans name image tokens
// by their place in the current image span; this file alone applies them to the rows.
// Legend: T current tokens, D hidden, N current image tokens.
import { GraphError } from '../errors.js';

export interface PrefillSequence {
  readonly hidden: Float32Array; // [T, D]
  readonly positions: readonly number[]; // [T]
  /** Index of the first image token in the current sequence. */
  readonly imageStart: number;
  /** For each current image token, in sequence order, its index in the image span the decoder first saw. */
  readonly imageTokens: readonly number[];
  /** Protected image tokens (a vision stage's key set), as indices into the current image span. */
  readonly keyTokens: readonly number[];
}

/** How positions change when tokens go: kept as they were (FastV) or renumbered 0..T-1 (PyramidDrop, MustDrop). */
export type PositionPolicy = 'keep-original' | 'reindex';

/** Image tokens to keep: indices into the current image span, ascending and unique. */
export interface KeepPlan {
  readonly keep: readonly number[];
  /** What the strategy found on the way (pivots, pick order), copied into the stage's record. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export function checkKeepPlan(plan: KeepPlan, imageTokenCount: number, who: string): void {
  plan.keep.forEach((index, i) => {
    const previous = i > 0 ? plan.keep[i - 1]! : -1;
    if (!Number.isInteger(index) || index <= previous || index >= imageTokenCount) {
      throw new GraphError({
        subject: `reduction plan of ${who}`,
        expected: `ascending unique image-token indices in [0, ${imageTokenCount})`,
        found: `${index} at place ${i}${i > 0 ? ` after ${previous}` : ''}`,
      });
    }
  });
}

/** The sequence with only the planned image tokens; text rows always stay. */
export function keepImageTokens(seq: PrefillSequence, plan: KeepPlan, hiddenSize: number, policy: PositionPolicy): PrefillSequence {
  const N = seq.imageTokens.length;
  const T = seq.positions.length;
  const keyTokens = new Set(seq.keyTokens);
  const rows = [
    ...range(0, seq.imageStart),
    ...plan.keep.map((k) => seq.imageStart + k),
    ...range(seq.imageStart + N, T),
  ];
  const hidden = new Float32Array(rows.length * hiddenSize);
  rows.forEach((row, i) => hidden.set(seq.hidden.subarray(row * hiddenSize, (row + 1) * hiddenSize), i * hiddenSize));
  return {
    hidden,
    positions: policy === 'reindex' ? range(0, rows.length) : rows.map((row) => seq.positions[row]!),
    imageStart: seq.imageStart,
    imageTokens: plan.keep.map((k) => seq.imageTokens[k]!),
    keyTokens: plan.keep.flatMap((k, i) => (keyTokens.has(k) ? [i] : [])),
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
