// Hugging Face's LlavaNextImageProcessor for one image: pick a canvas among the pinpoints, fit
// the image in it (Pillow bicubic) on black, cut it into square crops, prepend the whole image
// squashed to one crop, then run each crop through the CLIP steps. Values match to float32 rounding.
import { ConfigError, ImageError, describe } from '../errors.js';
import {
  MAX_ANYRES_PIXELS,
  selectBestResolution,
  validatePinpoints,
  type ImageSize,
  type Pinpoint,
} from './anyres-grid.js';
import { preprocessImage } from './clip-processor.js';
import { resizeBicubic } from './pil-resize.js';
import { assertRgbImage, type RgbImage } from './rgb-image.js';

type Triple = readonly [number, number, number];

/** The anyres fields of a LLaVA-NeXT `preprocessor_config.json` (resize and crop always on). */
export interface AnyresPreprocessing {
  /** Candidate canvases, [height, width], each a multiple of `cropSize`. */
  readonly pinpoints: readonly Pinpoint[];
  /** `crop_size`: the side of every output crop and of the tiles (336). */
  readonly cropSize: number;
  /** `size.shortest_edge`: the base image's side, and each crop's resize target (336). */
  readonly shortestEdge: number;
  readonly rescaleFactor: number | null;
  readonly mean: Triple | null;
  readonly std: Triple | null;
}

/** `pixel_values` of one image, [1, 1 + tiles, 3, S, S] with the base image first, and `image_sizes`. */
export interface AnyresPixelValues {
  readonly data: Float32Array;
  readonly shape: [1, number, 3, number, number];
  readonly imageSize: [height: number, width: number];
}

/**
 * transformers' `get_patch_output_size`: the size that fits the image inside the canvas along its
 * tighter axis; the other side is `min(ceil(side * scale), canvas side)` (never 0).
 */
export function patchResizeTarget(imageSize: ImageSize, canvas: Pinpoint): [height: number, width: number] {
  const [height, width] = imageSize;
  const [targetHeight, targetWidth] = canvas;
  const scaleW = targetWidth / width;
  const scaleH = targetHeight / height;
  return scaleW < scaleH
    ? [Math.min(Math.ceil(height * scaleW), targetHeight), targetWidth]
    : [targetHeight, Math.min(Math.ceil(width * scaleH), targetWidth)];
}

/**
 * `_pad_for_patching`: zeros around the image, `divmod(excess, 2)` before and the rest after, so an
 * odd pixel goes to the bottom/right.
 */
function padToCanvas(img: RgbImage, height: number, width: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const top = Math.floor((height - img.height) / 2);
  const left = Math.floor((width - img.width) / 2);
  const rowBytes = img.width * 3;
  for (let y = 0; y < img.height; y++) {
    data.set(img.data.subarray(y * rowBytes, (y + 1) * rowBytes), ((top + y) * width + left) * 3);
  }
  return { width, height, data };
}

/** The size x size block of `img` whose top-left pixel is (x, y). */
function tile(img: RgbImage, y: number, x: number, size: number): RgbImage {
  const data = new Uint8Array(size * size * 3);
  for (let row = 0; row < size; row++) {
    const from = ((y + row) * img.width + x) * 3;
    data.set(img.data.subarray(from, from + size * 3), row * size * 3);
  }
  return { width: size, height: size, data };
}

/**
 * `LlavaNextImageProcessor.preprocess` for one image (do_resize and do_center_crop on, as in every
 * llava-hf LLaVA-NeXT config). Crops run row-major after the base image. Throws a ConfigError for
 * bad pinpoints and an ImageError for a malformed image or one above MAX_ANYRES_PIXELS. Images too
 * thin for any pinpoint still get pixel values here; `unpaddedGrid` rejects them.
 */
export function anyresPixelValues(img: RgbImage, p: AnyresPreprocessing): AnyresPixelValues {
  assertRgbImage(img, 'anyresPixelValues: input image');
  if (img.width * img.height > MAX_ANYRES_PIXELS) {
    throw new ImageError({
      subject: 'anyresPixelValues: input image',
      expected: `at most ${MAX_ANYRES_PIXELS} pixels`,
      found: `${img.width}x${img.height} (WxH), ${img.width * img.height} pixels`,
    });
  }
  if (!Number.isInteger(p.shortestEdge) || p.shortestEdge < 1) {
    throw new ConfigError({
      subject: 'size.shortest_edge',
      expected: 'a positive integer',
      found: describe(p.shortestEdge),
    });
  }
  const side = p.cropSize;
  const pinpoints = validatePinpoints(p.pinpoints, side);
  const canvas = selectBestResolution(img.height, img.width, pinpoints);
  const [fitHeight, fitWidth] = patchResizeTarget([img.height, img.width], canvas);
  const padded = padToCanvas(resizeBicubic(img, fitWidth, fitHeight), canvas[0], canvas[1]);
  const crops = [resizeBicubic(img, p.shortestEdge, p.shortestEdge)];
  for (let y = 0; y < padded.height; y += side) {
    for (let x = 0; x < padded.width; x += side) crops.push(tile(padded, y, x, side));
  }

  const clip = {
    resize: { kind: 'shortestEdge', size: p.shortestEdge },
    crop: { height: side, width: side },
    rescaleFactor: p.rescaleFactor,
    mean: p.mean,
    std: p.std,
    padToSquare: false,
  } as const;
  const cropValues = 3 * side * side;
  const data = new Float32Array(crops.length * cropValues);
  crops.forEach((crop, i) => data.set(preprocessImage(crop, clip).data, i * cropValues));
  return { data, shape: [1, crops.length, 3, side, side], imageSize: [img.height, img.width] };
}
