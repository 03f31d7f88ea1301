// ANLS (DocVQA), as lmms-eval's anls(): each ground truth and the prediction stripped, lower-cased
// and whitespace-collapsed; distance = Levenshtein / max of the lengths of the strings as given
// (un-normalised, the references' quirk); score = 1 - the least distance, 0 when below tau = 0.5.

export const ANLS_THRESHOLD = 0.5;

export function levenshtein(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[y.length]!;
}

const collapse = (text: string) => text.trim().toLowerCase().split(/\s+/).filter(Boolean).join(' ');

export function anls(prediction: string, groundTruths: readonly string[]): number {
  if (groundTruths.length === 0) return 0;
  const pred = collapse(prediction);
  const distances = groundTruths.map((truth) => {
    const length = Math.max([...truth.toUpperCase()].length, [...prediction.toUpperCase()].length);
    return length === 0 ? 0 : levenshtein(collapse(truth), pred) / length;
  });
  const score = 1 - Math.min(...distances);
  return score < ANLS_THRESHOLD ? 0 : score;
}
