// Pillow's `Image.resize((w, h), Image.BICUBIC)` for 8-bit RGB, bit for bit: a port of
// libImaging/Resample.c (precompute_coeffs, normalize_coeffs_8bpc and the two 8bpc passes).
// Any deviation in the float steps or the fixed-point rounding changes output bytes.
import { ImageError } from '../errors.js';
import { assertRgbImage, type RgbImage } from './rgb-image.js';

/** Fixed-point fraction bits of the 8-bit kernels: 8 for the pixel, 2 for filter overshoot. */
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
/** Accumulators start at one half, so the final shift rounds to nearest. */
const HALF = 2 ** (PRECISION_BITS - 1);
const BICUBIC_SUPPORT = 2.0;

/** Keys' cubic with a = -0.5, written in Resample.c's operation order so it rounds the same. */
function bicubic(x: number): number {
  if (x < 0.0) x = -x;
  if (x < 1.0) return (1.5 * x - 2.5) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * -0.5;
  return 0.0;
}

/** Per output position: first input index, tap count, and `ksize` fixed-point weights. */
interface Coefficients {
  readonly ksize: number;
  readonly bounds: Int32Array; // [xmin, count] pairs
  readonly weights: Int32Array; // outSize * ksize
}

function precomputeCoefficients(inSize: number, outSize: number): Coefficients {
  // Resample.c computes (double)(in1 - in0) / outSize with float box edges; whole sizes are exact.
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1.0);
  const support = BICUBIC_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const ss = 1.0 / filterscale;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero; that is the "rounding" Pillow relies on here.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const count = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0.0;
    for (let x = 0; x < count; x++) {
      // Resample.c multiplies by 1 / filterscale here rather than dividing; kept for exactness.
      const w = bicubic((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < count; x++) {
      const w = ww !== 0.0 ? k[x]! / ww : k[x]!;
      // normalize_coeffs_8bpc: scale to fixed point, rounding half away from zero.
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = count;
  }
  return { ksize, bounds, weights };
}

/**
 * clip8 of Resample.c. `acc` is an exact integer inside int32 range (the positive weights of a
 * Keys cubic sum to at most 1.125 * 2^22; times 255 plus HALF is below 2^31, as Pillow's int
 * accumulators need too), so `>>` is C's arithmetic shift, i.e. floor division by 2^22.
 */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function resampleHorizontal(src: RgbImage, width: number, c: Coefficients): RgbImage {
  const { height, data } = src;
  const { ksize, bounds, weights } = c;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = y * src.width * 3;
    for (let xx = 0; xx < width; xx++) {
      const xmin = bounds[xx * 2]!;
      const count = bounds[xx * 2 + 1]!;
      const k0 = xx * ksize;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let x = 0; x < count; x++) {
        const w = weights[k0 + x]!;
        const p = row + (xmin + x) * 3;
        r += data[p]! * w;
        g += data[p + 1]! * w;
        b += data[p + 2]! * w;
      }
      const o = (y * width + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return { width, height, data: out };
}

function resampleVertical(src: RgbImage, height: number, c: Coefficients): RgbImage {
  const { width, data } = src;
  const { ksize, bounds, weights } = c;
  const stride = width * 3;
  const out = new Uint8Array(stride * height);
  for (let yy = 0; yy < height; yy++) {
    const ymin = bounds[yy * 2]!;
    const count = bounds[yy * 2 + 1]!;
    const k0 = yy * ksize;
    for (let i = 0; i < stride; i++) {
      let acc = HALF;
      for (let y = 0; y < count; y++) acc += data[(ymin + y) * stride + i]! * weights[k0 + y]!;
      out[yy * stride + i] = clip8(acc);
    }
  }
  return { width, height, data: out };
}

/**
 * Resizes like Pillow: horizontal pass first into an 8-bit intermediate, then vertical; a pass
 * whose dimension does not change is skipped (so same-size input comes back as a copy). Pillow
 * also limits the horizontal pass to the rows the vertical pass reads, which changes no value.
 */
export function resizeBicubic(img: RgbImage, width: number, height: number): RgbImage {
  assertRgbImage(img, 'resizeBicubic: input image');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageError({
      subject: 'resizeBicubic: target size',
      expected: 'positive integer width and height',
      found: `${width}x${height}`,
    });
  }
  let out = img;
  if (width !== img.width) out = resampleHorizontal(out, width, precomputeCoefficients(img.width, width));
  if (height !== img.height) out = resampleVertical(out, height, precomputeCoefficients(img.height, height));
  return out === img ? { width, height, data: img.data.slice() } : out;
}
