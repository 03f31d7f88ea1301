// Symmetric int8 quantisation of a Linear weight, one scale per output channel: the layout
// onnxruntime's integer MatMuls take (B [in, out] int8, b_scale [out]). Zero points are 0, so the
// int8 x uint8 kernels need no correction term for the weights.
import { transposed } from '../models/weights.js';

export interface Int8Linear {
  /** round(w / scale) in [-127, 127], laid out [in, out] for a MatMul. */
  readonly codes: Int8Array;
  /** max |w| of each output channel / 127, [out] (1 where a channel is all zeros). */
  readonly scales: Float32Array;
}

/** Quantises a Linear weight stored [out, in] (PyTorch's layout). */
export function quantizeInt8(weight: Float32Array, outFeatures: number, inFeatures: number): Int8Linear {
  const scales = new Float32Array(outFeatures);
  const rowCodes = new Int8Array(weight.length);
  for (let o = 0; o < outFeatures; o++) {
    const row = weight.subarray(o * inFeatures, (o + 1) * inFeatures);
    let max = 0;
    for (let i = 0; i < inFeatures; i++) max = Math.max(max, Math.abs(row[i]!));
    const scale = max > 0 ? max / 127 : 1;
    scales[o] = scale;
    for (let i = 0; i < inFeatures; i++) rowCodes[o * inFeatures + i] = Math.round(row[i]! / scale);
  }
  return { codes: transposed(rowCodes, outFeatures, inFeatures), scales };
}

/** codes * scales back to float, [in, out]: what the graph multiplies by (for tests and drift checks). */
export function dequantizeInt8(q: Int8Linear, outFeatures: number, inFeatures: number): Float32Array {
  const out = new Float32Array(inFeatures * outFeatures);
  for (let i = 0; i < inFeatures; i++) {
    for (let o = 0; o < outFeatures; o++) out[i * outFeatures + o] = q.codes[i * outFeatures + o]! * q.scales[o]!;
  }
  return out;
}
