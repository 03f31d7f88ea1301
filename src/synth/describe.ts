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
 * "blue small triangle top left center circle orange large label bottom cat": every object as its
 * shape, colour, size and cell in an order drawn per object, and the label as `label` then its word
 * and its cell in an order drawn too, the entries in a random order.
 *
 * A curriculum caption for pre-training from scratch: each attribute is read off the one image token
 * the words just before it name, so the decoder learns to find an image token by its content with
 * no hop in between (in a question, "What color is the cross? ASSISTANT: red", the named object must
 * first be carried to the answer's position, and a random decoder does not learn that before it can
 * do the lookup itself). The order is drawn per object because a question names its object by some
 * of the attributes and asks for another: when any attribute may follow any others, the decoder keeps
 * every attribute of the named object at the last word naming it, where the question can fetch it
 * ("Where is the label in the image?" asks for the cell at `label`).
 * With the cell always last (generator version 6) the cell was read after the size only, never at
 * the words of "Where is the green square?", and position questions stayed at their prior (README,
 * "visdrop-tiny"). Taught one way round only, a lookup is not learned the other way; taught the
 * reverse way alone afterwards, it overwrote the first (same section).
 */
export function inventoryCaption(scene: Scene, random: () => number): string {
  const entries = scene.objects.map((o) => shuffled(random, [o.shape, o.color, o.size, CELL_NAMES[o.cell]]).join(' '));
  if (scene.word) entries.push(['label', ...shuffled(random, [scene.word.text, CELL_NAMES[scene.word.cell]])].join(' '));
  return shuffled(random, entries).join(' ');
}
