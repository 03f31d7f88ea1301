// Every word and punctuation mark the generator can emit, for a tokenizer built for this data.
// Templates are covered by running the generator itself over many scenes (so a new template can
// never be missed), and every list it substitutes from is added whole (so a rare colour, shape or
// word is never missed either). A test checks that other seeds bring nothing new.
import { DESCRIPTION_INSTRUCTIONS, describeScene } from './describe.js';
import { INVENTORY_QUESTION, questionsFor } from './dataset.js';
import { SHORT_ANSWER_SUFFIX, locationPhrase } from './questions.js';
import { CELL_NAMES, COLORS, SHAPES, SHAPE_PLURALS, SIZES, WORDS, sampleScene } from './scene.js';

/** How text splits into words: runs of letters and digits, and each other visible character alone (BERT's pre-tokenizer). */
export function splitWords(text: string): string[] {
  return text.match(/[A-Za-z0-9]+|[^\sA-Za-z0-9]/g) ?? [];
}

const SCENES_SCANNED = 3000;

/** The generator's words, sorted: what its scenes' questions, answers, descriptions and instructions are made of. */
export function synthVocabulary(): string[] {
  const words = new Set<string>();
  const add = (text: string) => splitWords(text).forEach((w) => words.add(w));
  [...SHAPES, ...Object.values(SHAPE_PLURALS), ...COLORS, ...SIZES, ...WORDS, ...CELL_NAMES, ...DESCRIPTION_INSTRUCTIONS, INVENTORY_QUESTION, SHORT_ANSWER_SUFFIX].forEach(add);
  CELL_NAMES.forEach((_, cell) => add(locationPhrase(cell)));
  for (let digit = 0; digit <= 9; digit++) add(String(digit));
  for (let index = 0; index < SCENES_SCANNED; index++) {
    const scene = sampleScene(0, index);
    add(describeScene(scene));
    for (const q of questionsFor(0, scene)) add(`${q.text} ${q.answer}`);
  }
  return [...words].sort();
}
