// Symmetric int8 quantisation of a Linear weight, one scale per output channel: the layout
// onnxruntime's integer MatMuls take (B [in, out] int8, b_scale [out]). Zero points are 0, so the
// int8 x uint8 kernels need no correction term for the weights.

export interface Int8Linear {
  /** round(w / scale) in [-127, 127], laid out [in, out] for a MatMul. */
  readonly codes: Int8Array;
  /** max |w| of each output channel / 127, [out] (1 where a channel is all zeros). */
  readonly scales: Float32Array;
}

/** Quantises a Linear weight stored [out, in] (PyTorch's layout). */
export function quantizeInt8(weight: Float32Array, outFeatures: number, inFeatures: number): Int8Linear {
  const scales = new Float32Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    let max = 0;
    for (let i = o * inFeatures; i < (o + 1) * inFeatures; i++) {
      const w = Math.abs(weight[i]!);
      if (w > max) max = w;
    }
    scales[o] = max > 0 ? max / 127 : 1;
  }
  // Written straight into the [in, out] layout, in 64x64 tiles so reads and writes stay in cache.
  const codes = new Int8Array(weight.length);
  const tile = 64;
  for (let o0 = 0; o0 < outFeatures; o0 += tile) {
    const o1 = Math.min(o0 + tile, outFeatures);
    for (let i0 = 0; i0 < inFeatures; i0 += tile) {
      const i1 = Math.min(i0 + tile, inFeatures);
      for (let o = o0; o < o1; o++) {
        const scale = scales[o]!;
        for (let i = i0; i < i1; i++) codes[i * outFeatures + o] = Math.round(weight[o * inFeatures + i]! / scale);
      }
    }
  }
  return { codes, scales };
}

/** codes * scales back to float, [in, out]: what the graph multiplies by (for tests and drift checks). */
export function dequantizeInt8(q: Int8Linear, outFeatures: number, inFeatures: number): Float32Array {
  const out = new Float32Array(inFeatures * outFeatures);
  for (let i = 0; i < inFeatures; i++) {
    for (let o = 0; o < outFeatures; o++) out[i * outFeatures + o] = q.codes[i * outFeatures + o]! * q.scales[o]!;
  }
  return out;
}
