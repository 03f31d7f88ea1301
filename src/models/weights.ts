// How model builders get weights: by checkpoint name, with the expected shape checked by the source.
// `linear` turns a PyTorch Linear weight [out, in] into the [in, out] matrix a MatMul wants.
import type { GraphBuilder, Value } from '../onnx/builder.js';

export interface WeightSource {
  has(name: string): boolean;
  /** The tensor as float32, after checking it has exactly `shape`. */
  float32(name: string, shape: readonly number[]): Float32Array;
}

/** Transposes a row-major [rows, cols] matrix. */
export function transposed(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const rowOffset = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[rowOffset + c]!;
  }
  return out;
}

/** Adds the weight of a Linear layer `name` ([out, in] on disk) as an [in, out] initialiser. */
export function linearWeight(g: GraphBuilder, w: WeightSource, name: string, outFeatures: number, inFeatures: number): Value {
  return g.weight(name, transposed(w.float32(name, [outFeatures, inFeatures]), outFeatures, inFeatures), [inFeatures, outFeatures]);
}

export function vectorWeight(g: GraphBuilder, w: WeightSource, name: string, size: number): Value {
  return g.weight(name, w.float32(name, [size]), [size]);
}
