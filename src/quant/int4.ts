// 4-bit block quantisation in onnxruntime's MatMulNBits layout (com.microsoft, bits 4): for output
// channel n and block b of `blockSize` input features, blob B[n, b, :] holds blockSize/2 bytes, code j
// of the block in the low nibble of byte j/2 when j is even and in the high nibble when odd; the
// weight is (code - 8) * scales[n, b] (no zero_points input: the default zero point 2^(bits-1) = 8).
// Like llama.cpp's Q4_0, the scale is the block's largest-magnitude value / -8, so that value lands
// exactly on code 0 and the step is max|w| / 8 (all 16 codes in use, not 15).
import { roundHalfUp, type WeightRows } from './weight-rows.js';

export interface Int4Linear {
  /** [N, kBlocks, blockSize / 2] packed codes, N = out features. */
  readonly packed: Uint8Array;
  /** [N, kBlocks], signed. */
  readonly scales: Float32Array;
  readonly blockSize: number;
  readonly kBlocks: number;
}

/** Room for the quantised weight. */
export function allocateInt4(outFeatures: number, inFeatures: number, blockSize: number): Int4Linear {
  const kBlocks = Math.ceil(inFeatures / blockSize);
  return {
    packed: new Uint8Array(outFeatures * kBlocks * (blockSize / 2)),
    scales: new Float32Array(outFeatures * kBlocks),
    blockSize,
    kBlocks,
  };
}

/** Quantises output channels [start, end) of `weight` (rows [out, in], PyTorch's layout, already N-major as MatMulNBits wants) into `out`. */
export function quantizeInt4Channels(weight: WeightRows, out: Int4Linear, start: number, end: number): void {
  const inFeatures = weight.cols;
  const { packed, scales, blockSize, kBlocks } = out;
  const blob = blockSize / 2;
  const row = new Float32Array(inFeatures);
  for (let n = start; n < end; n++) {
    weight.read(n, row);
    for (let b = 0; b < kBlocks; b++) {
      const first = b * blockSize;
      const last = Math.min(first + blockSize, inFeatures);
      let extreme = 0;
      for (let k = first; k < last; k++) if (Math.abs(row[k]!) > Math.abs(extreme)) extreme = row[k]!;
      const scale = extreme !== 0 ? extreme / -8 : 1;
      scales[n * kBlocks + b] = scale;
      const base = (n * kBlocks + b) * blob;
      // Past the last input feature a partial block holds code 8 (zero).
      for (let j = 0; j < blockSize; j += 2) {
        const k = first + j;
        const low = k < last ? nibble(row[k]!, scale) : 8;
        const high = k + 1 < last ? nibble(row[k + 1]!, scale) : 8;
        packed[base + (j >> 1)] = low | (high << 4);
      }
    }
  }
}

function nibble(w: number, scale: number): number {
  return Math.min(15, Math.max(0, roundHalfUp(w / scale) + 8));
}

/** The float weight [out, in] that MatMulNBits multiplies by: (code - 8) * scale. */
export function dequantizeInt4(q: Int4Linear, outFeatures: number, inFeatures: number): Float32Array {
  const out = new Float32Array(outFeatures * inFeatures);
  const blob = q.blockSize / 2;
  for (let n = 0; n < outFeatures; n++) {
    for (let k = 0; k < inFeatures; k++) {
      const b = Math.floor(k / q.blockSize);
      const j = k % q.blockSize;
      const byte = q.packed[(n * q.kBlocks + b) * blob + (j >> 1)]!;
      const code = (j & 1) === 0 ? byte & 0x0f : byte >> 4;
      out[n * inFeatures + k] = (code - 8) * q.scales[n * q.kBlocks + b]!;
    }
  }
  return out;
}
