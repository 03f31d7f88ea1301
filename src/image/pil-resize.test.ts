// resizeBicubic properties that hold whatever Pillow does: sizes, copies, constants stay constant,
// bad arguments are ImageErrors. Byte equality with Pillow itself is checked in goldens.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImageError } from '../errors.js';
import { resizeBicubic } from './pil-resize.js';
import type { RgbImage } from './rgb-image.js';

function constant(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, data };
}

test('the same size gives an equal copy, not the input buffer', () => {
  const img = { width: 2, height: 2, data: Uint8Array.from({ length: 12 }, (_, i) => i * 20) };
  const out = resizeBicubic(img, 2, 2);
  assert.deepEqual(out, img);
  assert.notEqual(out.data, img.data);
});

test('a constant image stays constant when scaled up, down and across', () => {
  const img = constant(13, 7, [0, 131, 255]);
  for (const [w, h] of [[40, 21], [3, 2], [1, 1], [13, 30], [50, 7], [5, 19]] as const) {
    const out = resizeBicubic(img, w, h);
    assert.deepEqual([out.width, out.height, out.data.length], [w, h, w * h * 3]);
    assert.deepEqual(out, constant(w, h, [0, 131, 255]), `${w}x${h}`);
  }
});

test('a one-pixel image can be enlarged', () => {
  assert.deepEqual(resizeBicubic(constant(1, 1, [9, 99, 199]), 3, 2), constant(3, 2, [9, 99, 199]));
});

test('bad target sizes and malformed images are ImageErrors', () => {
  const img = constant(4, 4, [1, 2, 3]);
  for (const [w, h] of [[0, 4], [4, -1], [2.5, 4], [Number.NaN, 4]]) {
    assert.throws(() => resizeBicubic(img, w!, h!), ImageError, `${w}x${h}`);
  }
  assert.throws(() => resizeBicubic({ width: 4, height: 4, data: new Uint8Array(47) }, 2, 2), ImageError);
});
