// Anyres geometry pinned to hand-checked values at the llava-v1.6-vicuna-7b setting: chosen
// canvases, unpadded grids and image token counts (formats.md 5.2), the rounding edge sizes, and
// the errors for bad pinpoints and images too thin for any canvas.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, ImageError } from '../errors.js';
import {
  gridShape,
  nextImageTokenCount,
  pyIntRound7,
  selectBestResolution,
  unpaddedGrid,
  validatePinpoints,
  type ImageSize,
} from './anyres-grid.js';

const PINPOINTS = [
  [336, 672],
  [672, 336],
  [672, 672],
  [1008, 336],
  [336, 1008],
] as const;

/** Tokens for a W x H image (the order formats.md's table uses). */
function tokens(width: number, height: number): number {
  return nextImageTokenCount([height, width], PINPOINTS, 336, 24);
}

test('image token counts of llava-v1.6-vicuna-7b match transformers (formats.md 5.2 table)', () => {
  assert.equal(tokens(336, 336), 1176); // 576 + 24x24 + 24
  assert.equal(tokens(640, 480), 2340); // 576 + 36x48 + 36
  assert.equal(tokens(480, 640), 2352); // 576 + 48x36 + 48
  assert.equal(tokens(672, 672), 2928);
  assert.equal(tokens(1920, 1080), 1948); // 27 rows of image, padding (48 - 27) // 2 = 10 each side: 28
  assert.equal(tokens(1000, 300), 2182); // 576 + 22x72 + 22
});

test('the rounding-pitfall sizes: the raw unpadded length differs, the token count does not', () => {
  // Products 23.999999999999996, 55.99999999999999, 5.999999999999999: transformers' round(x, 7)
  // gives 24, 56, 6 and the original LLaVA int(x) 23, 55, 5, but (current - new) // 2 floors the
  // odd difference away, so both keep the same rows (tools/python/anyres_goldens.py checks all three).
  assert.equal(tokens(365, 1095), 2376); // 576 + 72x24 + 72
  assert.equal(tokens(309, 721), 1976); // 576 + 56x24 + 56
  assert.equal(tokens(1128, 94), 1014); // 576 + 6x72 + 6
  // Where the counts do differ (the goldens list every such size up to 1200x1200):
  assert.equal(tokens(47, 1128), 936); // original LLaVA: 792 (3 columns kept as 2)
  assert.equal(tokens(55, 88), 984); // original LLaVA: 936
  assert.equal(tokens(176, 55), 1360); // original LLaVA: 1262
});

test('selectBestResolution: most shown pixels, then least waste, then the first listed', () => {
  assert.deepEqual(selectBestResolution(336, 336, PINPOINTS), [336, 672]); // ties 672x336 and wastes the same
  assert.deepEqual(selectBestResolution(480, 640, PINPOINTS), [672, 672]);
  assert.deepEqual(selectBestResolution(300, 1000, PINPOINTS), [336, 1008]);
  assert.deepEqual(selectBestResolution(1095, 365, PINPOINTS), [1008, 336]);
  // Every canvas shows all of a small image; the smallest area wins, the first of equals.
  assert.deepEqual(selectBestResolution(10, 10, [[32, 32], [16, 32], [32, 16]]), [16, 32]);
  // A sliver shows 0 pixels on every canvas: 0 == 0 still counts as a tie (wasted < inf at the
  // start), so the least wasteful canvas is chosen rather than none.
  assert.deepEqual(selectBestResolution(1, 5000, [[16, 32], [16, 16]]), [16, 16]);
});

test('gridShape is the chosen canvas in crops, [rows, cols]', () => {
  assert.deepEqual(gridShape([480, 640], PINPOINTS, 336), [2, 2]);
  assert.deepEqual(gridShape([300, 1000], PINPOINTS, 336), [1, 3]);
  assert.deepEqual(gridShape([1095, 365], PINPOINTS, 336), [3, 1]);
});

