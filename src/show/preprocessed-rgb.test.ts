// pixelValuesToRgb undoes the CLIP processor: every byte survives a round trip through
// preprocessImage, known float values map to known bytes, values round and clamp.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, type ImagePreprocessing } from '../config/preprocessor.js';
import { ImageError } from '../errors.js';
import { preprocessImage, type PixelValues } from '../image/index.js';
import { pixelValuesToRgb } from './preprocessed-rgb.js';

const CLIP: ImagePreprocessing = {
  resize: null,
  crop: null,
  rescaleFactor: 1 / 255,
  mean: OPENAI_CLIP_MEAN,
  std: OPENAI_CLIP_STD,
  padToSquare: false,
};

function pixels(width: number, height: number, values: number[]): PixelValues {
  return { data: Float32Array.from(values), shape: [1, 3, height, width] };
}

describe('pixelValuesToRgb', () => {
  it('returns every byte value unchanged after the CLIP processor (all 256 values per channel)', () => {
    // 16x16: channel c of pixel i is (i * (2c + 1) + 7c) mod 256, a different permutation of 0..255 each.
    const data = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = (i * (2 * c + 1) + 7 * c) % 256;
    const back = pixelValuesToRgb(preprocessImage({ width: 16, height: 16, data }, CLIP), CLIP);
    assert.equal(back.width, 16);
    assert.equal(back.height, 16);
    assert.deepEqual(back.data, data);
  });

  it('maps known normalised values to their bytes and reorders NCHW to HWC', () => {
    const [m0, m1, m2] = OPENAI_CLIP_MEAN;
    const [s0, s1, s2] = OPENAI_CLIP_STD;
    // 2x1 image: pixel 0 = (0, 128, 255), pixel 1 = (200, 17, 99).
    const at = (byte: number, c: 0 | 1 | 2) => (byte / 255 - [m0, m1, m2][c]!) / [s0, s1, s2][c]!;
    const rgb = pixelValuesToRgb(pixels(2, 1, [at(0, 0), at(200, 0), at(128, 1), at(17, 1), at(255, 2), at(99, 2)]), CLIP);
    assert.deepEqual([...rgb.data], [0, 128, 255, 200, 17, 99]);
  });

  it('clamps values outside 0..255', () => {
    assert.deepEqual([...pixelValuesToRgb(pixels(1, 1, [100, -100, 0]), CLIP).data], [255, 0, Math.round(OPENAI_CLIP_MEAN[2] * 255)]);
  });

  it('undoes only the steps the processor applied', () => {
    const raw = { ...CLIP, rescaleFactor: null, mean: null, std: null };
    assert.deepEqual([...pixelValuesToRgb(pixels(1, 1, [3.4, 3.6, 254.5]), raw).data], [3, 4, 255]);
    const rescaleOnly = { ...CLIP, mean: null };
    assert.deepEqual([...pixelValuesToRgb(pixels(1, 1, [0, 0.5, 1]), rescaleOnly).data], [0, 128, 255]);
  });

  it('refuses pixel values that are not [1, 3, H, W]', () => {
    assert.throws(() => pixelValuesToRgb({ data: new Float32Array(8), shape: [1, 2, 2, 2] as unknown as PixelValues['shape'] }, CLIP), ImageError);
    assert.throws(() => pixelValuesToRgb({ data: new Float32Array(11), shape: [1, 3, 2, 2] }, CLIP), ImageError);
  });
});
