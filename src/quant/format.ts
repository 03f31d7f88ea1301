// Weight formats at run time: f32 as stored, q8 (int8 weights, int8 activations quantised on the
// fly) and q4 (4-bit block-quantised weights). Which layers take which encoding is decided here, in
// one place, from measurements on the 7B shapes (see the README's weight-format section).
import { OptionError } from '../errors.js';

export const WEIGHT_FORMATS = ['f32', 'q8', 'q4'] as const;
export type WeightFormat = (typeof WEIGHT_FORMATS)[number];

/** MatMulNBits block sizes onnxruntime accepts: powers of two from 16. */
export const Q4_BLOCK_SIZES = [16, 32, 64, 128, 256] as const;
export const DEFAULT_Q4_BLOCK_SIZE = 32;

export interface WeightFormatOptions {
  /** Weight format of the Linear layers; default f32. */
  readonly weights?: WeightFormat;
  /** q4's block size along the input features (default 32): smaller is closer to f32, larger is smaller. */
  readonly q4BlockSize?: number;
}

/** How one Linear layer's weight is stored and multiplied. */
export type LinearEncoding =
  | { readonly kind: 'f32' }
  /** Symmetric int8 per output channel; activations quantised per token at run time (DynamicQuantizeLinear is per tensor). */
  | { readonly kind: 'int8' }
  /** Symmetric 4-bit blocks of `blockSize` input features, one float scale per block (MatMulNBits). */
  | { readonly kind: 'int4'; readonly blockSize: number }
  // The two below are candidates `bench --kernels` measures beside the encodings q8 and q4 use.
  /** int8 weights as `int8`; activations quantised per tensor inside com.microsoft DynamicQuantizeMatMul. */
  | { readonly kind: 'int8-tensor' }
  /** Symmetric 8-bit blocks of `blockSize` input features, one float scale per block (MatMulNBits, 8 bits). */
  | { readonly kind: 'int8-blocks'; readonly blockSize: number };

/** The encoding of every group of Linear layers in a LLaVA model. */
export interface LinearPlan {
  /** Decoder q/k/v/o projections and MLP. */
  readonly decoder: LinearEncoding;
  /** CLIP encoder layers and the multimodal projector. */
  readonly vision: LinearEncoding;
  readonly lmHead: LinearEncoding;
}

const F32: LinearEncoding = { kind: 'f32' };
const INT8: LinearEncoding = { kind: 'int8' };

export function linearPlan(options: WeightFormatOptions = {}): LinearPlan {
  const format = options.weights ?? 'f32';
  if (!(WEIGHT_FORMATS as readonly string[]).includes(format)) {
    throw new OptionError({ subject: 'weights', expected: WEIGHT_FORMATS.join(' | '), found: String(format) });
  }
  const blockSize = options.q4BlockSize ?? DEFAULT_Q4_BLOCK_SIZE;
  if (!(Q4_BLOCK_SIZES as readonly number[]).includes(blockSize)) {
    throw new OptionError({ subject: 'q4 block size', expected: Q4_BLOCK_SIZES.join(' | '), found: String(blockSize) });
  }
  switch (format) {
    case 'f32':
      return { decoder: F32, vision: F32, lmHead: F32 };
    case 'q8':
      return { decoder: INT8, vision: INT8, lmHead: INT8 };
    case 'q4':
      return { decoder: { kind: 'int4', blockSize }, vision: INT8, lmHead: INT8 };
  }
}
