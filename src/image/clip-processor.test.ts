// The processor's geometry and arithmetic on hand-made images: resize target sizes, pad-to-square
// placement and colour, centre crop (also when it must pad), NCHW layout and CLIP normalisation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, type ImagePreprocessing } from '../config/preprocessor.js';
import { ImageError } from '../errors.js';
import { centerCrop, padColour, padToSquare, preprocessImage, resizeTarget } from './clip-processor.js';
import type { RgbImage } from './rgb-image.js';

/** Pixel i of the image has the colour [i, i, i], so positions can be read back from values. */
function numbered(width: number, height: number): RgbImage {
  return { width, height, data: Uint8Array.from({ length: width * height * 3 }, (_, k) => 1 + Math.floor(k / 3)) };
}

/** One grey value per pixel, row by row. */
function greys(img: RgbImage): number[][] {
  return Array.from({ length: img.height }, (_, y) =>
    Array.from({ length: img.width }, (_, x) => img.data[(y * img.width + x) * 3]!),
  );
}

const NOTHING: ImagePreprocessing = {
  resize: null,
  crop: null,
  rescaleFactor: null,
  mean: null,
  std: null,
  padToSquare: false,
};

test('shortest-edge resize targets follow transformers, truncating the long side', () => {
  const edge = (size: number) => ({ kind: 'shortestEdge', size }) as const;
  assert.deepEqual(resizeTarget(500, 375, edge(336)), { width: 448, height: 336 });
  assert.deepEqual(resizeTarget(375, 500, edge(336)), { width: 336, height: 448 });
  assert.deepEqual(resizeTarget(3, 10, edge(2)), { width: 2, height: 6 }); // 6.67 truncates
  assert.deepEqual(resizeTarget(40, 40, edge(24)), { width: 24, height: 24 });
  assert.deepEqual(resizeTarget(336, 1000, edge(336)), { width: 336, height: 1000 });
  assert.deepEqual(resizeTarget(500, 375, { kind: 'exact', height: 20, width: 30 }), { width: 30, height: 20 });
});

test('pad colour of the CLIP mean is (122, 116, 104)', () => {
  assert.deepEqual(padColour(OPENAI_CLIP_MEAN), [122, 116, 104]);
});

test('padToSquare centres the image, rounding the offset down', () => {
  const wide = padToSquare(numbered(4, 1), [0, 0, 0]);
  assert.deepEqual(greys(wide), [[0, 0, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0], [0, 0, 0, 0]]);
  const tall = padToSquare(numbered(1, 3), [122, 116, 104]);
  assert.deepEqual(greys(tall), [[122, 1, 122], [122, 2, 122], [122, 3, 122]]);
  assert.deepEqual([...tall.data.subarray(0, 3)], [122, 116, 104]);
  const square = numbered(2, 2);
  assert.equal(padToSquare(square, [9, 9, 9]), square);
});

test('centerCrop drops the odd excess at the bottom/right and pads the odd gap at the top/left', () => {
  assert.deepEqual(greys(centerCrop(numbered(5, 4), 1, 2)), [[7, 8]]);
  assert.deepEqual(greys(centerCrop(numbered(2, 2), 5, 3)), [
    [0, 0, 0],
    [0, 0, 0],
    [0, 1, 2],
    [0, 3, 4],
    [0, 0, 0],
  ]);
  // Taller than the crop one way, narrower the other.
  assert.deepEqual(greys(centerCrop(numbered(1, 4), 2, 2)), [[0, 2], [0, 3]]);
});

test('pixel values are NCHW, and without steps they are the bytes', () => {
  const img: RgbImage = { width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
  const pv = preprocessImage(img, NOTHING);
  assert.deepEqual(pv.shape, [1, 3, 1, 2]);
  assert.deepEqual([...pv.data], [1, 4, 2, 5, 3, 6]);
});

test('CLIP rescale + normalise maps 0 and 255 to the known float32 extremes', () => {
  const img: RgbImage = { width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 255, 255, 255]) };
  const clip = { ...NOTHING, rescaleFactor: 1 / 255, mean: OPENAI_CLIP_MEAN, std: OPENAI_CLIP_STD };
  const pv = preprocessImage(img, clip);
  // numpy: (np.float32([0, 1]) - mean.astype(float32)) / std.astype(float32), per channel.
  const expected = [-1.7922626, 1.9303361, -1.7520971, 2.0748837, -1.4802198, 2.145897];
  pv.data.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-6, `value ${i}: ${v} vs ${expected[i]}`));
});

test('a malformed image is an ImageError', () => {
  assert.throws(() => preprocessImage({ width: 3, height: 2, data: new Uint8Array(17) }, NOTHING), ImageError);
});
