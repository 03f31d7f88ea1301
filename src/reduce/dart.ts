// DART (arXiv 2502.11494), as ZichenWen1/DART's code behaves (`DART.get_retained_image_token`;
// spec: shared/reference/methods/dart.md):
// - before decoder layer K (after K layers), once, in prefill only;
// - pivots: the P_I image tokens and the P_T post-image text tokens with the largest L1 norm of
//   layer K-1's post-rotary keys, all heads concatenated (grouped-query heads repeated);
// - the pivots are visited in CPython's set order of their sequence positions; each takes the
//   TOKEN_TOPK image tokens least cosine-similar to itself, by layer K-1's output hidden states
//   after the model's final RMSNorm, from a shared pool (image tokens minus image pivots) that
//   shrinks as it goes; text pivots pick image tokens the same way;
// - kept = image pivots and picks, in original order, WITH their original positions; decode
//   positions continue from the full prompt length at every layer.
// TOKEN_TOPK = floor(M / (P_I + P_T)) (or floor(N(1 - ratio) / (P_I + P_T)) without M); LLaVA-NeXT:
// floor(min(B, N - P_I) / (P_I + P_T)), B = retain_token_num_for_llava_next. Kept = P_I + (P_I +
// P_T) x TOKEN_TOPK, which is not M (132 for M = 128).
import { z } from 'zod';
import { OptionError } from '../errors.js';
import { parseOptions } from './options.js';
import { pythonSetOrder } from './python-set-order.js';
import type { BoundaryContext, TokenReducer } from './types.js';

export const dartOptionsSchema = z
  .object({
    layer: z.number().int().min(1, 'a layer >= 1 (the layer before it gives the keys and states)').default(2),
    pivotImage: z.number().int().min(0, 'a count >= 0').default(4),
    pivotText: z.number().int().min(0, 'a count >= 0').default(4),
    /** M, max_num_trunction; null: the ratio's budget instead. */
    maxTokens: z.number().int().min(1, 'a count >= 1').nullable().optional(),
    ratio: z.number().gt(0, 'a ratio in (0, 1)').lt(1, 'a ratio in (0, 1)').optional(),
    nextBudget: z.number().int().min(1, 'a count >= 1').default(320),
  })
  .refine((o) => o.pivotImage + o.pivotText >= 1, { message: 'at least one pivot', path: ['pivotImage'] })
  .refine((o) => o.ratio === undefined || o.maxTokens === undefined || o.maxTokens === null, {
    message: 'a ratio only without a maximum (the code ignores the ratio when max_num_trunction is set)',
    path: ['ratio'],
  });

export type DartOptions = z.input<typeof dartOptionsSchema>;

/** The authors' defaults (model_vqa_loader.py). */
export const DART_DEFAULTS = { layer: 2, pivotImage: 4, pivotText: 4, maxTokens: 128, ratio: 0.778, nextBudget: 320 } as const;

interface DartSettings {
  readonly layer: number;
  readonly pivotImage: number;
  readonly pivotText: number;
  readonly maxTokens: number | null;
  readonly ratio: number;
  readonly nextBudget: number;
}

/** Python's float `a // b` for positive a, b (floor of the exact quotient, via fmod as CPython does). */
function pythonFloorDivide(a: number, b: number): number {
  const mod = a % b;
  const div = (a - mod) / b;
  const floor = Math.floor(div);
  return div - floor > 0.5 ? floor + 1 : floor;
}

/** TOKEN_TOPK, the image tokens each pivot picks, for N image tokens. */
export function dartTokenTopk(settings: DartSettings, imageTokens: number, anyres: boolean): number {
  const pivots = settings.pivotImage + settings.pivotText;
  if (anyres) return Math.floor(Math.min(settings.nextBudget, imageTokens - settings.pivotImage) / pivots);
  if (settings.maxTokens !== null) return Math.floor(settings.maxTokens / pivots);
  return pythonFloorDivide(imageTokens * (1 - settings.ratio), pivots);
}

/** Image tokens DART keeps of N: P_I + (P_I + P_T) x TOKEN_TOPK. */
export function dartKept(settings: DartSettings, imageTokens: number, anyres: boolean): number {
  return settings.pivotImage + (settings.pivotImage + settings.pivotText) * dartTokenTopk(settings, imageTokens, anyres);
}

/** Indices of the k largest values, largest first (ties: the lower index first). */
function topKDescending(values: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: values.length }, (_, i) => i)
    .sort((a, b) => values[b]! - values[a]! || a - b)
    .slice(0, k);
}

/** L1 norm of each token's key over all query heads (kv heads repeated G times, as repeat_kv does). */
function keyL1Norms(context: BoundaryContext, rows: number): Float64Array {
  const { keysT, numKvHeads, headDim } = context.keysBefore!();
  const T = keysT.length / (numKvHeads * headDim);
  const G = context.numHeads / numKvHeads;
  const norms = new Float64Array(rows);
  for (let kv = 0; kv < numKvHeads; kv++) {
    for (let d = 0; d < headDim; d++) {
      const base = (kv * headDim + d) * T;
      for (let p = 0; p < rows; p++) norms[p] = norms[p]! + Math.abs(keysT[base + p]!);
    }
  }
  for (let p = 0; p < rows; p++) norms[p] = norms[p]! * G;
  return norms;
}

