// Vector-Jacobian products, one rule per ONNX op type (opset 17), emitted as ONNX operators.
// Each rule gets the gradients of the node's outputs and returns one gradient per input (null for
// inputs that carry none: indices, shapes, axes, masks). y is the node's output, g its gradient.
//
// Not covered, on purpose: Conv (the CLIP patch embedding is written as reshape + MatMul in the
// training graphs, since its stride equals its kernel: each patch is one row, and the gradient is
// two MatMuls instead of a ConvTranspose and a strided Conv), LayerNormalization (written out as
// ReduceMean/Sub/Mul/Sqrt/Div in the training graphs, so its gradient comes from those rules), and
// onnxruntime's contrib ops (training takes the plain MatMul/Softmax attention).
import { GraphError } from '../../errors.js';
import type { Value } from '../builder.js';
import type { GradientRule, RuleContext } from './differentiate.js';
import { attributeInt, attributeInts, broadcastShapes, normalizeAxis, type SymDim } from './shapes.js';

const node = (ctx: RuleContext, op: string, inputs: readonly (Value | null)[], attributes: Record<string, number | readonly number[]> = {}) =>
  ctx.g.node(op, inputs, attributes);
const mul = (ctx: RuleContext, a: Value, b: Value) => node(ctx, 'Mul', [a, b]);
const f = (ctx: RuleContext, value: number) => ctx.g.constFloat(value);

/** Same-shape rule for a unary op: g * dy/dx, the derivative built from x and y. */
const unary =
  (derivative: (ctx: RuleContext, x: Value, y: Value, g: Value) => Value): GradientRule =>
  (ctx, [g]) => [g ? derivative(ctx, ctx.inputs[0]!, ctx.outputs[0]!, g) : null];

/** The output shape a broadcasting node produced, for unbroadcasting its inputs' gradients. */
const outputShape = (ctx: RuleContext) => ctx.shape(ctx.outputs[0]!);

/** A tensor of zeros shaped like `like` (a missing gradient of one of several outputs). */
const zerosLike = (ctx: RuleContext, like: Value) => node(ctx, 'ConstantOfShape', [node(ctx, 'Shape', [like])]);

const reshapeLike = (ctx: RuleContext, grad: Value, like: Value) => node(ctx, 'Reshape', [grad, node(ctx, 'Shape', [like])]);

/** perm that swaps the last two axes of a rank-r tensor. */
const swapLast = (rank: number) => [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];

/**
 * Output bytes per MatMul when a weight gradient is computed in row blocks. A weight gradient's
 * inner dimension is the token count (hundreds) while its output is the weight's size (tens of
 * MB at 7B): onnxruntime's MLAS SGEMM then runs at 64-66 GFLOP/s a core on this project's 2-core
 * EPYC (32 MB L3) against 75-81 when the output is produced in row blocks of 8 MB (one thread,
 * [11008, 4096], [4096, 11008] and [4096, 4096] gradients of 636 tokens; 2 MB blocks gain less).
 * Row blocks leave each element's dot product as it was: a [4096, 4096] gradient of 636 tokens
 * came out bit for bit the same whole and in 512-row blocks, at one thread and at two.
 */
export const WEIGHT_GRADIENT_BLOCK_BYTES = 8 * 2 ** 20;

/** left^T right ([M, R]^T x [R, C] -> [M, C]) for static M, C, in row blocks when the output is large. */
function transposedProduct(ctx: RuleContext, left: Value, right: Value, outRows: SymDim, outCols: SymDim): Value {
  const leftT = node(ctx, 'Transpose', [left], { perm: [1, 0] });
  if (typeof outRows !== 'number' || typeof outCols !== 'number') return node(ctx, 'MatMul', [leftT, right]);
  const rowsPerBlock = Math.max(1, Math.floor(WEIGHT_GRADIENT_BLOCK_BYTES / (4 * outCols)));
  if (outRows < 2 * rowsPerBlock) return node(ctx, 'MatMul', [leftT, right]);
  const blocks: Value[] = [];
  for (let start = 0; start < outRows; start += rowsPerBlock) {
    const end = Math.min(outRows, start + rowsPerBlock);
    const slice = node(ctx, 'Slice', [leftT, ctx.g.constInt64([start]), ctx.g.constInt64([end]), ctx.g.constInt64([0])]);
    blocks.push(node(ctx, 'MatMul', [slice, right]));
  }
  return node(ctx, 'Concat', blocks, { axis: 0 });
}

