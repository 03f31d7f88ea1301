// POPE as LLaVA's eval_pope.py scores it: the answer's first sentence, commas dropped, is "no" when
// its space-separated words contain "No", "not" or "no", else "yes". "yes" is the positive class; the
// yes-ratio is the share of predicted yes. A ratio with a zero denominator is 0 (Python would raise).

export type YesNo = 'yes' | 'no';

export function parsePopeAnswer(text: string): YesNo {
  const sentence = text.includes('.') ? text.split('.')[0]! : text;
  const words = sentence.replaceAll(',', '').split(' ');
  return words.includes('No') || words.includes('not') || words.includes('no') ? 'no' : 'yes';
}

export interface BinaryMetrics {
  readonly n: number;
  readonly accuracy: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly yesRatio: number;
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** Accuracy, precision, recall, F1 and yes-ratio, as fractions in [0, 1]. */
export function binaryMetrics(pairs: readonly { predicted: YesNo; label: YesNo }[]): BinaryMetrics {
  let tp = 0, fp = 0, tn = 0, fn = 0;
  for (const { predicted, label } of pairs) {
    if (predicted === 'yes') label === 'yes' ? tp++ : fp++;
    else label === 'no' ? tn++ : fn++;
  }
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  return {
    n: pairs.length,
    accuracy: ratio(tp + tn, pairs.length),
    precision,
    recall,
    f1: ratio(2 * precision * recall, precision + recall),
    yesRatio: ratio(tp + fp, pairs.length),
    tp, fp, tn, fn,
  };
}
