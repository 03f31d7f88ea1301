// LLaVA-NeXT feature packing against a literal transcription of HF's tensor steps (view, permute,
// flatten, unpad slice, newline concat), on small labelled features.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { packNextFeatures } from './next-features.js';

/** HF: view(rows, cols, g, g, D).permute(4, 0, 2, 1, 3).flatten(1, 2).flatten(2, 3), unpad, newline, flatten(1, 2).T */
function hfPack(features: number[][], g: number, rows: number, cols: number, top: number, left: number, height: number, width: number, newline: number[]): number[][] {
  const P = g * g;
  const tiles = features.slice(P);
  const grid: number[][][] = []; // [rows*g][cols*g] -> vector
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < g; i++) {
      const line: number[][] = [];
      for (let c = 0; c < cols; c++) for (let j = 0; j < g; j++) line.push(tiles[(r * cols + c) * P + i * g + j]!);
      grid.push(line);
    }
  const out = features.slice(0, P);
  for (const line of grid.slice(top, top + height)) out.push(...line.slice(left, left + width), newline);
  return out;
}

describe('packNextFeatures', () => {
  const D = 2;
  const g = 2;
  const label = (crop: number, token: number) => [crop * 10 + token, -(crop * 10 + token)];
  const newline = [99, 99];

  for (const [rows, cols, top, left, height, width] of [
    [1, 2, 0, 0, 2, 4],
    [2, 1, 0, 1, 4, 1],
    [2, 2, 1, 0, 2, 4],
    [1, 3, 0, 0, 2, 6],
  ] as const) {
    it(`matches HF for a ${rows}x${cols} tile grid unpadded to ${height}x${width} at (${top}, ${left})`, () => {
      const crops = 1 + rows * cols;
      const features = Array.from({ length: crops * g * g }, (_, i) => label(Math.floor(i / (g * g)), i % (g * g)));
      const packed = packNextFeatures(Float32Array.from(features.flat()), D, g, cols, { top, left, height, width }, Float32Array.from(newline));
      assert.deepEqual(Array.from(packed), hfPack(features, g, rows, cols, top, left, height, width, newline).flat());
    });
  }

  it('with the base image alone, appends one newline', () => {
    const features = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(Array.from(packNextFeatures(features, D, g, 0, { top: 0, left: 0, height: 0, width: 0 }, Float32Array.from(newline))), [1, 2, 3, 4, 5, 6, 7, 8, 99, 99]);
  });
});