/**
 * Rows of `hidden` [T, D] as the model's final RMSNorm leaves them, up to a per-row factor, which a
 * cosine ignores: x * weight.
 */
function normedRow(hidden: Float32Array, weight: Float32Array, row: number): Float64Array {
  const D = weight.length;
  const out = new Float64Array(D);
  for (let d = 0; d < D; d++) out[d] = hidden[row * D + d]! * weight[d]!;
  return out;
}

function cosine(a: Float64Array, b: Float64Array): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let d = 0; d < a.length; d++) {
    dot += a[d]! * b[d]!;
    aa += a[d]! * a[d]!;
    bb += b[d]! * b[d]!;
  }
  return dot / Math.max(Math.sqrt(aa * bb), 1e-8); // F.cosine_similarity's eps
}

/** Per pivot, what it picked (original image indices, lowest cosine first). */
export interface DartPivotPicks {
  readonly pivot: number;
  readonly kind: 'image' | 'text';
  readonly picked: readonly number[];
}

export function dart(options: DartOptions = {}): TokenReducer {
  const o = parseOptions('dart', dartOptionsSchema, options);
  const settings: DartSettings = {
    layer: o.layer,
    pivotImage: o.pivotImage,
    pivotText: o.pivotText,
    maxTokens: o.ratio !== undefined ? null : o.maxTokens === undefined ? DART_DEFAULTS.maxTokens : o.maxTokens,
    ratio: o.ratio ?? DART_DEFAULTS.ratio,
    nextBudget: o.nextBudget,
  };
  const K = settings.layer;
  return {
    name: 'dart',
    // The ratio only where it counts (without M); the NeXT budget always (it applies on LLaVA-NeXT).
    options: {
      layer: K,
      pivotImage: settings.pivotImage,
      pivotText: settings.pivotText,
      maxTokens: settings.maxTokens,
      ...(settings.maxTokens === null ? { ratio: settings.ratio } : {}),
      nextBudget: settings.nextBudget,
    },
    positionPolicy: 'keep-original',
    boundaries: [K],
    checkModel(numLayers) {
      if (K >= numLayers) {
        throw new OptionError({ subject: 'dart layer', expected: `a layer below the decoder's ${numLayers} layers`, found: String(K) });
      }
    },
    plannedImageTokensPerLayer(imageTokens, numLayers, anyres = false) {
      return Array.from({ length: numLayers }, (_, layer) => (layer < K ? imageTokens : dartKept(settings, imageTokens, anyres)));
    },
    async onBoundary(context) {
      const { sequence } = context;
      const s0 = sequence.imageStart;
      const N = sequence.imageTokens.length;
      const T = sequence.positions.length;
      const textTokens = T - (s0 + N);
      const { pivotImage: PI, pivotText: PT } = settings;
      const topk = dartTokenTopk(settings, N, context.anyres ?? false);
      if (textTokens < PT) {
        throw new OptionError({ subject: 'dart pivotText', expected: `at most the ${textTokens} tokens after the image`, found: String(PT) });
      }
      if (topk < 0 || PI + (PI + PT) * topk > N) {
        throw new OptionError({
          subject: 'dart budget',
          expected: `${PI} image pivots + ${PI + PT} pivots x ${topk} picks within the image's ${N} tokens`,
          found: `${PI + (PI + PT) * Math.max(topk, 0)} tokens`,
        });
      }
      const norms = keyL1Norms(context, T);
      const imagePivots = topKDescending(norms.subarray(s0, s0 + N), PI).map((j) => s0 + j);
      const textPivots = topKDescending(norms.subarray(s0 + N, T), PT).map((j) => s0 + N + j);
      const visitOrder = pythonSetOrder([...imagePivots, ...textPivots]);
      const weight = context.finalNormWeight!;
      const states = new Map<number, Float64Array>();
      const state = (row: number) => {
        let v = states.get(row);
        if (!v) states.set(row, (v = normedRow(sequence.hidden, weight, row)));
        return v;
      };
      // The pool is a Python set of consecutive positions, so its list order is ascending; ties of
      // the cosine then go to the lower position.
      const pivotRows = new Set(imagePivots);
      let pool = Array.from({ length: N }, (_, j) => s0 + j).filter((row) => !pivotRows.has(row));
      const kept = new Set(imagePivots);
      const perPivot: DartPivotPicks[] = [];
      for (const pivot of visitOrder) {
        const similarity = pool.map((row) => cosine(state(pivot), state(row)));
        const picks = Array.from(pool.keys())
          .sort((a, b) => similarity[a]! - similarity[b]! || a - b)
          .slice(0, topk)
          .map((i) => pool[i]!);
        const taken = new Set(picks);
        pool = pool.filter((row) => !taken.has(row));
        for (const row of picks) kept.add(row);
        perPivot.push({ pivot, kind: pivot < s0 + N ? 'image' : 'text', picked: picks.map((row) => sequence.imageTokens[row - s0]!) });
      }
      return {
        keep: [...kept].map((row) => row - s0).sort((a, b) => a - b),
        detail: {
          tokenTopk: topk,
          imagePivots: imagePivots.map((row) => sequence.imageTokens[row - s0]!),
          textPivots: textPivots.map((row) => row - (s0 + N)),
          pivotVisitOrder: visitOrder,
          perPivot,
        },
      };
    },
  };
}