function matMulRule(ctx: RuleContext, [g]: readonly (Value | null)[]): (Value | null)[] {
  if (!g) return [null, null];
  const [a, b] = ctx.inputs as [Value, Value];
  const aShape = ctx.shape(a);
  const bShape = ctx.shape(b);
  if (aShape.length < 2 || bShape.length < 2) {
    throw new GraphError({ subject: `gradient of MatMul ${ctx.outputs[0]!.name}`, expected: 'operands of rank >= 2', found: `ranks ${aShape.length}, ${bShape.length}` });
  }
  const yShape = outputShape(ctx);
  const batch = yShape.slice(0, -2);
  let gradA: Value | null = null;
  let gradB: Value | null = null;
  if (ctx.needs(0)) {
    const product = node(ctx, 'MatMul', [g, node(ctx, 'Transpose', [b], { perm: swapLast(bShape.length) })]);
    gradA = ctx.unbroadcast(product, [...batch, aShape.at(-2)!, aShape.at(-1)!], 0);
  }
  if (ctx.needs(1)) {
    const rows = (x: Value, rank: number) => (rank > 2 ? node(ctx, 'Flatten', [x], { axis: rank - 1 }) : x);
    const transposed = ctx.producer(b);
    const swaps = transposed?.opType === 'Transpose' && (attributeInts(transposed.attributes, 'perm') ?? [1, 0]).join() === '1,0';
    const weight = swaps && bShape.length === 2 ? { name: transposed!.inputs[0]! } : undefined;
    if (weight && ctx.needsValue(weight) && ctx.shape(weight).length === 2) {
      // A Linear, x W^T with W [N, K]: dW = g^T x straight in W's layout, batch axes folded into the
      // rows; the Transpose's own rule never runs for this use, so no [K, N] gradient is transposed.
      const [outRows, outCols] = ctx.shape(weight) as [SymDim, SymDim];
      ctx.contribute(weight, transposedProduct(ctx, rows(g, yShape.length), rows(a, aShape.length), outRows, outCols));
    } else if (bShape.length === 2 && aShape.length > 2) {
      // A weight shared by every batch row: fold the batch axes into the rows, one [K, M'] x [M', N] MatMul.
      gradB = transposedProduct(ctx, rows(a, aShape.length), rows(g, yShape.length), bShape[0]!, bShape[1]!);
    } else {
      const product = node(ctx, 'MatMul', [node(ctx, 'Transpose', [a], { perm: swapLast(aShape.length) }), g]);
      gradB = ctx.unbroadcast(product, [...batch, bShape.at(-2)!, bShape.at(-1)!], 1);
    }
  }
  return [gradA, gradB];
}

function reduceRule(ctx: RuleContext, [g]: readonly (Value | null)[]): (Value | null)[] {
  if (!g) return [null];
  const x = ctx.inputs[0]!;
  const xShape = ctx.shape(x);
  const isMean = ctx.node.opType === 'ReduceMean';
  const axesList = isMean ? attributeInts(ctx.node.attributes, 'axes') : (ctx.intValues(1) as readonly number[] | undefined);
  if (!isMean && ctx.inputs[1] && !axesList) {
    throw new GraphError({ subject: `gradient of ReduceSum ${ctx.outputs[0]!.name}`, expected: 'constant axes', found: 'axes computed in the graph' });
  }
  const axes = (axesList ?? xShape.map((_, i) => i)).map((a) => normalizeAxis(a, xShape.length));
  const kept = attributeInt(ctx.node.attributes, 'keepdims', 1) === 1 ? g : node(ctx, 'Unsqueeze', [g, ctx.g.constInt64([...axes].sort((p, q) => p - q))]);
  const spread = node(ctx, 'Expand', [kept, node(ctx, 'Shape', [x])]);
  if (!isMean) return [spread];
  const reduced = axes.map((a) => xShape[a]!);
  const count = reduced.every((d) => typeof d === 'number')
    ? f(ctx, (reduced as number[]).reduce((p, d) => p * d, 1))
    : node(ctx, 'Div', [node(ctx, 'Cast', [node(ctx, 'Size', [x])], { to: 1 }), node(ctx, 'Cast', [node(ctx, 'Size', [ctx.outputs[0]!])], { to: 1 })]);
  return [node(ctx, 'Div', [spread, count])];
}

