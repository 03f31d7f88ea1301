// The LLaVA-NeXT picture on 4-pixel crops, 2x2 tiles: base and tiles in place, every drawn patch
// (packed and flat numbering) over the pixels of the crop patch its token came from, and the
// padding bands unpadding removed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImageError } from '../errors.js';
import type { AnyresPixelValues, RgbImage } from '../image/index.js';
import type { Rect } from './draw-stages.js';
import { NEXT_GAP, nextDrawnPatch, nextPicture } from './next-picture.js';
import { nextImageTokens, nextTokenPlace, type NextTokenLayout } from './next-tokens.js';

const S = 4;
const RAW = { rescaleFactor: null, mean: null, std: null };
const WIDE: NextTokenLayout = { patchesPerSide: 2, tileRows: 2, tileCols: 2, grid: { top: 1, left: 0, height: 2, width: 4 } };
const TALL: NextTokenLayout = { patchesPerSide: 2, tileRows: 2, tileCols: 2, grid: { top: 0, left: 1, height: 4, width: 2 } };

/** Crop c's pixel (x, y) is (50c + 4y + x, 100, c): unnormalised values, so bytes come back as they are. */
function pixels(crops: number): AnyresPixelValues {
  const data = new Float32Array(crops * 3 * S * S);
  for (let c = 0; c < crops; c++) {
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) [50 * c + 4 * y + x, 100, c].forEach((v, ch) => (data[((c * 3 + ch) * S + y) * S + x] = v));
    }
  }
  return { data, shape: [1, crops, 3, S, S], imageSize: [4, 8] };
}

function rgb(image: RgbImage, x: number, y: number): number[] {
  return [...image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3)];
}

/** Every pixel of `r` is pixel (x0 + dx, y0 + dy) of crop c. */
function assertShowsCropPixels(image: RgbImage, r: Rect, c: number, x0: number, y0: number, what: string): void {
  for (let dy = 0; dy < r.height; dy++) {
    for (let dx = 0; dx < r.width; dx++) assert.deepEqual(rgb(image, r.left + dx, r.top + dy), [50 * c + 4 * (y0 + dy) + x0 + dx, 100, c], `${what} pixel (${dx}, ${dy})`);
  }
}

describe('nextPicture', () => {
  const { image, patchRects, cropPatchRects, padding } = nextPicture(pixels(5), WIDE, RAW);
  const canvasLeft = S + NEXT_GAP;

  it('places the base at the origin and the tiles row-major on the canvas, white elsewhere', () => {
    assert.deepEqual([image.width, image.height], [canvasLeft + 2 * S, 2 * S]);
    const whole = (left: number, top: number): Rect => ({ left, top, width: S, height: S });
    assertShowsCropPixels(image, whole(0, 0), 0, 0, 0, 'base');
    [whole(canvasLeft, 0), whole(canvasLeft + S, 0), whole(canvasLeft, S), whole(canvasLeft + S, S)].forEach((r, t) => assertShowsCropPixels(image, r, 1 + t, 0, 0, `tile ${t}`));
    assert.deepEqual(rgb(image, 0, S), [255, 255, 255], 'under the base');
    assert.deepEqual(rgb(image, S + NEXT_GAP - 1, 0), [255, 255, 255], 'the gap');
  });

  it('draws each non-newline token over the crop patch it came from, in token order', () => {
    assert.equal(patchRects.length, 4 + 2 * 4);
    let drawn = 0;
    for (let token = 0; token < nextImageTokens(WIDE); token++) {
      const place = nextTokenPlace(token, WIDE);
      const patch = nextDrawnPatch(place, WIDE);
      if (place.kind === 'newline') {
        assert.equal(patch, null);
        continue;
      }
      assert.equal(patch, drawn++, 'drawn patches follow the tokens, newlines skipped');
      const r = patchRects[patch!]!;
      if (place.kind === 'base') assertShowsCropPixels(image, r, 0, (place.patch % 2) * 2, Math.floor(place.patch / 2) * 2, `token ${token}`);
      else assertShowsCropPixels(image, r, 1 + place.tile[0] * 2 + place.tile[1], place.patch[1] * 2, place.patch[0] * 2, `token ${token}`);
    }
  });

  it("numbers the flat crops' patches crop by crop, padding cells included", () => {
    assert.equal(cropPatchRects.length, 5 * 4);
    cropPatchRects.forEach((r, i) => assertShowsCropPixels(image, r, Math.floor(i / 4), (i % 2) * 2, Math.floor((i % 4) / 2) * 2, `flat patch ${i}`));
  });

  it('hatches the feature rows unpadding removed for a wide image and the columns for a tall one', () => {
    assert.deepEqual(padding, [
      { left: canvasLeft, top: 0, width: 2 * S, height: 2 },
      { left: canvasLeft, top: 6, width: 2 * S, height: 2 },
    ]);
    assert.deepEqual(nextPicture(pixels(5), TALL, RAW).padding, [
      { left: canvasLeft, top: 0, width: 2, height: 2 * S },
      { left: canvasLeft + 6, top: 0, width: 2, height: 2 * S },
    ]);
    assert.deepEqual(nextPicture(pixels(5), { ...WIDE, grid: { top: 0, left: 0, height: 4, width: 4 } }, RAW).padding, [], 'nothing unpadded');
  });

  it('refuses pixel values with the wrong number of crops', () => {
    assert.throws(() => nextPicture(pixels(3), WIDE, RAW), ImageError);
  });
});
