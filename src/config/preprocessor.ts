// `preprocessor_config.json` of a llava-hf checkpoint (CLIPImageProcessor / LlavaImageProcessor),
// validated and normalised. Defaults are those of Hugging Face's CLIPImageProcessor.
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { parseWith, readJsonFile } from './json-file.js';

export const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

const triple = z.tuple([z.number(), z.number(), z.number()]);
const positiveInt = z.number().int().positive();
const sizeSchema = z.union([
  positiveInt,
  z.object({ shortest_edge: positiveInt }),
  z.object({ height: positiveInt, width: positiveInt }),
]);

const preprocessorSchema = z.object({
  do_resize: z.boolean().default(true),
  size: sizeSchema.default({ shortest_edge: 224 }),
  resample: z.literal(3, { message: '3 (bicubic, the only resampling visdrop implements)' }).default(3),
  do_center_crop: z.boolean().default(true),
  crop_size: sizeSchema.default({ height: 224, width: 224 }),
  do_rescale: z.boolean().default(true),
  rescale_factor: z.number().positive().default(1 / 255),
  do_normalize: z.boolean().default(true),
  image_mean: triple.default([...OPENAI_CLIP_MEAN]),
  image_std: triple.default([...OPENAI_CLIP_STD]),
  do_convert_rgb: z.boolean().default(true),
  do_pad: z.boolean().default(false),
});

/** How the image is resized before cropping. */
export type ResizeRule =
  | { readonly kind: 'shortestEdge'; readonly size: number }
  | { readonly kind: 'exact'; readonly height: number; readonly width: number };

export interface ImagePreprocessing {
  readonly resize: ResizeRule | null;
  readonly crop: { readonly height: number; readonly width: number } | null;
  readonly rescaleFactor: number | null;
  readonly mean: readonly [number, number, number] | null;
  readonly std: readonly [number, number, number] | null;
  /** Pad to a square with the mean colour first (original LLaVA's `image_aspect_ratio: pad`). */
  readonly padToSquare: boolean;
}

export const PREPROCESSOR_FILE = 'preprocessor_config.json';

export function normalizePreprocessorConfig(raw: unknown): ImagePreprocessing {
  const c = parseWith(preprocessorSchema, raw, PREPROCESSOR_FILE);
  const size = c.size;
  const resize: ResizeRule =
    typeof size === 'number'
      ? { kind: 'shortestEdge', size }
      : 'shortest_edge' in size
        ? { kind: 'shortestEdge', size: size.shortest_edge }
        : { kind: 'exact', height: size.height, width: size.width };
  const crop = c.crop_size;
  if (typeof crop !== 'number' && 'shortest_edge' in crop) {
    throw new ConfigError({
      subject: `${PREPROCESSOR_FILE}: crop_size`,
      expected: '{height, width} or a number',
      found: JSON.stringify(crop),
    });
  }
  return Object.freeze({
    resize: c.do_resize ? resize : null,
    crop: c.do_center_crop ? (typeof crop === 'number' ? { height: crop, width: crop } : crop) : null,
    rescaleFactor: c.do_rescale ? c.rescale_factor : null,
    mean: c.do_normalize ? c.image_mean : null,
    std: c.do_normalize ? c.image_std : null,
    padToSquare: c.do_pad,
  });
}

export function loadPreprocessorConfig(dir: string): ImagePreprocessing {
  return normalizePreprocessorConfig(readJsonFile(dir, PREPROCESSOR_FILE));
}
