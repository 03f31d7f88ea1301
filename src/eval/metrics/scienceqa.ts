// ScienceQA's letter parsing as LLaVA's eval_science_qa.py does it: the text is a letter among A-E,
// or starts with a letter and ". ", or holds exactly one match of "The answer is ([A-Z])." (the
// final "." matching any character); else FAILED. A letter past the choices counts as wrong.

export const SCIENCEQA_OPTIONS = ['A', 'B', 'C', 'D', 'E'] as const;

export function parseScienceQaLetter(text: string): string | 'FAILED' {
  const options: readonly string[] = SCIENCEQA_OPTIONS;
  if (options.includes(text)) return text;
  if (text.length >= 3 && options.includes(text[0]!) && text.slice(1, 3) === '. ') return text[0]!;
  const matches = [...text.matchAll(/The answer is ([A-Z])./g)];
  return matches.length === 1 ? matches[0]![1]! : 'FAILED';
}

/** The chosen choice's index, or -1 (FAILED, or a letter beyond the choices). */
export function scienceQaChoice(text: string, choices: number): number {
  const letter = parseScienceQaLetter(text);
  const index = (SCIENCEQA_OPTIONS as readonly string[]).indexOf(letter);
  return index >= 0 && index < choices ? index : -1;
}
