// What a scene's captions say: the one-sentence description (pretrain.json), the brief-description
// instructions it is paired with (a few phrasings, as LLaVA's pre-training set varies them), and the
// inventory (inventory.json, and the last turn of every fine-tuning conversation).
import { locationPhrase } from './questions.js';
import { CELL_NAMES, shuffled, type BackgroundKind, type Scene } from './scene.js';

const BACKGROUND_ADJECTIVES: Readonly<Record<BackgroundKind, string>> = {
  plain: 'plain',
  gradient: 'gradient',
  noise: 'noisy',
  stripes: 'striped',
};

/** From LLaVA's brief-description instructions (llava/data: the 558k pre-training set's prompts). */
export const DESCRIPTION_INSTRUCTIONS = [
  'Describe the image concisely.',
  'Provide a brief description of the given image.',
  'Give a short and clear explanation of the image.',
  'Summarize the visual content of the image.',
  'What is in the picture?',
] as const;

function listPhrases(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** "A striped picture with a large red circle in the top left, a small blue star on the right and a label reading cat at the bottom." */
export function describeScene(scene: Scene): string {
  // Objects in reading order (row by row), so the sentence is the same for the same picture.
  const objects = [...scene.objects].sort((a, b) => a.cell - b.cell);
  const parts = objects.map((o) => `a ${o.size} ${o.color} ${o.shape} ${locationPhrase(o.cell)}`);
  if (scene.word) parts.push(`a label reading ${scene.word.text} ${locationPhrase(scene.word.cell)}`);
  return `A ${BACKGROUND_ADJECTIVES[scene.background.kind]} picture with ${listPhrases(parts)}.`;
}

/**
 * "triangle blue small top left orange circle large center label cat bottom": every object as its
 * shape and colour (in either order, drawn per object), its size and its cell, and the label's word
 * and cell, the entries in a random order.
 *
 * A curriculum caption for pre-training from scratch: each attribute is read off the one image token
 * the words just before it name, so the decoder learns to find an image token by its content with
 * no hop in between, by its shape and by its colour alike (taught one way round only, the other
 * way is not learned; taught the reverse way alone afterwards, it overwrote the first: README,
 * "visdrop-tiny"). In a question ("What color is the cross? ASSISTANT: red") the named object must
 * first be carried to the answer's position, and a random decoder does not learn that before it can
 * do the lookup itself.
 */
export function inventoryCaption(scene: Scene, random: () => number): string {
  const entries = scene.objects.map((o) => {
    const names = random() < 0.5 ? `${o.shape} ${o.color}` : `${o.color} ${o.shape}`;
    return `${names} ${o.size} ${CELL_NAMES[o.cell]}`;
  });
  if (scene.word) entries.push(`label ${scene.word.text} ${CELL_NAMES[scene.word.cell]}`);
  return shuffled(random, entries).join(' ');
}
