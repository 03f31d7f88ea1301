// LLaVA-NeXT image token -> patch on hand-made layouts (2x2 tiles of 2x2 patches, unpadded at top and
// bottom or at the sides: offsets and newlines), on the demo image's real layout, and against
// packNextFeatures for every token.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GraphError } from '../errors.js';
import { packNextFeatures } from '../generate/next-features.js';
import { nextImageTokens, nextTokenLayout, nextTokenPlace, type NextTokenLayout } from './next-tokens.js';

const PINPOINTS = [
  [336, 672],
  [672, 336],
  [672, 672],
  [1008, 336],
  [336, 1008],
];

/** 2x2 tiles of 2x2 patches: a 4x4 feature grid, of which rows 1 and 2 are kept (a wide image). */
const WIDE: NextTokenLayout = { patchesPerSide: 2, tileRows: 2, tileCols: 2, grid: { top: 1, left: 0, height: 2, width: 4 } };
/** The same grid keeping columns 1 and 2 (a tall image). */
const TALL: NextTokenLayout = { patchesPerSide: 2, tileRows: 2, tileCols: 2, grid: { top: 0, left: 1, height: 4, width: 2 } };

describe('nextTokenPlace', () => {
  it('counts the base tokens, then each kept row and its newline', () => {
    assert.equal(nextImageTokens(WIDE), 4 + 2 * 5);
    assert.equal(nextImageTokens(TALL), 4 + 4 * 3);
  });

  it('maps the first g*g tokens to the base image in raster order', () => {
    assert.deepEqual([0, 3].map((i) => nextTokenPlace(i, WIDE)), [
      { kind: 'base', patch: 0 },
      { kind: 'base', patch: 3 },
    ]);
  });

  it('shifts tile rows by the top offset and finds each row-ending newline (wide image)', () => {
    // Tokens 4..8: kept row 0 = feature row 1 (x = 0..3), then its newline; 9..13: row 1 = feature row 2.
    assert.deepEqual(nextTokenPlace(4, WIDE), { kind: 'tile', y: 1, x: 0, tile: [0, 0], patch: [1, 0] });
    assert.deepEqual(nextTokenPlace(6, WIDE), { kind: 'tile', y: 1, x: 2, tile: [0, 1], patch: [1, 0] });
    assert.deepEqual(nextTokenPlace(7, WIDE), { kind: 'tile', y: 1, x: 3, tile: [0, 1], patch: [1, 1] });
    assert.deepEqual(nextTokenPlace(8, WIDE), { kind: 'newline', row: 0 });
    assert.deepEqual(nextTokenPlace(9, WIDE), { kind: 'tile', y: 2, x: 0, tile: [1, 0], patch: [0, 0] });
    assert.deepEqual(nextTokenPlace(12, WIDE), { kind: 'tile', y: 2, x: 3, tile: [1, 1], patch: [0, 1] });
    assert.deepEqual(nextTokenPlace(13, WIDE), { kind: 'newline', row: 1 });
  });

  it('shifts tile columns by the left offset (tall image)', () => {
    // Rows are 2 cells (x = 1, 2) and a newline.
    assert.deepEqual(nextTokenPlace(4, TALL), { kind: 'tile', y: 0, x: 1, tile: [0, 0], patch: [0, 1] });
    assert.deepEqual(nextTokenPlace(5, TALL), { kind: 'tile', y: 0, x: 2, tile: [0, 1], patch: [0, 0] });
    assert.deepEqual(nextTokenPlace(6, TALL), { kind: 'newline', row: 0 });
    assert.deepEqual(nextTokenPlace(13, TALL), { kind: 'tile', y: 3, x: 1, tile: [1, 0], patch: [1, 1] });
    assert.deepEqual(nextTokenPlace(15, TALL), { kind: 'newline', row: 3 });
  });

  it('refuses indices outside the image tokens', () => {
    for (const bad of [-1, 14, 1.5]) assert.throws(() => nextTokenPlace(bad, WIDE), GraphError);
  });
});

describe('nextTokenLayout', () => {
  it("lays out the 480x360 demo image as the processor does: 2x2 tiles, 36 of 48 rows kept from row 6", () => {
    const layout = nextTokenLayout([360, 480], PINPOINTS, 336, 24);
    assert.deepEqual(layout, { patchesPerSide: 24, tileRows: 2, tileCols: 2, grid: { top: 6, left: 0, height: 36, width: 48 } });
    assert.equal(nextImageTokens(layout), 2340);
    assert.deepEqual(nextTokenPlace(576, layout), { kind: 'tile', y: 6, x: 0, tile: [0, 0], patch: [6, 0] });
    assert.deepEqual(nextTokenPlace(576 + 48, layout), { kind: 'newline', row: 0 });
    assert.deepEqual(nextTokenPlace(576 + 49 + 47, layout), { kind: 'tile', y: 7, x: 47, tile: [0, 1], patch: [7, 23] });
    assert.deepEqual(nextTokenPlace(576 + 18 * 49, layout), { kind: 'tile', y: 24, x: 0, tile: [1, 0], patch: [0, 0] });
    assert.deepEqual(nextTokenPlace(2339, layout), { kind: 'newline', row: 35 });
  });

  it('agrees with packNextFeatures on where every token came from', () => {
    for (const [size, layout] of [
      ['wide', WIDE],
      ['tall', TALL],
      ['demo', nextTokenLayout([360, 480], PINPOINTS, 336, 24)],
    ] as const) {
      // One value per feature, naming its crop and patch (crop * P + patch); the newline is -1.
      const { patchesPerSide: g, tileRows, tileCols, grid } = layout;
      const P = g * g;
      const features = Float32Array.from({ length: (1 + tileRows * tileCols) * P }, (_, i) => i);
      const packed = packNextFeatures(features, 1, g, tileCols, grid, Float32Array.of(-1));
      assert.equal(packed.length, nextImageTokens(layout), size);
      packed.forEach((source, index) => {
        const place = nextTokenPlace(index, layout);
        const expected =
          place.kind === 'newline' ? -1 : place.kind === 'base' ? place.patch : (1 + place.tile[0] * tileCols + place.tile[1]) * P + place.patch[0] * g + place.patch[1];
        assert.equal(source, expected, `${size}: token ${index}`);
      });
    }
  });
});
