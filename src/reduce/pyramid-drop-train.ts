// PyramidDrop during training (algorithms.md 2.5, the authors' pdrop_train code): the same layer
// boundaries and kept counts int(N x ratio) of the original N as at inference, decided per row of
// the micro-batch on detached hidden states, scored by the NEXT layer's input RMSNorm and q/k
// (the runtime's `nextLayerAttention`). The query rows are every "last instruction token": each
// position j with labels[j] = -100 and labels[j + 1] != -100 (the token before an answer span, one
// per turn); their head-mean attention over the image columns is averaged. A row with no image,
// or no such position, keeps all its tokens at that stage. Rank and select only: the training
// runtime applies the plans (tokens, labels, mask, positions renumbered).
import type { BoundaryHook, BoundaryRow } from '../runtime/training-runtime.js';
import type { KeepPlan } from '../runtime/image-tokens.js';
import { checkPyramidDropLayers, pyramidDropKept, pyramidDropStages, type PyramidDropOptions } from './pyramid-drop.js';
import { meanAttention, topKSorted } from './select.js';

const IGNORE_INDEX = -100;

/** A strategy for training: its boundaries and the hook the training runtime calls at them. */
export interface TrainingReducer {
  readonly name: string;
  readonly options: Readonly<Record<string, unknown>>;
  readonly boundaries: readonly number[];
  /** Throws OptionError when the options do not fit a decoder of `numLayers` layers. */
  checkModel(numLayers: number): void;
  readonly boundary: BoundaryHook;
}

/** Positions j (among the row's real tokens) with labels[j] ignored and labels[j + 1] not: the last instruction tokens. */
export function lastInstructionTokens(row: Pick<BoundaryRow, 'labels' | 'length'>): number[] {
  const rows: number[] = [];
  for (let j = 0; j + 1 < row.length; j++) {
    if (row.labels[j] === IGNORE_INDEX && row.labels[j + 1] !== IGNORE_INDEX) rows.push(j);
  }
  return rows;
}

export function pyramidDropTraining(options: PyramidDropOptions = {}): TrainingReducer {
  const { layers, ratios } = pyramidDropStages(options);
  return {
    name: 'pdrop',
    options: { layers, ratios },
    boundaries: layers,
    checkModel: (numLayers) => checkPyramidDropLayers(layers, numLayers),
    async boundary({ layer, rows, originalImageTokens, nextLayerAttention }) {
      const stage = layers.indexOf(layer);
      if (stage < 0) return undefined;
      const keep = pyramidDropKept(originalImageTokens, ratios[stage]!);
      const plans: (KeepPlan | null)[] = [];
      for (let r = 0; r < rows.length; r++) {
        const row = rows[r]!;
        const queries = lastInstructionTokens(row);
        if (row.imageStart < 0 || queries.length === 0) {
          plans.push(null);
          continue;
        }
        const probs = await nextLayerAttention(r, queries);
        const heads = probs.length / (queries.length * row.length);
        const scores = meanAttention(probs, heads, queries.length, row.length, row.imageStart, row.imageTokens.length);
        plans.push({ keep: topKSorted(scores, keep) });
      }
      return plans;
    },
  };
}
