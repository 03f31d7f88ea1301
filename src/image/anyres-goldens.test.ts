// Agreement with the numpy/PIL replica of transformers' LlavaNextImageProcessor and
// LlavaNextProcessor in test-fixtures/image/anyres (tools/python/anyres_goldens.py): pixel values
// within 1e-3, chosen canvases, token counts over a sweep of sizes, and int(round(x, 7)).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OPENAI_CLIP_MEAN, OPENAI_CLIP_STD } from '../config/preprocessor.js';
import { ImageError } from '../errors.js';
import { nextImageTokenCount, pyIntRound7, selectBestResolution, unpaddedGrid, type Pinpoint } from './anyres-grid.js';
import { anyresPixelValues, patchResizeTarget, type AnyresPreprocessing } from './anyres.js';
import type { RgbImage } from './rgb-image.js';

const DIR = fileURLToPath(new URL('../../test-fixtures/image/anyres/', import.meta.url));
const TOLERANCE = 1e-3;

interface Case {
  readonly width: number;
  readonly height: number;
  readonly pinpoints: Pinpoint[];
  readonly bestResolution: [number, number];
  readonly fittedSize: [number, number];
  readonly shape: number[];
}
interface Manifest {
  readonly pixels: readonly (Case & {
    name: string;
    source: string;
    cropSize: number;
    shortestEdge: number;
    expected: string;
  })[];
  readonly full: Case & {
    readonly sourceSha256: string;
    readonly cropChannelSums: readonly (readonly number[])[];
    readonly sampleIndices: readonly number[];
    readonly sampleValues: readonly number[];
  };
  readonly tokens: {
    readonly pinpoints: Pinpoint[];
    readonly cropSize: number;
    readonly patchesPerSide: number;
    readonly named: readonly { width: number; height: number; hf: number; unpadded: [number, number] }[];
    /** [width, height, tokens, unpadded rows, unpadded cols] */
    readonly sweep: readonly [number, number, number, number, number][];
    /** [width, height, transformers, original LLaVA, integer division] token counts */
    readonly disagreements: readonly [number, number, number, number, number][];
  };
  readonly pyIntRound7: readonly [number, number][];
}

const manifest = JSON.parse(readFileSync(join(DIR, 'goldens.json'), 'utf8')) as Manifest;

function floats(rel: string): Float32Array {
  const buf = readFileSync(join(DIR, rel));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return Float32Array.from({ length: buf.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

function clip(pinpoints: Pinpoint[], cropSize: number, shortestEdge: number): AnyresPreprocessing {
  return { pinpoints, cropSize, shortestEdge, rescaleFactor: 1 / 255, mean: OPENAI_CLIP_MEAN, std: OPENAI_CLIP_STD };
}

/** The largest absolute difference and its index. */
function maxDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): { max: number; at: number } {
  assert.equal(actual.length, expected.length, 'length');
  let [max, at] = [0, -1];
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (d > max) [max, at] = [d, i];
  }
  return { max, at };
}

/** formula_image of the goldens script: integer sawtooth ramps plus a white and a black block. */
function formulaImage(width: number, height: number): RgbImage {
  // v in [size * from, size * to) with Python's integer floor division, e.g. height // 4.
  type Fraction = readonly [number, number];
  const within = (v: number, size: number, [a, b]: Fraction, [c, d]: Fraction) =>
    v >= Math.floor((size * a) / b) && v < Math.floor((size * c) / d);
  const inWhite = (x: number, y: number) => within(y, height, [1, 4], [1, 2]) && within(x, width, [1, 5], [1, 3]);
  const inBlack = (x: number, y: number) => within(y, height, [1, 2], [3, 4]) && within(x, width, [1, 2], [2, 3]);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = (x * (3 + c) + y * (5 - c) + ((x * y) >> 6) * (c + 1)) % 256;
        data[(y * width + x) * 3 + c] = inWhite(x, y) ? 255 : inBlack(x, y) ? 0 : v;
      }
    }
  }
  return { width, height, data };
}

function checkGeometry(c: Case): void {
  const best = selectBestResolution(c.height, c.width, c.pinpoints);
  assert.deepEqual(best, c.bestResolution, `${c.width}x${c.height}: canvas`);
  assert.deepEqual(patchResizeTarget([c.height, c.width], best), c.fittedSize, `${c.width}x${c.height}: fitted size`);
}

