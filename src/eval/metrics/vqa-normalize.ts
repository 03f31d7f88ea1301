// The two VQA answer normalisers, as their reference code behaves (formats.md 4.3):
// - official: GT-Vision-Lab/VQA vqaEval.py (current version), applied to the prediction and the
//   ground truths only when the ground truths are not all identical (vqaSoftAccuracy does that);
// - evalai: the EvalAI/MMF processor LLaVA's TextVQA scorer (m4c_evaluator.py) and its VQAv2
//   submission converter use, applied always.
// Both share the code's period rule: its look-behind is written as a look-ahead, so every period not
// followed by a digit goes, and the flag passed as re.sub's count lets at most 32 go.
import { ARTICLES, EVALAI_CONTRACTIONS, NUMBER_WORDS, OFFICIAL_CONTRACTIONS, PUNCTUATION } from './vqa-tables.js';

export type VqaNormaliser = 'official' | 'evalai';

const DIGIT_COMMA_DIGIT = /\d,\d/;
/** re.sub(count=re.UNICODE) removes at most this many periods. */
const PERIOD_LIMIT = 32;

/** Replaces \n and \t with spaces and strips (Python's str.strip: whitespace at both ends). */
export function stripWhitespace(text: string): string {
  return text.replace(/[\n\t]/g, ' ').trim();
}

/** processPunctuation: the touching-a-space test reads the input, the replacements build the output. */
export function processPunctuation(text: string): string {
  let out = text;
  const digitCommaDigit = DIGIT_COMMA_DIGIT.test(text);
  for (const p of PUNCTUATION) {
    const deleted = text.includes(`${p} `) || text.includes(` ${p}`) || digitCommaDigit;
    out = out.split(p).join(deleted ? '' : ' ');
  }
  let removed = 0;
  return out.replace(/\.(?!\d)/g, (period) => (removed++ < PERIOD_LIMIT ? '' : period));
}

/** processDigitArticle: lower-case, number words to digits, articles dropped, contractions fixed. */
export function processDigitArticle(text: string, contractions: ReadonlyMap<string, string>): string {
  const words = text
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '')
    .map((w) => NUMBER_WORDS.get(w) ?? w)
    .filter((w) => !ARTICLES.has(w));
  return words.map((w) => contractions.get(w) ?? w).join(' ');
}

/** The official evaluation's steps 2 and 3 (step 1, stripWhitespace, comes first and always). */
export function officialNormalise(text: string): string {
  return processDigitArticle(processPunctuation(text), OFFICIAL_CONTRACTIONS);
}

/** EvalAIAnswerProcessor: lower-case, drop ',' and '?', split "'s", then the same steps with ASCII contractions. */
export function evalAiNormalise(text: string): string {
  const tokenised = text.toLowerCase().replaceAll(',', '').replaceAll('?', '').replaceAll("'s", " 's").trim();
  return processDigitArticle(processPunctuation(stripWhitespace(tokenised)), EVALAI_CONTRACTIONS);
}
