// anyresPixelValues on hand-made images, with rescale and normalise off so values are the bytes:
// fitted size, zero padding with the odd pixel at the bottom/right, row-major tiles after the base
// image, and the errors for bad settings and oversized images.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, ImageError } from '../errors.js';
import { MAX_ANYRES_PIXELS } from './anyres-grid.js';
import { anyresPixelValues, patchResizeTarget, type AnyresPreprocessing } from './anyres.js';
import { resizeBicubic } from './pil-resize.js';
import type { RgbImage } from './rgb-image.js';

/** Pixel i (row-major) has the grey level i + 1, so placements can be read back. */
function numbered(width: number, height: number): RgbImage {
  return { width, height, data: Uint8Array.from({ length: width * height * 3 }, (_, k) => 1 + Math.floor(k / 3)) };
}

/** Crop-size 2 settings with every value step off. */
function bytesOnly(pinpoints: AnyresPreprocessing['pinpoints']): AnyresPreprocessing {
  return { pinpoints, cropSize: 2, shortestEdge: 2, rescaleFactor: null, mean: null, std: null };
}

/** Channel 0 of every crop as rows of values: [crop][y][x]. */
function crops(data: Float32Array, side: number): number[][][] {
  const count = data.length / (3 * side * side);
  return Array.from({ length: count }, (_, i) =>
    Array.from({ length: side }, (_, y) =>
      Array.from({ length: side }, (_, x) => data[i * 3 * side * side + y * side + x]!),
    ),
  );
}

test('patchResizeTarget fits the tighter axis and rounds the other up', () => {
  assert.deepEqual(patchResizeTarget([480, 640], [672, 672]), [504, 672]);
  assert.deepEqual(patchResizeTarget([37, 50], [32, 32]), [24, 32]); // ceil(23.68)
  assert.deepEqual(patchResizeTarget([50, 37], [32, 32]), [32, 24]);
  assert.deepEqual(patchResizeTarget([21, 50], [32, 32]), [14, 32]); // ceil(13.44), not rounded
  assert.deepEqual(patchResizeTarget([9, 13], [16, 32]), [16, 24]); // upscale: ceil(23.1)
  assert.deepEqual(patchResizeTarget([32, 32], [32, 32]), [32, 32]);
  assert.deepEqual(patchResizeTarget([10, 4000], [336, 1008]), [3, 1008]); // ceil(2.52), never 0
});

test('the base image comes first, then the tiles row-major; the odd padding row goes to the bottom', () => {
  const img = numbered(4, 1);
  const pv = anyresPixelValues(img, bytesOnly([[2, 4]]));
  assert.deepEqual(pv.shape, [1, 3, 3, 2, 2]);
  assert.deepEqual(pv.imageSize, [1, 4]);
  const base = resizeBicubic(img, 2, 2);
  const [b, t0, t1] = crops(pv.data, 2);
  assert.deepEqual(b, [[base.data[0], base.data[3]], [base.data[6], base.data[9]]]);
  // The 1x4 image already fits the 2x4 canvas: divmod(1, 2) puts it on row 0, zeros below.
  assert.deepEqual(t0, [[1, 2], [0, 0]]);
  assert.deepEqual(t1, [[3, 4], [0, 0]]);
});

test('padding splits divmod(excess, 2): one before, two after', () => {
  const wide = crops(anyresPixelValues(numbered(4, 1), bytesOnly([[4, 4]])).data, 2).slice(1);
  assert.deepEqual(wide, [[[0, 0], [1, 2]], [[0, 0], [3, 4]], [[0, 0], [0, 0]], [[0, 0], [0, 0]]]);
  const tall = crops(anyresPixelValues(numbered(1, 4), bytesOnly([[4, 4]])).data, 2).slice(1);
  assert.deepEqual(tall, [[[0, 1], [0, 2]], [[0, 0], [0, 0]], [[0, 3], [0, 4]], [[0, 0], [0, 0]]]);
});

test('every channel is kept apart, NCHW within each crop', () => {
  const img: RgbImage = { width: 2, height: 2, data: Uint8Array.from({ length: 12 }, (_, k) => 10 * (k % 3) + 1) };
  const pv = anyresPixelValues(img, bytesOnly([[2, 2]]));
  assert.deepEqual([...pv.data.subarray(12, 24)], [1, 1, 1, 1, 11, 11, 11, 11, 21, 21, 21, 21]);
});

test('bad settings are ConfigErrors naming the key', () => {
  const img = numbered(4, 4);
  const isConfig = (key: RegExp) => (e: unknown) => e instanceof ConfigError && key.test(e.subject);
  assert.throws(() => anyresPixelValues(img, bytesOnly([])), isConfig(/^image_grid_pinpoints$/));
  assert.throws(() => anyresPixelValues(img, bytesOnly([[2, 3]])), isConfig(/^image_grid_pinpoints\[0\]$/));
  assert.throws(() => anyresPixelValues(img, { ...bytesOnly([[2, 2]]), cropSize: 0 }), isConfig(/^crop_size$/));
  assert.throws(
    () => anyresPixelValues(img, { ...bytesOnly([[2, 2]]), shortestEdge: 0 }),
    isConfig(/^size\.shortest_edge$/),
  );
});

test('an image above MAX_ANYRES_PIXELS is an ImageError before any allocation', () => {
  // A stand-in buffer that only reports its length: the check must not touch or copy pixels.
  const width = 8193;
  const height = MAX_ANYRES_PIXELS / 8192;
  const huge = { width, height, data: { length: width * height * 3 } as Uint8Array };
  assert.throws(
    () => anyresPixelValues(huge, bytesOnly([[2, 2]])),
    (e: unknown) => e instanceof ImageError && e.found.startsWith('8193x8192 (WxH)'),
  );
  const truncated = { width: 2, height: 2, data: new Uint8Array(5) };
  assert.throws(() => anyresPixelValues(truncated, bytesOnly([[2, 2]])), ImageError);
});