test('small anyres cases match transformers within 1e-3 (crop size 16)', (t) => {
  for (const c of manifest.pixels) {
    checkGeometry(c);
    const img: RgbImage = { width: c.width, height: c.height, data: new Uint8Array(readFileSync(join(DIR, c.source))) };
    const pv = anyresPixelValues(img, clip(c.pinpoints, c.cropSize, c.shortestEdge));
    assert.deepEqual(pv.shape, c.shape, `${c.name}: shape`);
    assert.deepEqual(pv.imageSize, [c.height, c.width], `${c.name}: image size`);
    const d = maxDiff(pv.data, floats(c.expected));
    t.diagnostic(`${c.name}: max abs diff ${d.max}`);
    assert.ok(d.max <= TOLERANCE, `${c.name}: max abs diff ${d.max} at index ${d.at}`);
  }
});

test('llava-v1.6 setting on a 640x480 image: per-crop channel sums and samples', (t) => {
  const g = manifest.full;
  checkGeometry(g);
  const img = formulaImage(g.width, g.height);
  assert.equal(createHash('sha256').update(img.data).digest('hex'), g.sourceSha256, 'the rebuilt image differs');
  const pv = anyresPixelValues(img, clip(g.pinpoints, 336, 336));
  assert.deepEqual(pv.shape, g.shape);
  const d = maxDiff(g.sampleIndices.map((i) => pv.data[i]!), g.sampleValues);
  t.diagnostic(`${g.sampleIndices.length} sampled values: max abs diff ${d.max}`);
  assert.ok(d.max <= TOLERANCE, `sampled values: max abs diff ${d.max} at sample ${d.at}`);
  const plane = 336 * 336;
  let worst = 0;
  g.cropChannelSums.forEach((sums, crop) =>
    sums.forEach((expected, c) => {
      let sum = 0;
      for (let i = (crop * 3 + c) * plane; i < (crop * 3 + c + 1) * plane; i++) sum += pv.data[i]!;
      worst = Math.max(worst, Math.abs(sum - expected));
      // A 1e-3 error on every value would move a sum by about 113.
      assert.ok(Math.abs(sum - expected) < 1, `crop ${crop} channel ${c}: sum ${sum}, transformers ${expected}`);
    }),
  );
  t.diagnostic(`per-crop channel sums: max abs diff ${worst}`);
});

test('token counts and unpadded grids match transformers over a sweep of sizes', (t) => {
  const { pinpoints, cropSize, patchesPerSide: side } = manifest.tokens;
  const count = (width: number, height: number) => nextImageTokenCount([height, width], pinpoints, cropSize, side);
  for (const n of manifest.tokens.named) {
    if (n.unpadded[0] === 0) assert.throws(() => count(n.width, n.height), ImageError);
    else assert.equal(count(n.width, n.height), n.hf, `${n.width}x${n.height}`);
  }
  let rejected = 0;
  for (const [width, height, tokens, rows, cols] of manifest.tokens.sweep) {
    if (rows === 0 || cols === 0) {
      rejected++;
      assert.throws(() => count(width, height), ImageError, `${width}x${height} keeps ${rows}x${cols}`);
      continue;
    }
    assert.equal(count(width, height), tokens, `${width}x${height}`);
  }
  t.diagnostic(`${manifest.tokens.sweep.length} sizes, ${rejected} rejected as too thin`);
  // Every size up to 1200x1200 where transformers' rounding and the original int() disagree.
  assert.ok(manifest.tokens.disagreements.length > 0);
  for (const [width, height, hf] of manifest.tokens.disagreements) {
    assert.equal(count(width, height), hf, `${width}x${height}`);
  }
  // unpaddedGrid alone, on a map that is not a whole number of crops.
  assert.deepEqual(unpaddedGrid([1095, 365], 72, 24), { height: 72, width: 24, top: 0, left: 0 });
});

test('pyIntRound7 equals Python int(round(x, 7)) at the half-way edges', () => {
  for (const [x, expected] of manifest.pyIntRound7) assert.equal(pyIntRound7(x), expected, `int(round(${x}, 7))`);
});
