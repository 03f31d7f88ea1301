// Models `visdrop flops --preset` knows: the bench's presets, LLaVA-1.5-7B and -13B and LLaVA-NeXT-7B,
// whose anyres pinpoints let --image-size count its image tokens.
import { PRESETS, type RawLlavaConfig } from '../config/presets.js';
import { LLAVA_V16_PINPOINTS } from '../config/llava.js';

/** llava-v1.6's `image_grid_pinpoints` (kept under the name the flops code uses). */
export const NEXT_PINPOINTS = LLAVA_V16_PINPOINTS;

export const FLOPS_PRESETS: Readonly<Record<string, RawLlavaConfig>> = PRESETS;
