// Models `visdrop flops --preset` knows: the bench's LLaVA-1.5 configs, and LLaVA-NeXT-7B
// (llava-v1.6-vicuna-7b-hf): LLaVA-1.5-7B's Vicuna-7B and CLIP-L/336 with NeXT's anyres pinpoints,
// from which --image-size counts its image tokens. The bench's list stays LLaVA-1.5.
import { PRESETS, type RawLlavaConfig } from '../bench/presets.js';
import { LLAVA_V16_PINPOINTS } from '../config/llava.js';

/** llava-v1.6's `image_grid_pinpoints` (kept under the name the flops code uses). */
export const NEXT_PINPOINTS = LLAVA_V16_PINPOINTS;

export const FLOPS_PRESETS: Readonly<Record<string, RawLlavaConfig>> = {
  ...PRESETS,
  'llava-next-7b': {
    ...PRESETS['llava-1.5-7b']!,
    architectures: ['LlavaNextForConditionalGeneration'],
    model_type: 'llava_next',
    image_grid_pinpoints: NEXT_PINPOINTS,
  },
};
