// Pixel values back to the 8-bit RGB picture the model was shown: the inverse of the processor's
// rescale and normalise (x * std + mean, / rescale factor, rounded and clamped to 0..255). For
// values the processor made from bytes this returns those bytes exactly.
import type { ImagePreprocessing } from '../config/preprocessor.js';
import { ImageError } from '../errors.js';
import type { PixelValues, RgbImage } from '../image/index.js';

/** The NCHW float `pixels` as an HWC RGB image, undoing the steps `p` says were applied. */
export function pixelValuesToRgb(pixels: PixelValues, p: Pick<ImagePreprocessing, 'rescaleFactor' | 'mean' | 'std'>): RgbImage {
  const [batch, channels, height, width] = pixels.shape;
  if (batch !== 1 || channels !== 3 || pixels.data.length !== 3 * height * width) {
    throw new ImageError({
      subject: 'pixel_values',
      expected: 'shape [1, 3, H, W] with 3*H*W values',
      found: `shape [${pixels.shape.join(', ')}] with ${pixels.data.length} values`,
    });
  }
  const plane = width * height;
  const data = new Uint8Array(plane * 3);
  // The processor normalises only when both mean and std are set; the inverse mirrors that.
  const normalised = p.mean !== null && p.std !== null;
  for (let c = 0; c < 3; c++) {
    const mean = normalised ? p.mean![c]! : 0;
    const std = normalised ? p.std![c]! : 1;
    for (let i = 0; i < plane; i++) {
      let v = pixels.data[c * plane + i]! * std + mean;
      if (p.rescaleFactor !== null) v /= p.rescaleFactor;
      data[i * 3 + c] = Math.min(255, Math.max(0, Math.round(v)));
    }
  }
  return { width, height, data };
}
