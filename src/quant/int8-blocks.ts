// 8-bit block quantisation in onnxruntime's MatMulNBits layout (com.microsoft, bits 8): for output
// channel n and block b of `blockSize` input features, blob B[n, b, :] holds one byte per feature,
// the code; the weight is (code - 128) * scales[n, b] (no zero_points input: the default zero point
// 2^(bits-1) = 128). Symmetric: the step is the block's max |w| / 127, so codes lie in [1, 255].
import { roundHalfUp, type WeightRows } from './weight-rows.js';

export interface Int8BlockLinear {
  /** [N, kBlocks, blockSize] codes, N = out features. */
  readonly codes: Uint8Array;
  /** [N, kBlocks]. */
  readonly scales: Float32Array;
  readonly blockSize: number;
  readonly kBlocks: number;
}

const ZERO_POINT = 128;

/** Room for the quantised weight. */
export function allocateInt8Blocks(outFeatures: number, inFeatures: number, blockSize: number): Int8BlockLinear {
  const kBlocks = Math.ceil(inFeatures / blockSize);
  return {
    codes: new Uint8Array(outFeatures * kBlocks * blockSize),
    scales: new Float32Array(outFeatures * kBlocks),
    blockSize,
    kBlocks,
  };
}

/** Quantises output channels [start, end) of `weight` (rows [out, in], PyTorch's layout, already N-major as MatMulNBits wants) into `out`. */
export function quantizeInt8BlockChannels(weight: WeightRows, out: Int8BlockLinear, start: number, end: number): void {
  const inFeatures = weight.cols;
  const { codes, scales, blockSize, kBlocks } = out;
  const row = new Float32Array(inFeatures);
  for (let n = start; n < end; n++) {
    weight.read(n, row);
    for (let b = 0; b < kBlocks; b++) {
      const first = b * blockSize;
      const last = Math.min(first + blockSize, inFeatures);
      let max = 0;
      for (let k = first; k < last; k++) max = Math.max(max, Math.abs(row[k]!));
      const scale = max > 0 ? max / 127 : 1;
      scales[n * kBlocks + b] = scale;
      const base = (n * kBlocks + b) * blockSize - first;
      for (let k = first; k < blockSize + first; k++) codes[base + k] = k < last ? roundHalfUp(row[k]! / scale) + ZERO_POINT : ZERO_POINT;
    }
  }
}

/** The float weight [out, in] that MatMulNBits multiplies by: (code - 128) * scale. */
export function dequantizeInt8Blocks(q: Int8BlockLinear, outFeatures: number, inFeatures: number): Float32Array {
  const out = new Float32Array(outFeatures * inFeatures);
  for (let n = 0; n < outFeatures; n++) {
    for (let k = 0; k < inFeatures; k++) {
      const b = Math.floor(k / q.blockSize);
      const code = q.codes[(n * q.kBlocks + b) * q.blockSize + (k % q.blockSize)]!;
      out[n * inFeatures + k] = (code - ZERO_POINT) * q.scales[n * q.kBlocks + b]!;
    }
  }
  return out;
}