test('unpaddedGrid keeps the middle rows or columns', () => {
  assert.deepEqual(unpaddedGrid([480, 640], 48, 48), { height: 36, width: 48, top: 6, left: 0 });
  assert.deepEqual(unpaddedGrid([640, 480], 48, 48), { height: 48, width: 36, top: 0, left: 6 });
  assert.deepEqual(unpaddedGrid([1080, 1920], 48, 48), { height: 28, width: 48, top: 10, left: 0 });
  assert.deepEqual(unpaddedGrid([672, 672], 48, 48), { height: 48, width: 48, top: 0, left: 0 });
});

test('pyIntRound7 is int(round(x, 7)): up only from 1 - 5e-8 exactly', () => {
  assert.equal(pyIntRound7(23.999999999999996), 24);
  assert.equal(pyIntRound7(0.99999995), 0); // the double is 0.9999999499999999708..., below the half
  assert.equal(pyIntRound7(5.99999995), 6); // this double is 5.99999995000000010..., above it
  assert.equal(pyIntRound7(0.9999999500000001), 1);
  assert.equal(pyIntRound7(0.9999999499999999), 0);
  assert.equal(pyIntRound7(2.5), 2);
  assert.equal(pyIntRound7(27), 27);
  assert.equal(pyIntRound7(-23.999999999999996), -24);
});

test('an image too thin for every canvas is an ImageError naming its size', () => {
  // 4000x10 (W x H) on 336x1008: int(round(10 * 72 / 4000, 7)) = 0 rows; transformers would keep
  // an empty map and give 576 tokens.
  const err = (size: ImageSize) => () => nextImageTokenCount(size, PINPOINTS, 336, 24);
  assert.throws(
    err([10, 4000]),
    (e: unknown) => e instanceof ImageError && e.subject === 'image of 4000x10 (WxH)' && e.found === '0x72 kept',
  );
  assert.throws(err([4000, 10]), (e: unknown) => e instanceof ImageError && e.found === '72x0 kept');
  // 1000x14: int(1.008) = 1 row, padding (24 - 1) // 2 = 11 each side leaves 2: still usable.
  assert.equal(tokens(1000, 14), 576 + 2 * 72 + 2);
});

test('bad pinpoints are ConfigErrors naming the key', () => {
  const bad = (value: unknown, key: RegExp) =>
    assert.throws(
      () => nextImageTokenCount([480, 640], value, 336, 24),
      (e: unknown) => e instanceof ConfigError && key.test(e.subject),
      `${JSON.stringify(value)} should be rejected naming ${key}`,
    );
  bad(undefined, /^image_grid_pinpoints$/);
  bad([], /^image_grid_pinpoints$/);
  bad('[[336, 672]]', /^image_grid_pinpoints$/);
  bad([[336, 672], [672]], /^image_grid_pinpoints\[1\]$/);
  bad([[336, 672], [672, 300]], /^image_grid_pinpoints\[1\]$/); // not a multiple of 336
  bad([[0, 336]], /^image_grid_pinpoints\[0\]$/);
  bad([[336, 672.5]], /^image_grid_pinpoints\[0\]$/);
  bad([[336 * 100, 336 * 100]], /^image_grid_pinpoints\[0\]$/); // above MAX_ANYRES_PIXELS
  assert.throws(
    () => validatePinpoints([[16, 16]], 0),
    (e: unknown) => e instanceof ConfigError && e.subject === 'crop_size',
  );
  assert.throws(
    () => validatePinpoints(null, 16, 'preprocessor_config.json: image_grid_pinpoints'),
    /^ConfigError: preprocessor_config\.json: image_grid_pinpoints: expected a non-empty list/,
  );
  assert.deepEqual(validatePinpoints([[16, 32]], 16), [[16, 32]]);
});

test('a non-integer image size or patch count is rejected', () => {
  assert.throws(() => tokens(0, 10), ImageError);
  assert.throws(() => tokens(10.5, 10), ImageError);
  assert.throws(() => nextImageTokenCount([10, 10], PINPOINTS, 336, 0), ConfigError);
});
