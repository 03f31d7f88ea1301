// Models `visdrop flops --preset` knows: the bench's LLaVA-1.5 configs, and LLaVA-NeXT-7B
// (llava-v1.6-vicuna-7b-hf): LLaVA-1.5-7B's Vicuna-7B and CLIP-L/336 with NeXT's anyres pinpoints,
// from which --image-size counts its image tokens. The bench's list stays LLaVA-1.5.
import { PRESETS, type RawLlavaConfig } from '../bench/presets.js';

/** llava-v1.6's `image_grid_pinpoints`, [height, width]: 2x1, 1x2, 2x2, 3x1 and 1x3 tiles of 336. */
export const NEXT_PINPOINTS = [
  [336, 672],
  [672, 336],
  [672, 672],
  [1008, 336],
  [336, 1008],
] as const;

export const FLOPS_PRESETS: Readonly<Record<string, RawLlavaConfig>> = {
  ...PRESETS,
  'llava-next-7b': {
    ...PRESETS['llava-1.5-7b']!,
    architectures: ['LlavaNextForConditionalGeneration'],
    model_type: 'llava_next',
    image_grid_pinpoints: NEXT_PINPOINTS,
  },
};
