// How model builders get weights: by checkpoint name, with the expected shape checked by the source.
// `linear` turns a PyTorch Linear weight [out, in] into the [in, out] matrix a MatMul wants.
import type { TensorLocation } from '../checkpoint/checkpoint.js';
import type { GraphBuilder, Value } from '../onnx/builder.js';
import { fileRows, float32Rows, type WeightRows } from '../quant/weight-rows.js';

export interface WeightSource {
  has(name: string): boolean;
  /** The tensor as float32, after checking it has exactly `shape`. */
  float32(name: string, shape: readonly number[]): Float32Array;
  /**
   * Where the tensor lies on disk, after checking it has exactly `shape`, for sources backed by
   * files: what is read a few rows at a time (Linears as they are quantised, token embeddings).
   */
  location?(name: string, shape: readonly number[]): TensorLocation;
  /**
   * A Linear weight [out, in] as rows to quantise, for sources whose Linears are not plain stored
   * tensors (smoothed ones); others are read through `weightRows`.
   */
  linearRows?(name: string, outFeatures: number, inFeatures: number): WeightRows;
}

/**
 * Linear weight `name` ([out, in] on disk) as rows: the source's own when it has them, else read
 * from its file a chunk at a time, else its float32 values.
 */
export function weightRows(w: WeightSource, name: string, outFeatures: number, inFeatures: number): WeightRows {
  if (w.linearRows) return w.linearRows(name, outFeatures, inFeatures);
  if (w.location) return fileRows(w.location(name, [outFeatures, inFeatures]), outFeatures, inFeatures);
  return float32Rows(w.float32(name, [outFeatures, inFeatures]), outFeatures, inFeatures);
}

/** Transposes a row-major [rows, cols] matrix, in 64x64 tiles so both sides stay in cache. */
export function transposed(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  const tile = 64;
  for (let r0 = 0; r0 < rows; r0 += tile) {
    const r1 = Math.min(r0 + tile, rows);
    for (let c0 = 0; c0 < cols; c0 += tile) {
      const c1 = Math.min(c0 + tile, cols);
      for (let r = r0; r < r1; r++) {
        const rowOffset = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = data[rowOffset + c]!;
      }
    }
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
