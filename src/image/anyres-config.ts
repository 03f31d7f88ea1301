// `preprocessor_config.json` of a llava-hf LLaVA-NeXT checkpoint (LlavaNextImageProcessor),
// validated into the anyres settings. Defaults are transformers', except that the pinpoints must be
// given (a missing list is a ConfigError, not transformers' 336-pixel default).
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { validatePinpoints } from './anyres-grid.js';
import type { AnyresPreprocessing } from './anyres.js';
import { parseWith, readJsonFile } from '../config/json-file.js';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, PREPROCESSOR_FILE } from '../config/preprocessor.js';

const triple = z.tuple([z.number(), z.number(), z.number()]);
const positiveInt = z.number().int().positive();
const on = (what: string) => z.literal(true, { message: `true (visdrop's anyres always ${what})` }).default(true);

const schema = z.object({
  image_grid_pinpoints: z.unknown(),
  do_resize: on('resizes'),
  size: z.union([positiveInt, z.object({ shortest_edge: positiveInt })]).default({ shortest_edge: 224 }),
  resample: z.literal(3, { message: '3 (bicubic, the only resampling visdrop implements)' }).default(3),
  do_center_crop: on('centre-crops'),
  crop_size: z.union([positiveInt, z.object({ height: positiveInt, width: positiveInt })]).default(224),
  do_rescale: z.boolean().default(true),
  rescale_factor: z.number().positive().default(1 / 255),
  do_normalize: z.boolean().default(true),
  image_mean: triple.default([...OPENAI_CLIP_MEAN]),
  image_std: triple.default([...OPENAI_CLIP_STD]),
});

export function normalizeLlavaNextPreprocessorConfig(raw: unknown): AnyresPreprocessing {
  const c = parseWith(schema, raw, PREPROCESSOR_FILE);
  const crop = typeof c.crop_size === 'number' ? { height: c.crop_size, width: c.crop_size } : c.crop_size;
  if (crop.height !== crop.width) {
    throw new ConfigError({
      subject: `${PREPROCESSOR_FILE}: crop_size`,
      expected: 'a square crop (anyres tiles are square)',
      found: JSON.stringify(c.crop_size),
    });
  }
  return Object.freeze({
    pinpoints: validatePinpoints(c.image_grid_pinpoints, crop.height, `${PREPROCESSOR_FILE}: image_grid_pinpoints`),
    cropSize: crop.height,
    shortestEdge: typeof c.size === 'number' ? c.size : c.size.shortest_edge,
    rescaleFactor: c.do_rescale ? c.rescale_factor : null,
    mean: c.do_normalize ? c.image_mean : null,
    std: c.do_normalize ? c.image_std : null,
  });
}

export function loadLlavaNextPreprocessorConfig(dir: string): AnyresPreprocessing {
  return normalizeLlavaNextPreprocessorConfig(readJsonFile(dir, PREPROCESSOR_FILE));
}
