// LLaVA-NeXT "anyres" geometry without pixels: which canvas an image gets, how many crops that
// makes, and how many image tokens the merged (unpadded, newline-terminated) feature map has.
// Each function mirrors transformers' arithmetic in doubles, so edge cases round as Python does.
import { ConfigError, ImageError, describe } from '../errors.js';

/** A candidate canvas, [height, width] in pixels (transformers' `image_grid_pinpoints` order). */
export type Pinpoint = readonly [height: number, width: number];

/** An image size, [height, width], as transformers' `image_sizes`. */
export type ImageSize = readonly [height: number, width: number];

/** The part of the (rows * side) x (cols * side) feature map that `unpad_image` keeps. */
export interface UnpaddedGrid {
  readonly height: number;
  readonly width: number;
  /** First kept row and column; as many are dropped at the bottom/right. */
  readonly top: number;
  readonly left: number;
}

/**
 * The largest image, and the largest canvas, accepted, in pixels (64 Mi, e.g. 8192 x 8192): far
 * above any pinpoint in use, and below what would exhaust memory in the uint8 and float32 copies.
 */
export const MAX_ANYRES_PIXELS = 64 * 1024 * 1024;

/** The key named by pinpoint errors when the caller gives none (the config and API field). */
const PINPOINTS_KEY = 'image_grid_pinpoints';

function positiveInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/**
 * Checks that `value` is a non-empty list of [height, width] pairs that are positive multiples of
 * `cropSize` (so every canvas tiles into whole crops), none above MAX_ANYRES_PIXELS in area, and
 * returns it typed. Throws a ConfigError naming `subject` (the config key) otherwise.
 */
export function validatePinpoints(value: unknown, cropSize: number, subject = PINPOINTS_KEY): Pinpoint[] {
  if (!positiveInteger(cropSize)) {
    throw new ConfigError({ subject: 'crop_size', expected: 'a positive integer', found: describe(cropSize) });
  }
  const expected =
    `a non-empty list of [height, width] pairs, each a positive multiple of the crop size ${cropSize}, ` +
    `at most ${MAX_ANYRES_PIXELS} pixels in area`;
  if (!Array.isArray(value) || value.length === 0) {
    throw new ConfigError({ subject, expected, found: describe(value) });
  }
  return value.map((pair: unknown, i) => {
    const ok =
      Array.isArray(pair) &&
      pair.length === 2 &&
      pair.every((v: unknown) => positiveInteger(v) && v % cropSize === 0) &&
      pair[0] * pair[1] <= MAX_ANYRES_PIXELS;
    if (!ok) throw new ConfigError({ subject: `${subject}[${i}]`, expected, found: describe(pair) });
    return [pair[0] as number, pair[1] as number] as const;
  });
}

function assertImageSize(height: number, width: number, subject: string): void {
  if (!positiveInteger(height) || !positiveInteger(width)) {
    throw new ImageError({ subject, expected: 'positive integer height and width', found: `${height}x${width} (HxW)` });
  }
}

/**
 * transformers' `select_best_resolution(original_size=(height, width), possible_resolutions)`:
 * the canvas showing the most original pixels once the image is fitted in it, then the one
 * wasting the fewest, then the first listed. Pinpoints are expected validated.
 */
export function selectBestResolution(height: number, width: number, pinpoints: readonly Pinpoint[]): Pinpoint {
  assertImageSize(height, width, 'selectBestResolution: image size');
  let best: Pinpoint | undefined;
  let maxEffective = 0;
  let minWasted = Infinity;
  for (const pinpoint of pinpoints) {
    const [h, w] = pinpoint;
    const scale = Math.min(w / width, h / height);
    const effective = Math.min(Math.trunc(width * scale) * Math.trunc(height * scale), width * height);
    const wasted = w * h - effective;
    // With effective 0 everywhere (a sliver of an image), `wasted < Infinity` still picks one.
    if (effective > maxEffective || (effective === maxEffective && wasted < minWasted)) {
      [best, maxEffective, minWasted] = [pinpoint, effective, wasted];
    }
  }
  if (best === undefined) {
    throw new ConfigError({ subject: PINPOINTS_KEY, expected: 'at least one pinpoint', found: describe(pinpoints) });
  }
  return best;
}

/**
 * transformers' `get_anyres_image_grid_shape`: the chosen canvas in crops, [rows, cols]. Pinpoints
 * are validated against `cropSize` here, since the model side calls this first.
 */