function sliceRule(ctx: RuleContext, [g]: readonly (Value | null)[]): (Value | null)[] {
  if (!g) return [null];
  const x = ctx.inputs[0]!;
  const shape = ctx.shape(x);
  const starts = ctx.intValues(1);
  const ends = ctx.intValues(2);
  const axes = ctx.inputs[3] ? ctx.intValues(3) : starts?.map((_, i) => i);
  const steps = ctx.inputs[4] ? ctx.intValues(4) : undefined;
  if (!starts || !ends || !axes || starts.some((s) => typeof s !== 'number') || ends.some((e) => typeof e !== 'number') || (steps && steps.some((s) => s !== 1))) {
    throw new GraphError({ subject: `gradient of Slice ${ctx.outputs[0]!.name}`, expected: 'constant starts, ends and axes, step 1', found: 'a slice computed in the graph' });
  }
  const dimOf = (axis: number): Value => (typeof shape[axis] === 'number' ? ctx.g.constInt64([shape[axis] as number]) : node(ctx, 'Shape', [x], { start: axis, end: axis + 1 }));
  const before: Value[] = shape.map(() => ctx.g.constInt64([0]));
  const after: Value[] = shape.map(() => ctx.g.constInt64([0]));
  // Pads put the slice back in place: `start` zeros before it and dim - end after it (indices clamped to the axis).
  const clamp = (index: number, axis: number): Value => {
    const dim = shape[axis];
    if (typeof dim === 'number') return ctx.g.constInt64([Math.min(Math.max(index < 0 ? index + dim : index, 0), dim)]);
    if (index >= 0 && index < 2 ** 31) return node(ctx, 'Min', [ctx.g.constInt64([index]), dimOf(axis)]);
    if (index >= 2 ** 31) return dimOf(axis);
    return node(ctx, 'Max', [node(ctx, 'Add', [dimOf(axis), ctx.g.constInt64([index])]), ctx.g.constInt64([0])]);
  };
  axes.forEach((axisDim, i) => {
    const axis = normalizeAxis(axisDim as number, shape.length);
    before[axis] = clamp(starts[i] as number, axis);
    after[axis] = node(ctx, 'Sub', [dimOf(axis), clamp(ends[i] as number, axis)]);
  });
  return [node(ctx, 'Pad', [g, node(ctx, 'Concat', [...before, ...after], { axis: 0 })])];
}

function gatherRule(ctx: RuleContext, [g]: readonly (Value | null)[]): (Value | null)[] {
  if (!g) return [null, null];
  const [x, indices] = ctx.inputs as [Value, Value];
  const xShape = ctx.shape(x);
  const indexRank = ctx.shape(indices).length;
  if (indexRank > 1) {
    throw new GraphError({ subject: `gradient of Gather ${ctx.outputs[0]!.name}`, expected: 'indices of rank 0 or 1', found: `rank ${indexRank}` });
  }
  const axis = normalizeAxis(attributeInt(ctx.node.attributes, 'axis', 0), xShape.length);
  const grad = indexRank === 0 ? node(ctx, 'Unsqueeze', [g, ctx.g.constInt64([axis])]) : g;
  const spread = xShape.map((_, i) => (i === axis ? -1 : 1));
  const positions = node(ctx, 'Expand', [node(ctx, 'Reshape', [indices, ctx.g.constInt64(spread)]), node(ctx, 'Shape', [grad])]);
  // Rows picked more than once get the sum of their gradients.
  const scattered = ctx.g.node('ScatterElements', [zerosLike(ctx, x), positions, grad], { axis, reduction: 'add' });
  return [scattered, null];
}

