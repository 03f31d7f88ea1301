// LLaVA-NeXT's preprocessor_config.json (anyres-config.ts): llava-v1.6's file becomes the anyres
// settings, and bad or unsupported keys are ConfigErrors naming file and key.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  loadLlavaNextPreprocessorConfig,
  normalizeLlavaNextPreprocessorConfig,
} from './anyres-config.js';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD } from '../config/preprocessor.js';
import { ConfigError } from '../errors.js';

const PINPOINTS = [
  [336, 672],
  [672, 336],
  [672, 672],
  [1008, 336],
  [336, 1008],
];

/** llava-hf/llava-v1.6-vicuna-7b-hf's preprocessor_config.json. */
const LLAVA_V16 = {
  aspect_ratio_setting: 'anyres',
  crop_size: { height: 336, width: 336 },
  do_center_crop: true,
  do_convert_rgb: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_grid_pinpoints: PINPOINTS,
  image_mean: [...OPENAI_CLIP_MEAN],
  image_processor_type: 'LlavaNextImageProcessor',
  image_std: [...OPENAI_CLIP_STD],
  processor_class: 'LlavaNextProcessor',
  resample: 3,
  rescale_factor: 0.00392156862745098,
  size: { shortest_edge: 336 },
};

function rejects(change: Record<string, unknown>, key: string): void {
  assert.throws(
    () => normalizeLlavaNextPreprocessorConfig({ ...LLAVA_V16, ...change }),
    (e: unknown) => e instanceof ConfigError && e.subject === `preprocessor_config.json: ${key}`,
    `${JSON.stringify(change)} should be rejected naming ${key}`,
  );
}

test('llava-v1.6 preprocessor_config.json gives the 336-pixel anyres settings', () => {
  assert.deepEqual(normalizeLlavaNextPreprocessorConfig(LLAVA_V16), {
    pinpoints: PINPOINTS,
    cropSize: 336,
    shortestEdge: 336,
    rescaleFactor: 0.00392156862745098,
    mean: [...OPENAI_CLIP_MEAN],
    std: [...OPENAI_CLIP_STD],
  });
  const dir = mkdtempSync(join(tmpdir(), 'visdrop-anyres-'));
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(LLAVA_V16));
  assert.equal(loadLlavaNextPreprocessorConfig(dir).cropSize, 336);
});

test('numbers for size and crop_size, and normalisation off', () => {
  const p = normalizeLlavaNextPreprocessorConfig({
    image_grid_pinpoints: [[32, 16]],
    size: 20,
    crop_size: 16,
    do_normalize: false,
    do_rescale: false,
  });
  assert.deepEqual([p.cropSize, p.shortestEdge, p.rescaleFactor, p.mean, p.std], [16, 20, null, null, null]);
});

test('missing, empty or malformed pinpoints name image_grid_pinpoints', () => {
  const { image_grid_pinpoints: _, ...withoutPinpoints } = LLAVA_V16;
  assert.throws(
    () => normalizeLlavaNextPreprocessorConfig(withoutPinpoints),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.subject === 'preprocessor_config.json: image_grid_pinpoints' &&
      e.found === 'nothing',
  );
  rejects({ image_grid_pinpoints: [] }, 'image_grid_pinpoints');
  rejects({ image_grid_pinpoints: [[336, 672], [672, 337]] }, 'image_grid_pinpoints[1]');
  rejects({ image_grid_pinpoints: [[336, 672], [672, 672], [336]] }, 'image_grid_pinpoints[2]');
  rejects({ crop_size: { height: 224, width: 224 } }, 'image_grid_pinpoints[0]'); // 672 is no multiple of 224
});

test('settings the anyres path does not implement are rejected by key', () => {
  rejects({ crop_size: { height: 336, width: 224 } }, 'crop_size');
  rejects({ do_center_crop: false }, 'do_center_crop');
  rejects({ do_resize: false }, 'do_resize');
  rejects({ resample: 2 }, 'resample');
  rejects({ size: { height: 336, width: 336 } }, 'size');
});
