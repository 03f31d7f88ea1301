// A Linear layer (y = x W^T, PyTorch weight [out, in]) in the graph, in the encoding the weight
// format asks for: an f32 MatMul, an int8 MatMul with per-token activation scales, or a 4-bit
// MatMulNBits (and two int8 candidates the kernel bench measures: per-tensor activations, 8-bit
// MatMulNBits). Weights are quantised here, at load, row by row from the checkpoint's stored weights.
// Legend: R rows (tokens, possibly under leading batch axes), K in features, N out features.
import type { GraphBuilder, Value } from '../onnx/builder.js';
import type { Ops } from '../onnx/ops.js';
import type { LinearEncoding } from '../quant/format.js';
import { quantizeInt4, quantizeInt8, quantizeInt8Blocks } from '../quant/row-pool.js';
import { linearWeight, weightRows, type WeightSource } from './weights.js';

/**
 * MatMulNBits' accuracy level: 0 multiplies in float (dequantising blocks), 4 quantises the
 * activations to int8 per block. Measured on the 7B shapes, 4 is as fast at prefill and faster at
 * decode; its activation blocks are small, so the drift is that of the weights.
 */
const INT4_ACCURACY_LEVEL = 4;
/** The same level for 8-bit blocks: at 0, MatMulNBits dequantises to float and is ~4x slower at prefill on the 7B shapes. */
const INT8_BLOCKS_ACCURACY_LEVEL = 4;

/** x [..., K] -> [..., N] through Linear `name` ([N, K] on disk), without bias. */
export function linear(
  g: GraphBuilder,
  op: Ops,
  w: WeightSource,
  name: string,
  x: Value,
  outFeatures: number,
  inFeatures: number,
  encoding: LinearEncoding,
): Value {
  switch (encoding.kind) {
    case 'f32':
      return op.matMul(x, linearWeight(g, w, name, outFeatures, inFeatures));
    case 'int8': {
      const q = quantizeInt8(weightRows(w, name, outFeatures, inFeatures));
      const codes = g.initializer(name, 'int8', q.codes, [inFeatures, outFeatures]);
      const columnScales = g.initializer(`${name}.scale`, 'float32', q.scales, [outFeatures]);
      // One scale per token (max |x| of its row / 127), so a token with large activations does not
      // coarsen every other token's grid as one per-tensor scale would. Codes are stored as uint8
      // with zero point 128, the form onnxruntime's fast u8 x s8 kernels take.
      const rowScale = op.div(op.max(op.reduceMax(op.abs(x), [-1]), g.constFloat(1e-30)), g.constFloat(127)); // [..., 1]
      const zeroPoint = g.constUint8(128);
      const codesX = op.quantizeLinear(op.div(x, rowScale), g.constFloat(1), zeroPoint); // [..., K] uint8
      return op.mul(op.matMulIntegerToFloat(codesX, codes, g.constFloat(1), columnScales, zeroPoint), rowScale);
    }
    case 'int8-tensor': {
      const q = quantizeInt8(weightRows(w, name, outFeatures, inFeatures));
      const codes = g.initializer(name, 'int8', q.codes, [inFeatures, outFeatures]);
      return op.dynamicQuantizeMatMul(x, codes, g.initializer(`${name}.scale`, 'float32', q.scales, [outFeatures]));
    }
    case 'int8-blocks': {
      const q = quantizeInt8Blocks(weightRows(w, name, outFeatures, inFeatures), encoding.blockSize);
      const codes = g.initializer(name, 'uint8', q.codes, [outFeatures, q.kBlocks, encoding.blockSize]);
      const scales = g.initializer(`${name}.scale`, 'float32', q.scales, [outFeatures, q.kBlocks]);
      return op.matMulNBits(x, codes, scales, { K: inFeatures, N: outFeatures, bits: 8, blockSize: encoding.blockSize, accuracyLevel: INT8_BLOCKS_ACCURACY_LEVEL });
    }
    case 'int4': {
      const q = quantizeInt4(weightRows(w, name, outFeatures, inFeatures), encoding.blockSize);
      const packed = g.initializer(name, 'uint8', q.packed, [outFeatures, q.kBlocks, encoding.blockSize / 2]);
      const scales = g.initializer(`${name}.scale`, 'float32', q.scales, [outFeatures, q.kBlocks]);
      return op.matMulNBits(x, packed, scales, {
        K: inFeatures,
        N: outFeatures,
        bits: 4,
        blockSize: encoding.blockSize,
        accuracyLevel: INT4_ACCURACY_LEVEL,
      });
    }
  }
}