function concatRule(ctx: RuleContext, grads: readonly (Value | null)[]): (Value | null)[] {
  const g = grads[0];
  if (!g) return ctx.inputs.map(() => null);
  const rank = outputShape(ctx).length;
  const axis = normalizeAxis(attributeInt(ctx.node.attributes, 'axis', 0), rank);
  const sizes = ctx.inputs.map((input) => {
    const dim = ctx.shape(input!)[axis];
    return typeof dim === 'number' ? ctx.g.constInt64([dim]) : node(ctx, 'Shape', [input], { start: axis, end: axis + 1 });
  });
  return ctx.g.nodeMulti('Split', [g, node(ctx, 'Concat', sizes, { axis: 0 })], ctx.inputs.length, { axis });
}

function splitRule(ctx: RuleContext, grads: readonly (Value | null)[]): (Value | null)[] {
  const rank = ctx.shape(ctx.inputs[0]!).length;
  const axis = normalizeAxis(attributeInt(ctx.node.attributes, 'axis', 0), rank);
  const pieces = grads.map((grad, i) => grad ?? zerosLike(ctx, ctx.outputs[i]!));
  return [node(ctx, 'Concat', pieces, { axis }), null];
}

/** Add, Sub, Mul, Div, Pow: the elementwise derivative, then each input's broadcasting undone. */
function binary(partials: (ctx: RuleContext, g: Value, which: 0 | 1) => Value): GradientRule {
  return (ctx, [g]) => {
    if (!g) return [null, null];
    const from = outputShape(ctx);
    return [0, 1].map((i) => (ctx.needs(i) ? ctx.unbroadcast(partials(ctx, g, i as 0 | 1), from, i) : null));
  };
}

