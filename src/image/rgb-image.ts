// The one in-memory image form of visdrop: 8-bit RGB, rows top to bottom, channels interleaved
// (HWC), as PIL's convert('RGB') gives it. `assertRgbImage` checks the size invariant at API edges.
import { ImageError } from '../errors.js';

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes; channel c of pixel (x, y) is at (y * width + x) * 3 + c. */
  readonly data: Uint8Array;
}

/** Throws an ImageError unless `img` has positive integer sizes and exactly width*height*3 bytes. */
export function assertRgbImage(img: RgbImage, subject: string): void {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageError({ subject, expected: 'positive integer width and height', found: `${width}x${height}` });
  }
  if (data.length !== width * height * 3) {
    throw new ImageError({
      subject,
      expected: `${width * height * 3} bytes of RGB for ${width}x${height}`,
      found: `${data.length} bytes`,
    });
  }
}
