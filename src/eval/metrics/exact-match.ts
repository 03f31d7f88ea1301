// Exact-match answers: GQA's after LLaVA's conversion (scripts/convert_gqa_for_eval.py: trailing
// periods stripped, lower-cased) against the official `answer`; synth's after the official VQA
// normaliser against its one ground truth.
import { officialNormalise, stripWhitespace } from './vqa-normalize.js';

/** Python's text.rstrip('.').lower(). */
export function gqaPrediction(text: string): string {
  return text.replace(/\.+$/, '').toLowerCase();
}

export function gqaCorrect(text: string, answer: string): boolean {
  return gqaPrediction(text) === answer;
}

export function synthCorrect(text: string, answer: string): boolean {
  return officialNormalise(stripWhitespace(text)) === officialNormalise(stripWhitespace(answer));
}
