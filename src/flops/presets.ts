// Models `visdrop flops --preset` knows: the bench's LLaVA-1.5 configs, and LLaVA-NeXT-7B, which
// counts as LLaVA-1.5-7B does because the decoder (Vicuna-7B) and the CLIP-L/336 tower are the same;
// what differs is the image token count (anyres crops, up to 2880), which comes from --image-tokens.
// NeXT stays out of the bench's list: the engine runs model_type "llava" only, not "llava_next".
import { PRESETS, type RawLlavaConfig } from '../bench/presets.js';

export const FLOPS_PRESETS: Readonly<Record<string, RawLlavaConfig>> = {
  ...PRESETS,
  'llava-next-7b': PRESETS['llava-1.5-7b']!,
};
