// What a scene's captions say: the one-sentence description (pretrain.json), the brief-description
// instructions it is paired with (a few phrasings, as LLaVA's pre-training set varies them), and the
// inventory (inventory.json, and the last turn of every fine-tuning conversation).
import { locationPhrase } from './questions.js';
import { shuffled, type BackgroundKind, type Scene } from './scene.js';

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
 * "triangle blue circle orange cross green": every object's shape, then its colour, in a random
 * order.
 *
 * A curriculum caption for pre-training from scratch: each colour is read off the one image token
 * the shape before it names, so the decoder learns to find an image token by its content with no
 * hop in between. In a question ("What color is the cross? ASSISTANT: red") the named shape must
 * first be carried to the answer's position, and a random decoder does not learn that before it can
 * do the lookup itself (README, "visdrop-tiny").
 */
export function inventoryCaption(scene: Scene, random: () => number): string {
  return shuffled(random, scene.objects)
    .map((o) => `${o.shape} ${o.color}`)
    .join(' ');
}
