// Symmetric int8 quantisation of a Linear weight, one scale per output channel: the layout
// onnxruntime's integer MatMuls take (B [in, out] int8, b_scale [out]). Zero points are 0, so the
// int8 x uint8 kernels need no correction term for the weights.
import { roundHalfUp, type WeightRows } from './weight-rows.js';

export interface Int8Linear {
  /** round(w / scale) in [-127, 127], laid out [in, out] for a MatMul. */
  readonly codes: Int8Array;
  /** max |w| of each output channel / 127, [out] (1 where a channel is all zeros). */
  readonly scales: Float32Array;
}

/** Output channels quantised together before they are copied into place (64 of a 7B's 4096 inputs: 256 KB). */
const INT8_CHANNEL_BLOCK = 64;

/** Room for the quantised weight. */
export function allocateInt8(outFeatures: number, inFeatures: number): Int8Linear {
  return { codes: new Int8Array(outFeatures * inFeatures), scales: new Float32Array(outFeatures) };
}

/** Quantises output channels [start, end) of `weight` (rows [out, in], PyTorch's layout) into `out`. */
export function quantizeInt8Channels(weight: WeightRows, out: Int8Linear, start: number, end: number): void {
  const { rows: outFeatures, cols: inFeatures } = weight;
  const { codes, scales } = out;
  const row = new Float32Array(inFeatures);
  // A block of channels' codes already in the [in, out] layout, [in, CHANNEL_BLOCK]: each input
  // feature's run of codes is then one copy into place (byte-by-byte transposing was the
  // slowest step of a load).
  const block = new Int8Array(inFeatures * INT8_CHANNEL_BLOCK);
  for (let o0 = start; o0 < end; o0 += INT8_CHANNEL_BLOCK) {
    const width = Math.min(INT8_CHANNEL_BLOCK, end - o0);
    for (let r = 0; r < width; r++) {
      weight.read(o0 + r, row);
      let max = 0;
      for (let i = 0; i < inFeatures; i++) {
        const w = Math.abs(row[i]!);
        if (w > max) max = w;
      }
      scales[o0 + r] = max > 0 ? max / 127 : 1;
      const scale = scales[o0 + r]!;
      for (let i = 0; i < inFeatures; i++) block[i * INT8_CHANNEL_BLOCK + r] = roundHalfUp(row[i]! / scale);
    }
    for (let i = 0; i < inFeatures; i++) {
      const from = i * INT8_CHANNEL_BLOCK;
      codes.set(block.subarray(from, from + width), i * outFeatures + o0);
    }
  }
}

/** codes * scales back to float, [in, out]: what the graph multiplies by (for tests and drift checks). */
export function dequantizeInt8(q: Int8Linear, outFeatures: number, inFeatures: number): Float32Array {
  const out = new Float32Array(inFeatures * outFeatures);
  for (let i = 0; i < inFeatures; i++) {
    for (let o = 0; o < outFeatures; o++) out[i * outFeatures + o] = q.codes[i * outFeatures + o]! * q.scales[o]!;
  }
  return out;
}