export const GRADIENT_RULES: Readonly<Record<string, GradientRule>> = {
  Identity: (_ctx, [g]) => [g ?? null],
  Add: binary((_ctx, g) => g),
  Sub: binary((ctx, g, i) => (i === 0 ? g : node(ctx, 'Neg', [g]))),
  Mul: binary((ctx, g, i) => mul(ctx, g, ctx.inputs[1 - i]!)),
  // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -y/b.
  Div: binary((ctx, g, i) => {
    const scaled = node(ctx, 'Div', [g, ctx.inputs[1]!]);
    return i === 0 ? scaled : node(ctx, 'Neg', [mul(ctx, scaled, ctx.outputs[0]!)]);
  }),
  // x^p with a constant exponent: p x^(p-1).
  Pow: (ctx, grads) => {
    if (ctx.needs(1)) {
      throw new GraphError({ subject: `gradient of Pow ${ctx.outputs[0]!.name}`, expected: 'a constant exponent', found: 'an exponent that needs a gradient' });
    }
    return binary((c, g) => {
      const p = c.inputs[1]!;
      return mul(c, g, mul(c, p, node(c, 'Pow', [c.inputs[0]!, node(c, 'Sub', [p, f(c, 1)])])));
    })(ctx, grads);
  },
  Neg: unary((ctx, _x, _y, g) => node(ctx, 'Neg', [g])),
  Sqrt: unary((ctx, _x, y, g) => node(ctx, 'Div', [g, mul(ctx, y, f(ctx, 2))])),
  Reciprocal: unary((ctx, _x, y, g) => node(ctx, 'Neg', [mul(ctx, g, mul(ctx, y, y))])),
  Exp: unary((ctx, _x, y, g) => mul(ctx, g, y)),
  Log: unary((ctx, x, _y, g) => node(ctx, 'Div', [g, x])),
  // erf'(x) = 2/sqrt(pi) e^(-x^2).
  Erf: unary((ctx, x, _y, g) => mul(ctx, g, mul(ctx, node(ctx, 'Exp', [node(ctx, 'Neg', [mul(ctx, x, x)])]), f(ctx, 2 / Math.sqrt(Math.PI))))),
  Tanh: unary((ctx, _x, y, g) => mul(ctx, g, node(ctx, 'Sub', [f(ctx, 1), mul(ctx, y, y)]))),
  Sigmoid: unary((ctx, _x, y, g) => mul(ctx, g, mul(ctx, y, node(ctx, 'Sub', [f(ctx, 1), y])))),
  Cos: unary((ctx, x, _y, g) => node(ctx, 'Neg', [mul(ctx, g, node(ctx, 'Sin', [x]))])),
  Sin: unary((ctx, x, _y, g) => mul(ctx, g, node(ctx, 'Cos', [x]))),
  Abs: unary((ctx, x, _y, g) => mul(ctx, g, node(ctx, 'Sign', [x]))),
  Cast: (ctx, [g]) => {
    const type = ctx.info(ctx.inputs[0]!).elementType;
    return [g ? node(ctx, 'Cast', [g], { to: type === 'float64' ? 11 : 1 }) : null];
  },
  MatMul: matMulRule,
  // y (g - sum(g y)) along the softmax axis.
  Softmax: (ctx, [g]) => {
    if (!g) return [null];
    const y = ctx.outputs[0]!;
    const axis = attributeInt(ctx.node.attributes, 'axis', -1);
    const dot = node(ctx, 'ReduceSum', [mul(ctx, g, y), ctx.g.constInt64([axis])], { keepdims: 1 });
    return [mul(ctx, y, node(ctx, 'Sub', [g, dot]))];
  },
  // g - softmax(x) sum(g) along the axis, softmax(x) = exp(y).
  LogSoftmax: (ctx, [g]) => {
    if (!g) return [null];
    const axis = attributeInt(ctx.node.attributes, 'axis', -1);
    const total = node(ctx, 'ReduceSum', [g, ctx.g.constInt64([axis])], { keepdims: 1 });
    return [node(ctx, 'Sub', [g, mul(ctx, node(ctx, 'Exp', [ctx.outputs[0]!]), total)])];
  },
  ReduceSum: reduceRule,
  ReduceMean: reduceRule,
  Reshape: (ctx, [g]) => [g ? reshapeLike(ctx, g, ctx.inputs[0]!) : null, null],
  Flatten: (ctx, [g]) => [g ? reshapeLike(ctx, g, ctx.inputs[0]!) : null],
  Unsqueeze: (ctx, [g]) => [g ? reshapeLike(ctx, g, ctx.inputs[0]!) : null, null],
  Squeeze: (ctx, [g]) => [g ? reshapeLike(ctx, g, ctx.inputs[0]!) : null, null],
  Transpose: (ctx, [g]) => {
    if (!g) return [null];
    const rank = ctx.shape(ctx.inputs[0]!).length;
    const perm = attributeInts(ctx.node.attributes, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inverse = new Array<number>(rank);
    perm.forEach((p, i) => (inverse[p] = i));
    return [node(ctx, 'Transpose', [g], { perm: inverse })];
  },
  Expand: (ctx, [g]) => [g ? ctx.unbroadcast(g, outputShape(ctx), 0) : null, null],
  Concat: concatRule,
  Split: splitRule,
  Slice: sliceRule,
  Gather: gatherRule,
  // The condition picks which branch the gradient flows to.
  Where: (ctx, [g]) => {
    if (!g) return [null, null, null];
    const condition = ctx.inputs[0]!;
    const zero = f(ctx, 0);
    const from: readonly SymDim[] = outputShape(ctx);
    return [
      null,
      ctx.needs(1) ? ctx.unbroadcast(node(ctx, 'Where', [condition, g, zero]), from, 1) : null,
      ctx.needs(2) ? ctx.unbroadcast(node(ctx, 'Where', [condition, zero, g]), from, 2) : null,
    ];
  },
};

/** Op types with a gradient rule, for reports and tests. */
export const DIFFERENTIABLE_OPS = Object.keys(GRADIENT_RULES);

export { broadcastShapes };
