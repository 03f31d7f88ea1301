// SparseVLM v1 (arXiv 2410.04417), as Gumpest/SparseVLMs' first code version behaves (spec:
// shared/reference/methods/sparsevlm.md):
// - text raters, once per prompt from the decoder's input embeddings: the text tokens after the
//   image whose mean (over image rows) softmax of raw image.text dot products exceeds its mean;
// - at each pruning layer (after layers 3, 7, 16, 20 have run; code pruning_loc 2, 6, 15, 19), the
//   layer's own head-mean attention of the rater rows over the image block: rank r of that matrix
//   (float32 tolerance), score = mean over raters; unless r equals the block size, keep the top
//   k = min(int(r x scale + bias), N - 1) in block order;
// - recycling: of the dropped tokens, the top int(0.3 n_drop) + 1 by score are clustered (DPC-kNN,
//   int(c / 10) + 1 clusters, density ties broken by torch's seeded CPU noise) on the layer's output
//   hidden states, each cluster summed with weights 1 / (count + 1e-6) into one token appended after
//   the kept ones; the rest are gone;
// - positions renumbered; decode positions are each layer's cache length; decode never prunes.
// LLaVA-1.5 only: the v1 code fails on LLaVA-NeXT's anyres features (ambiguity 14).
import { z } from 'zod';
import { SingularValueDecomposition, Matrix } from 'ml-matrix';
import { OptionError } from '../errors.js';
import { Mt19937 } from '../util/mt19937.js';
import { torchTopk } from '../util/torch-topk.js';
import { dpcKnnClusters } from './dpc-knn.js';
import { parseOptions } from './options.js';
import type { CreatedToken, ImagePlan, PrefillSequence, TokenReducer } from './types.js';

/** The README's examples: (scale, bias) per label (mme.sh "192", pope.sh "128", textvqa.sh "64"). */
export const SPARSEVLM_PRESETS = {
  192: { scale: 13.5, bias: 0 },
  128: { scale: 9, bias: 6 },
  64: { scale: 0.8, bias: 0 },
} as const;

/** The code's pruning_loc [2, 6, 15, 19] as layers run before each pruning. */
export const SPARSEVLM_DEFAULT_LAYERS = [3, 7, 16, 20] as const;

const FLOAT32_EPSILON = 2 ** -23;

export const sparseVlmOptionsSchema = z
  .object({
    layers: z.array(z.number().int().min(1, 'layer counts >= 1 (the layers run before each pruning)')).min(1, 'at least one layer').optional(),
    scale: z.number().optional(),
    bias: z.number().optional(),
    preset: z.union([z.literal(192), z.literal(128), z.literal(64)], { message: '192, 128 or 64' }).optional(),
    recycleRatio: z.number().min(0, 'a recycle ratio in [0, 1)').lt(1, 'a recycle ratio in [0, 1)').default(0.3),
    recycle: z.boolean().default(true),
    seed: z.number().int().min(0, 'a seed >= 0').max(2 ** 32 - 1, 'a 32-bit seed').default(0),
  })
  .refine((o) => o.preset === undefined || (o.scale === undefined && o.bias === undefined), { message: 'a preset or scale/bias, not both', path: ['preset'] })
  .refine((o) => o.layers === undefined || o.layers.every((l, i) => i === 0 || l > o.layers![i - 1]!), { message: 'strictly increasing layer counts', path: ['layers'] })
  .refine((o) => o.scale === undefined || o.scale >= 0, { message: 'scale >= 0', path: ['scale'] });

export type SparseVlmOptions = z.input<typeof sparseVlmOptionsSchema>;

/** Text offsets (0 = first token after the image) of the raters, from the decoder's input rows. */
export function textRaters(input: PrefillSequence, hiddenSize: number): number[] {
  const D = hiddenSize;
  const N = input.imageTokens.length;
  const textStart = input.imageStart + N;
  const Nt = input.positions.length - textStart;
  const share = new Float64Array(Nt);
  const logits = new Float64Array(Nt);
  for (let i = 0; i < N; i++) {
    const image = input.hidden.subarray((input.imageStart + i) * D, (input.imageStart + i + 1) * D);
    let max = -Infinity;
    for (let j = 0; j < Nt; j++) {
      const text = input.hidden.subarray((textStart + j) * D, (textStart + j + 1) * D);
      let dot = 0;
      for (let d = 0; d < D; d++) dot += image[d]! * text[d]!;
      logits[j] = dot;
      max = Math.max(max, dot);
    }
    let total = 0;
    for (let j = 0; j < Nt; j++) total += (logits[j] = Math.exp(logits[j]! - max));
    for (let j = 0; j < Nt; j++) share[j] = share[j]! + logits[j]! / total / N;
  }
  const mean = share.reduce((a, b) => a + b, 0) / Nt;
  return Array.from(share.keys()).filter((j) => share[j]! > mean);
}

/** Rank as torch.linalg.matrix_rank on float32: singular values above max(m, n) x eps_f32 x the largest. */
export function matrixRank(rows: readonly Float64Array[]): number {
  if (rows.length === 0 || rows[0]!.length === 0) return 0;
  const svd = new SingularValueDecomposition(new Matrix(rows.map((r) => Array.from(r))), {
    computeLeftSingularVectors: false,
    computeRightSingularVectors: false,
    autoTranspose: true,
  });
  const values = svd.diagonal;
  const tolerance = Math.max(...values) * Math.max(rows.length, rows[0]!.length) * FLOAT32_EPSILON;
  return values.filter((v) => v > tolerance).length;
}

