// Typed ONNX operators (opset 17, and the few onnxruntime com.microsoft contrib operators the
// quantised Linear layers need) over a GraphBuilder, so model code reads as math and a misspelt
// attribute fails to compile. Only the operators the engine uses are here.
import type { GraphBuilder, Value } from './builder.js';

export class Ops {
  constructor(readonly g: GraphBuilder) {}

  add(a: Value, b: Value): Value {
    return this.g.node('Add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.g.node('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.g.node('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.g.node('Div', [a, b]);
  }
  neg(x: Value): Value {
    return this.g.node('Neg', [x]);
  }
  abs(x: Value): Value {
    return this.g.node('Abs', [x]);
  }
  max(a: Value, b: Value): Value {
    return this.g.node('Max', [a, b]);
  }
  sqrt(x: Value): Value {
    return this.g.node('Sqrt', [x]);
  }
  erf(x: Value): Value {
    return this.g.node('Erf', [x]);
  }
  sigmoid(x: Value): Value {
    return this.g.node('Sigmoid', [x]);
  }
  cos(x: Value): Value {
    return this.g.node('Cos', [x]);
  }
  sin(x: Value): Value {
    return this.g.node('Sin', [x]);
  }
  matMul(a: Value, b: Value): Value {
    return this.g.node('MatMul', [a, b]);
  }
  softmax(x: Value, axis: number): Value {
    return this.g.node('Softmax', [x], { axis });
  }
  castToFloat(x: Value): Value {
    return this.g.node('Cast', [x], { to: 1 });
  }
  reshape(x: Value, shape: readonly number[]): Value {
    return this.g.node('Reshape', [x, this.g.constInt64(shape)]);
  }
  /** Reshape to a shape computed in the graph (int64 [rank]). */
  reshapeTo(x: Value, shape: Value): Value {
    return this.g.node('Reshape', [x, shape]);
  }
  transpose(x: Value, perm: readonly number[]): Value {
    return this.g.node('Transpose', [x], { perm });
  }
  unsqueeze(x: Value, axes: readonly number[]): Value {
    return this.g.node('Unsqueeze', [x, this.g.constInt64(axes)]);
  }
  concat(values: readonly Value[], axis: number): Value {
    return this.g.node('Concat', values, { axis });
  }
  /** Splits `x` along `axis` into pieces of the given sizes. */
  split(x: Value, sizes: readonly number[], axis: number): Value[] {
    return this.g.nodeMulti('Split', [x, this.g.constInt64(sizes)], sizes.length, { axis });
  }
  /** x[..., start:end] along one axis. */
  slice(x: Value, start: number, end: number, axis: number): Value {
    return this.g.node('Slice', [x, this.g.constInt64([start]), this.g.constInt64([end]), this.g.constInt64([axis])]);
  }
  gather(x: Value, indices: Value, axis: number): Value {
    return this.g.node('Gather', [x, indices], { axis });
  }
  reduceMean(x: Value, axes: readonly number[]): Value {
    return this.g.node('ReduceMean', [x], { axes, keepdims: 1 });
  }
  reduceMax(x: Value, axes: readonly number[]): Value {
    return this.g.node('ReduceMax', [x], { axes, keepdims: 1 });
  }
  /** round(x / scale) + zeroPoint, saturated to the zero point's type (uint8 here); scale and zero point per tensor. */
  quantizeLinear(x: Value, scale: Value, zeroPoint: Value): Value {
    return this.g.node('QuantizeLinear', [x, scale, zeroPoint]);
  }
  /**
   * com.microsoft MatMulIntegerToFloat: (a - aZeroPoint) x (b - bZeroPoint) accumulated in int32, times
   * aScale * bScale, as float. aScale per tensor; bScale and bZeroPoint per tensor or per column of b.
   */
  matMulIntegerToFloat(a: Value, b: Value, aScale: Value, bScale: Value, aZeroPoint: Value | null = null): Value {
    return this.g.contribNode('MatMulIntegerToFloat', [a, b, aScale, bScale, aZeroPoint]);
  }
  /**
   * com.microsoft DynamicQuantizeMatMul: a quantised to uint8 with one scale and zero point for the
   * whole tensor, times int8 b [K, N] with bScale per tensor or per column, as float.
   */
  dynamicQuantizeMatMul(a: Value, b: Value, bScale: Value): Value {
    return this.g.contribNode('DynamicQuantizeMatMul', [a, b, bScale]);
  }
  /**
   * com.microsoft MatMulNBits: a [..., K] times the block-quantised weight b [N, kBlocks, blob]
   * dequantised as (code - 2^(bits-1)) * scales [N, kBlocks]; accuracyLevel 4 lets it quantise a to int8.
   */
  matMulNBits(a: Value, b: Value, scales: Value, attrs: { K: number; N: number; bits: number; blockSize: number; accuracyLevel: number }): Value {
    return this.g.contribNode('MatMulNBits', [a, b, scales], {
      K: attrs.K,
      N: attrs.N,
      bits: attrs.bits,
      block_size: attrs.blockSize,
      accuracy_level: attrs.accuracyLevel,
    });
  }
  /** Broadcasts x to `shape` (a runtime shape value). */
  expand(x: Value, shape: Value): Value {
    return this.g.node('Expand', [x, shape]);
  }
  shape(x: Value, start?: number, end?: number): Value {
    const attrs: Record<string, number> = {};
    if (start !== undefined) attrs.start = start;
    if (end !== undefined) attrs.end = end;
    return this.g.node('Shape', [x], attrs);
  }
  conv(x: Value, weight: Value, strides: readonly number[]): Value {
    return this.g.node('Conv', [x, weight], { strides });
  }
  layerNorm(x: Value, scale: Value, bias: Value, epsilon: number): Value {
    return this.g.node('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: { float: epsilon } });
  }
}
