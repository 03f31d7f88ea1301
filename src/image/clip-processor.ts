// Hugging Face's CLIPImageProcessor (and LlavaImageProcessor's pad-to-square) for one image:
// pad, resize (Pillow-exact bicubic), centre crop, rescale, normalise, as float32 NCHW. Each step
// copies transformers' numpy arithmetic, so values agree to float32 rounding.
import { OPENAI_CLIP_MEAN, type ImagePreprocessing, type ResizeRule } from '../config/preprocessor.js';
import { resizeBicubic } from './pil-resize.js';
import { assertRgbImage, type RgbImage } from './rgb-image.js';

/** The `pixel_values` tensor of one image. */
export interface PixelValues {
  readonly data: Float32Array;
  readonly shape: [1, 3, number, number];
}

type Triple = readonly [number, number, number];

/** LlavaImageProcessor's background, `tuple(int(x * 255) for x in image_mean)`: (122, 116, 104) for CLIP. */
export function padColour(mean: Triple): Triple {
  return [Math.trunc(mean[0] * 255), Math.trunc(mean[1] * 255), Math.trunc(mean[2] * 255)];
}

/** Centres the image on a max(W, H) square of `colour`; offsets round down, as in transformers. */
export function padToSquare(img: RgbImage, colour: Triple): RgbImage {
  if (img.width === img.height) return img;
  const side = Math.max(img.width, img.height);
  const data = new Uint8Array(side * side * 3);
  for (let i = 0; i < side * side; i++) data.set(colour, i * 3);
  const left = Math.floor((side - img.width) / 2);
  const top = Math.floor((side - img.height) / 2);
  const rowBytes = img.width * 3;
  for (let y = 0; y < img.height; y++) {
    data.set(img.data.subarray(y * rowBytes, (y + 1) * rowBytes), ((top + y) * side + left) * 3);
  }
  return { width: side, height: side, data };
}

/**
 * transformers' get_resize_output_image_size(default_to_square=False): the short side becomes
 * `size`, the long side int(size * long / short) (truncated, float division as in Python).
 */
export function resizeTarget(width: number, height: number, rule: ResizeRule): { width: number; height: number } {
  if (rule.kind === 'exact') return { width: rule.width, height: rule.height };
  const portrait = width <= height;
  const [short, long] = portrait ? [width, height] : [height, width];
  if (short === rule.size) return { width, height };
  const newLong = Math.trunc((rule.size * long) / short);
  return portrait ? { width: rule.size, height: newLong } : { width: newLong, height: rule.size };
}

/**
 * transformers' center_crop: top = (H - h) // 2, left = (W - w) // 2 (an odd excess loses more
 * at the bottom/right); where the image is smaller it is zero-padded by ceil(excess / 2) at the
 * top/left first. Since ceil(d / 2) = -floor(-d / 2), both read source pixel (y + top, x + left),
 * or 0 where that falls outside.
 */
export function centerCrop(img: RgbImage, height: number, width: number): RgbImage {
  if (img.width === width && img.height === height) return img;
  const top = Math.floor((img.height - height) / 2);
  const left = Math.floor((img.width - width) / 2);
  const data = new Uint8Array(width * height * 3);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(width, img.width - left);
  for (let y = Math.max(0, -top); y < Math.min(height, img.height - top); y++) {
    const from = ((y + top) * img.width + x0 + left) * 3;
    data.set(img.data.subarray(from, from + (x1 - x0) * 3), (y * width + x0) * 3);
  }
  return { width, height, data };
}

/**
 * HWC uint8 to NCHW float32. Rescale is `x.astype(float64) * factor` then float32; normalise is
 * float32 `(x - mean) / std` with mean and std cast to float32 (done when both are set).
 */
function toPixelValues(img: RgbImage, p: ImagePreprocessing): PixelValues {
  const plane = img.width * img.height;
  const data = new Float32Array(3 * plane);
  const factor = p.rescaleFactor;
  const normalise = p.mean !== null && p.std !== null;
  for (let c = 0; c < 3; c++) {
    const mean = normalise ? Math.fround(p.mean![c]!) : 0;
    const std = normalise ? Math.fround(p.std![c]!) : 1;
    for (let i = 0; i < plane; i++) {
      let v = img.data[i * 3 + c]!;
      if (factor !== null) v = Math.fround(v * factor);
      // Each float32 op is a double op then rounding (exact for + - * /); the store rounds the last.
      data[c * plane + i] = normalise ? Math.fround(v - mean) / std : v;
    }
  }
  return { data, shape: [1, 3, img.height, img.width] };
}

/**
 * The full processor. Steps run in transformers' order and are skipped when their field is null.
 * Pad-to-square uses the mean colour, or CLIP's default mean when normalisation is off (the
 * config's image_mean is not kept then).
 */
export function preprocessImage(img: RgbImage, p: ImagePreprocessing): PixelValues {
  assertRgbImage(img, 'preprocessImage: input image');
  let out = img;
  if (p.padToSquare) out = padToSquare(out, padColour(p.mean ?? OPENAI_CLIP_MEAN));
  if (p.resize !== null) {
    const size = resizeTarget(out.width, out.height, p.resize);
    out = resizeBicubic(out, size.width, size.height);
  }
  if (p.crop !== null) out = centerCrop(out, p.crop.height, p.crop.width);
  return toPixelValues(out, p);
}