/** The k of `indices` with the largest scores, in torch.topk's order (ties as it leaves them). */
function topByScore(indices: readonly number[], scores: ArrayLike<number>, k: number): number[] {
  return torchTopk(indices.map((j) => scores[j]!), k).map((i) => indices[i]!);
}

interface Settings {
  readonly layers: readonly number[];
  readonly layersGiven: boolean;
  readonly scale: number;
  readonly bias: number;
  readonly recycleRatio: number;
  readonly recycle: boolean;
  readonly seed: number;
}

export function sparseVlm(options: SparseVlmOptions = {}): TokenReducer {
  const o = parseOptions('sparsevlm', sparseVlmOptionsSchema, options);
  const preset = o.preset !== undefined ? SPARSEVLM_PRESETS[o.preset] : undefined;
  const settings: Settings = {
    layers: o.layers ?? SPARSEVLM_DEFAULT_LAYERS,
    layersGiven: o.layers !== undefined,
    scale: preset?.scale ?? o.scale ?? 13.5,
    bias: preset?.bias ?? o.bias ?? 0,
    recycleRatio: o.recycleRatio,
    recycle: o.recycle,
    seed: o.seed,
  };
  return reducer(settings, settings.layers, null);
}

/** The strategy; with `prompt` (raters, noise stream, hidden size) the one of a single prefill. */
function reducer(settings: Settings, boundaries: readonly number[], prompt: { raters: number[]; noise: Mt19937 } | null): TokenReducer {
  const { layers, layersGiven, scale, bias, recycleRatio, recycle, seed } = settings;
  return {
    name: 'sparsevlm',
    options: { layers, scale, bias, recycleRatio, recycle, seed },
    positionPolicy: 'reindex',
    decodePositions: 'cache-length',
    anyresUnsupported: "SparseVLM v1's code handles one 576-token image only (llava_arch.py fails on the anyres feature list)",
    boundaries,
    checkModel(numLayers) {
      // The code silently skips pruning layers past the depth; its default list (up to layer 20) is
      // kept as the code runs it on shallower decoders, a list given explicitly must fit.
      if (layersGiven && layers.at(-1)! >= numLayers) {
        throw new OptionError({
          subject: 'sparsevlm layers',
          expected: `layer counts below the decoder's ${numLayers} layers (a layer must follow each pruning)`,
          found: `[${layers.join(', ')}]`,
        });
      }
    },
    forPrompt(input, numLayers) {
      const N = input.imageTokens.length;
      const textTokens = input.positions.length - (input.imageStart + N);
      if (textTokens === 0) {
        throw new OptionError({ subject: 'sparsevlm', expected: 'text after the image (its raters are the tokens after the image)', found: 'the prompt ends with the image' });
      }
      const hiddenSize = input.hidden.length / input.positions.length;
      return reducer(settings, layers.filter((l) => l < numLayers), { raters: textRaters(input, hiddenSize), noise: new Mt19937(seed) });
    },
    attentionRowsBefore(_boundary, sequence) {
      const textStart = sequence.imageStart + sequence.imageTokens.length;
      return prompt!.raters.map((j) => textStart + j);
    },
    async onBoundary({ sequence, attention, numHeads }): Promise<ImagePlan> {
      const raters = prompt!.raters;
      const R = raters.length;
      const T = sequence.positions.length;
      const N = sequence.imageTokens.length;
      const D = sequence.hidden.length / T;
      // Head-mean attention of each rater row over the image block.
      const relation = Array.from({ length: R }, (_, r) => {
        const row = new Float64Array(N);
        for (let h = 0; h < numHeads; h++) {
          const base = (h * R + r) * T + sequence.imageStart;
          for (let j = 0; j < N; j++) row[j] = row[j]! + attention![base + j]! / numHeads;
        }
        return row;
      });
      const rank = matrixRank(relation);
      const scores = new Float64Array(N);
      for (const row of relation) for (let j = 0; j < N; j++) scores[j] = scores[j]! + row[j]! / R;
      const detail = { raters, rank };
      if (N - rank === 0) return { keep: Array.from({ length: N }, (_, j) => j), detail: { ...detail, k: null, sparsified: false } };
      const k = Math.min(Math.trunc(rank * scale + bias), N - 1);
      if (k < 0) throw new OptionError({ subject: 'sparsevlm bias', expected: 'int(rank x scale + bias) >= 0', found: `${bias} (rank ${rank}, scale ${scale})` });
      const all = Array.from({ length: N }, (_, j) => j);
      const keep = topByScore(all, scores, k).sort((a, b) => a - b);
      if (!recycle) return { keep, detail: { ...detail, k, sparsified: true } };
      const kept = new Set(keep);
      const dropped = all.filter((j) => !kept.has(j));
      const candidates = topByScore(dropped, scores, Math.trunc(dropped.length * recycleRatio) + 1);
      const clusterCount = Math.trunc(candidates.length / 10) + 1;
      const rows = candidates.map((j) => sequence.hidden.subarray((sequence.imageStart + j) * D, (sequence.imageStart + j + 1) * D));
      const assignment = dpcKnnClusters(rows, D, clusterCount, () => prompt!.noise.nextFloat32());
      const built: CreatedToken[] = Array.from({ length: clusterCount }, (_, c) => {
        const members = candidates.filter((_, i) => assignment[i] === c);
        const weight = Math.fround(1 / Math.fround(members.length + Math.fround(1e-6)));
        return { members, weights: members.map(() => weight) };
      });
      return { tokens: [...keep, ...built], detail: { ...detail, k, sparsified: true, candidates } };
    },
  };
}
