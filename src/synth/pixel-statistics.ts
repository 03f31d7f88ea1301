// The synthetic scenes' per-channel pixel mean and standard deviation (pixels scaled to [0, 1]),
// which visdrop-tiny's image processor normalises with instead of CLIP's. The scenes are pale
// backgrounds with a few saturated objects: under CLIP's statistics every background patch lands
// far from zero and alike, so the frozen random tower gives every image token nearly the same
// embedding and the few object tokens differ from it by a small fraction (README, "visdrop-tiny").
// Normalised with the set's own statistics, as any model trained on its own data would be, the
// background sits near zero and what differs between patches carries the scale.
import { sceneSplit } from './dataset.js';
import { renderScene } from './render.js';
import { sampleScene } from './scene.js';

export interface PixelStatistics {
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/** measurePixelStatistics(0, 2000), rounded to 4 decimals; another seed's 2000 scenes give the same to within 2e-3. */
export const SYNTH_PIXEL_STATISTICS: PixelStatistics = { mean: [0.8646, 0.8675, 0.872], std: [0.0928, 0.0844, 0.097] };

/** Mean and standard deviation per channel over the training scenes among the first `count` of the set with `seed`. */
export function measurePixelStatistics(seed: number, count: number): PixelStatistics {
  const sum = [0, 0, 0];
  const squares = [0, 0, 0];
  let pixels = 0;
  for (let index = 0; index < count; index++) {
    const scene = sampleScene(seed, index);
    if (sceneSplit(seed, scene.id) !== 'train') continue;
    const { data } = renderScene(scene);
    for (let o = 0; o < data.length; o += 3) {
      for (let c = 0; c < 3; c++) {
        const v = data[o + c]! / 255;
        sum[c]! += v;
        squares[c]! += v * v;
      }
    }
    pixels += data.length / 3;
  }
  const mean = sum.map((s) => s / pixels) as [number, number, number];
  const std = squares.map((s, c) => Math.sqrt(s / pixels - mean[c]! ** 2)) as [number, number, number];
  return { mean, std };
}