export function gridShape(imageSize: ImageSize, pinpoints: unknown, cropSize: number): [rows: number, cols: number] {
  const [h, w] = selectBestResolution(imageSize[0], imageSize[1], validatePinpoints(pinpoints, cropSize));
  return [h / cropSize, w / cropSize];
}

/** 2 * 10^7: round(x, 7) reaches the next integer n exactly when x >= n - 1 / (2 * 10^7). */
const HALF_STEP_DENOMINATOR = 20_000_000n;
const TWO_POW_53 = 2n ** 53n;

/**
 * Python's `int(round(x, 7))` for a finite double. CPython rounds the exact binary value of x
 * to 7 decimals (half-even; no tie can sit at n - 5e-8, which is not a binary fraction), then
 * truncates. So the result is floor(x) + 1 when frac(x) >= 1 - 5e-8 exactly, else floor(x), for
 * x >= 0; both operations are odd functions, so negatives mirror.
 */
export function pyIntRound7(x: number): number {
  if (x < 0) return 0 - pyIntRound7(-x); // 0 - 0 is +0, like Python's int
  const whole = Math.floor(x) + 0; // likewise for x = -0
  const frac = x - whole; // exact (Sterbenz: whole >= x / 2 once x >= 1)
  if (frac < 0.5) return whole;
  // A double in [0.5, 1) is a multiple of 2^-53, so this integer is exact.
  const units = BigInt(frac * 2 ** 53);
  return units * HALF_STEP_DENOMINATOR >= (HALF_STEP_DENOMINATOR - 1n) * TWO_POW_53 ? whole + 1 : whole;
}

/**
 * transformers' `unpad_image` on a currentHeight x currentWidth feature map of an image of
 * `imageSize` ([H, W]): the axis with padding loses (current - new) // 2 at each end, where new is
 * `int(round(H * (current_width / W), 7))` (or the same for widths). The original LLaVA code uses
 * `int(...)` without the rounding and an older transformers `(H * current_width) // W`; they differ
 * when the product lands just below an integer (e.g. 47x1128, W x H).
 *
 * Throws an ImageError when nothing would be kept (an image far thinner than every pinpoint, like
 * 4000x10): transformers would go on with an empty map and only the base image's features.
 */
export function unpaddedGrid(imageSize: ImageSize, currentHeight: number, currentWidth: number): UnpaddedGrid {
  const [height, width] = imageSize;
  assertImageSize(height, width, 'unpaddedGrid: image size');
  let grid: UnpaddedGrid;
  if (width / height > currentWidth / currentHeight) {
    const top = Math.floor((currentHeight - pyIntRound7(height * (currentWidth / width))) / 2);
    grid = { height: currentHeight - 2 * top, width: currentWidth, top, left: 0 };
  } else {
    const left = Math.floor((currentWidth - pyIntRound7(width * (currentHeight / height))) / 2);
    grid = { height: currentHeight, width: currentWidth - 2 * left, top: 0, left };
  }
  if (grid.height === 0 || grid.width === 0) {
    throw new ImageError({
      subject: `image of ${width}x${height} (WxH)`,
      expected:
        `an aspect ratio that keeps at least one row and column of the ${currentHeight}x${currentWidth} ` +
        'anyres feature map after unpadding',
      found: `${grid.height}x${grid.width} kept`,
    });
  }
  return grid;
}

/**
 * transformers' `LlavaNextProcessor._get_number_of_features` (minus the CLS it adds and removes
 * again for the "default" strategy): side^2 base features, then the unpadded tile map with one
 * newline per row. `patchesPerSide` is the vision tower's crop size / patch size (336 / 14 = 24).
 */
export function nextImageTokenCount(
  imageSize: ImageSize,
  pinpoints: unknown,
  cropSize: number,
  patchesPerSide: number,
): number {
  if (!positiveInteger(patchesPerSide)) {
    throw new ConfigError({
      subject: 'patches per side',
      expected: 'a positive integer',
      found: describe(patchesPerSide),
    });
  }
  const [rows, cols] = gridShape(imageSize, pinpoints, cropSize);
  const g = unpaddedGrid(imageSize, rows * patchesPerSide, cols * patchesPerSide);
  return patchesPerSide * patchesPerSide + g.height * g.width + g.height;
}
