// Tensor names of llava-hf checkpoints. Transformers before 4.52 saved `language_model.model.*`,
// `language_model.lm_head.*`, `vision_tower.*`, `multi_modal_projector.*`; later versions save
// `model.language_model.*`, `lm_head.*`, `model.vision_tower.*`, `model.multi_modal_projector.*`
// (and LLaVA-NeXT's `image_newline` as `model.image_newline`).
// The engine spells names the first way; this is the one place that maps the second onto it.
import type { WeightSource } from '../weights.js';

const NEWER_PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ['language_model.model.', 'model.language_model.'],
  ['language_model.lm_head.', 'lm_head.'],
  ['vision_tower.', 'model.vision_tower.'],
  ['multi_modal_projector.', 'model.multi_modal_projector.'],
  ['image_newline', 'model.image_newline'],
];

/** The name under which `name` (older spelling) is stored in a checkpoint using either layout. */
export function storedName(source: Pick<WeightSource, 'has'>, name: string): string {
  if (source.has(name)) return name;
  for (const [older, newer] of NEWER_PREFIXES) {
    if (name.startsWith(older)) {
      const candidate = newer + name.slice(older.length);
      if (source.has(candidate)) return candidate;
    }
  }
  return name;
}

/** A WeightSource that accepts older-layout names whatever the layout on disk. */
export function llavaWeights(source: WeightSource): WeightSource {
  return {
    has: (name) => source.has(storedName(source, name)),
    float32: (name, shape) => source.float32(storedName(source, name), shape),
    ...(source.location ? { location: (name: string, shape: readonly number[]) => source.location!(storedName(source, name), shape) } : {}),
    ...(source.linearRows
      ? { linearRows: (name: string, outFeatures: number, inFeatures: number) => source.linearRows!(storedName(source, name), outFeatures, inFeatures) }
      : {}),
  };
}
