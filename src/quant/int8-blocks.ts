// 8-bit block quantisation in onnxruntime's MatMulNBits layout (com.microsoft, bits 8): for output
// channel n and block b of `blockSize` input features, blob B[n, b, :] holds one byte per feature,
// the code; the weight is (code - 128) * scales[n, b] (no zero_points input: the default zero point
// 2^(bits-1) = 128). Symmetric: the step is the block's max |w| / 127, so codes lie in [1, 255].

export interface Int8BlockLinear {
  /** [N, kBlocks, blockSize] codes, N = out features. */
  readonly codes: Uint8Array;
  /** [N, kBlocks]. */
  readonly scales: Float32Array;
  readonly blockSize: number;
  readonly kBlocks: number;
}

const ZERO_POINT = 128;

/** Quantises a Linear weight stored [out, in] (PyTorch's layout, already N-major as MatMulNBits wants). */
export function quantizeInt8Blocks(weight: Float32Array, outFeatures: number, inFeatures: number, blockSize: number): Int8BlockLinear {
  const kBlocks = Math.ceil(inFeatures / blockSize);
  // Features past `inFeatures` (a last, partial block) keep the zero point, i.e. weight 0.
  const codes = new Uint8Array(outFeatures * kBlocks * blockSize).fill(ZERO_POINT);
  const scales = new Float32Array(outFeatures * kBlocks);
  for (let n = 0; n < outFeatures; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = n * inFeatures + b * blockSize;
      const end = n * inFeatures + Math.min((b + 1) * blockSize, inFeatures);
      let max = 0;
      for (let i = start; i < end; i++) max = Math.max(max, Math.abs(weight[i]!));
      const scale = max > 0 ? max / 127 : 1;
      scales[n * kBlocks + b] = scale;
      const base = (n * kBlocks + b) * blockSize - start;
      for (let i = start; i < end; i++) codes[base + i] = Math.round(weight[i]! / scale) + ZERO_POINT;
    }
  }
  return { codes, scales, blockSize, kBlocks };
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
