// VQA soft accuracy (formats.md 4.3): for each of the ground truths, min(1, matches among the others
// / 3); the question scores the mean. With the official normaliser the answers are compared after
// whitespace clean-up alone when every ground truth is the same; EvalAI normalises always.
import { evalAiNormalise, officialNormalise, stripWhitespace, type VqaNormaliser } from './vqa-normalize.js';

/** The question's score in [0, 1]. */
export function vqaSoftAccuracy(prediction: string, groundTruths: readonly string[], normaliser: VqaNormaliser): number {
  let pred: string;
  let truths: string[];
  if (normaliser === 'evalai') {
    pred = evalAiNormalise(prediction);
    truths = groundTruths.map(evalAiNormalise);
  } else {
    pred = stripWhitespace(prediction);
    truths = groundTruths.map(stripWhitespace);
    if (new Set(truths).size > 1) {
      pred = officialNormalise(pred);
      truths = truths.map(officialNormalise);
    }
  }
  if (truths.length === 0) return 0;
  let total = 0;
  for (let i = 0; i < truths.length; i++) {
    const matches = truths.filter((t, j) => j !== i && t === pred).length;
    total += Math.min(1, matches / 3);
  }
  return total / truths.length;
}
