// The gradient-check table for every operator rule: each case builds a small forward graph, its
// backward is derived by addGradients (float32), and every input gradient is compared with central
// differences of L = sum(dy * y) computed by the SAME forward graph built in float64 (onnxruntime's
// double kernels), so the reference shares nothing with the rules. Error: |analytic - numeric| over
// |numeric|, both as vectors over the input tensor (its Euclidean norm).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, type Value } from '../builder.js';
import { mulberry32 } from '../../util/prng.js';
import { addGradients } from './differentiate.js';
import { DIFFERENTIABLE_OPS } from './rules.js';

type FloatKind = 'float32' | 'float64';

interface InputSpec {
  readonly shape: readonly number[];
  /** Float inputs are differentiated; int64 and bool are fed as given. */
  readonly type?: 'float' | 'int64' | 'bool';
  readonly values?: readonly number[];
  /** Draw floats from [low, high) (default [-1, 1)). */
  readonly range?: readonly [number, number];
}

interface Case {
  readonly name: string;
  /** The op types the case exercises (the table checks every rule is covered). */
  readonly ops: readonly string[];
  readonly inputs: readonly InputSpec[];
  readonly outputShape: readonly number[];
  build(g: GraphBuilder, inputs: Value[], c: (v: number | readonly number[]) => Value, kind: FloatKind): Value;
  /** Central-difference step; larger where the float64 forward has to run an op in float32. */
  readonly step?: number;
}

const n = (g: GraphBuilder, op: string, inputs: Value[], attrs: Record<string, number | readonly number[]> = {}) => g.node(op, inputs, attrs);
const i64 = (g: GraphBuilder, v: readonly number[]) => g.constInt64(v);

const CASES: readonly Case[] = [
  { name: 'MatMul batch x weight', ops: ['MatMul'], inputs: [{ shape: [2, 3, 4] }, { shape: [4, 5] }], outputShape: [2, 3, 5], build: (g, [a, b]) => n(g, 'MatMul', [a!, b!]) },
  { name: 'MatMul batched, broadcast batch', ops: ['MatMul'], inputs: [{ shape: [2, 3, 3, 4] }, { shape: [3, 4, 2] }], outputShape: [2, 3, 3, 2], build: (g, [a, b]) => n(g, 'MatMul', [a!, b!]) },
  { name: 'Linear x W^T (weight gradient in W layout)', ops: ['MatMul', 'Transpose'], inputs: [{ shape: [2, 3, 4] }, { shape: [5, 4] }], outputShape: [2, 3, 5], build: (g, [x, w]) => n(g, 'MatMul', [x!, n(g, 'Transpose', [w!], { perm: [1, 0] })]) },
  { name: 'Linear weight also used elsewhere', ops: ['MatMul', 'Transpose'], inputs: [{ shape: [3, 4] }, { shape: [4, 4] }], outputShape: [3, 4], build: (g, [x, w]) => n(g, 'Add', [n(g, 'MatMul', [x!, n(g, 'Transpose', [w!], { perm: [1, 0] })]), n(g, 'MatMul', [x!, w!])]) },
  { name: 'Add with broadcast', ops: ['Add'], inputs: [{ shape: [2, 3, 4] }, { shape: [4] }], outputShape: [2, 3, 4], build: (g, [a, b]) => n(g, 'Add', [a!, b!]) },
  { name: 'Sub with broadcast', ops: ['Sub'], inputs: [{ shape: [2, 1, 4] }, { shape: [3, 1] }], outputShape: [2, 3, 4], build: (g, [a, b]) => n(g, 'Sub', [a!, b!]) },
  { name: 'Mul with broadcast', ops: ['Mul'], inputs: [{ shape: [2, 3, 4] }, { shape: [2, 1, 4] }], outputShape: [2, 3, 4], build: (g, [a, b]) => n(g, 'Mul', [a!, b!]) },
  { name: 'Div with broadcast', ops: ['Div'], inputs: [{ shape: [3, 4] }, { shape: [3, 1], range: [0.5, 2] }], outputShape: [3, 4], build: (g, [a, b]) => n(g, 'Div', [a!, b!]) },
  { name: 'Pow', ops: ['Pow'], inputs: [{ shape: [3, 4], range: [0.5, 2] }], outputShape: [3, 4], build: (g, [x], c) => n(g, 'Pow', [x!, c(2.5)]) },
  { name: 'fan-out x*x + x', ops: ['Mul', 'Add'], inputs: [{ shape: [5] }], outputShape: [5], build: (g, [x]) => n(g, 'Add', [n(g, 'Mul', [x!, x!]), x!]) },
  ...(['Neg', 'Sqrt', 'Reciprocal', 'Exp', 'Log', 'Erf', 'Tanh', 'Sigmoid', 'Cos', 'Sin', 'Abs'] as const).map(
    (op): Case => ({
      name: op,
      ops: [op],
      inputs: [{ shape: [3, 5], range: ['Sqrt', 'Log', 'Reciprocal'].includes(op) ? [0.5, 2] : op === 'Abs' ? [0.2, 1] : [-1.5, 1.5] }],
      outputShape: [3, 5],
      build: (g, [x], _c, kind) => {
        if (op === 'Abs') return n(g, 'Abs', [n(g, 'Neg', [x!])]);
        // onnxruntime has no double Erf: the float64 forward runs it in float32, differenced with a wide step.
        if (op === 'Erf' && kind === 'float64') return n(g, 'Cast', [n(g, 'Erf', [n(g, 'Cast', [x!], { to: 1 })])], { to: 11 });
        return n(g, op, [x!]);
      },
      ...(op === 'Erf' ? { step: 1e-2 } : {}),
    }),
  ),
  { name: 'Cast float to float', ops: ['Cast'], inputs: [{ shape: [4] }], outputShape: [4], build: (g, [x], _c, kind) => n(g, 'Mul', [n(g, 'Cast', [x!], { to: kind === 'float32' ? 1 : 11 }), x!]) },
  { name: 'Identity', ops: ['Identity'], inputs: [{ shape: [4] }], outputShape: [4], build: (g, [x]) => n(g, 'Mul', [n(g, 'Identity', [x!]), x!]) },
  { name: 'Softmax last axis', ops: ['Softmax'], inputs: [{ shape: [2, 3, 5], range: [-3, 3] }], outputShape: [2, 3, 5], build: (g, [x]) => n(g, 'Softmax', [x!], { axis: -1 }) },
  { name: 'Softmax masked (-inf)', ops: ['Softmax', 'Add'], inputs: [{ shape: [3, 3] }, { shape: [3, 3], type: 'bool', values: [0, 1, 1, 0, 0, 1, 0, 0, 0] }], outputShape: [3, 3], build: (g, [x, m], c) => n(g, 'Softmax', [n(g, 'Add', [x!, g.node('Where', [m!, c(-Infinity), c(0)])])], { axis: -1 }) },
  { name: 'LogSoftmax', ops: ['LogSoftmax'], inputs: [{ shape: [3, 6], range: [-3, 3] }], outputShape: [3, 6], build: (g, [x]) => n(g, 'LogSoftmax', [x!], { axis: -1 }) },
  { name: 'ReduceSum axes 1, no keepdims', ops: ['ReduceSum'], inputs: [{ shape: [2, 3, 4] }], outputShape: [2, 4], build: (g, [x]) => n(g, 'ReduceSum', [x!, i64(g, [1])], { keepdims: 0 }) },
  { name: 'ReduceMean last axis', ops: ['ReduceMean'], inputs: [{ shape: [2, 3, 4] }], outputShape: [2, 3, 1], build: (g, [x]) => n(g, 'ReduceMean', [x!], { axes: [-1], keepdims: 1 }) },
  { name: 'Reshape', ops: ['Reshape'], inputs: [{ shape: [2, 3, 4] }], outputShape: [6, 4], build: (g, [x]) => n(g, 'Mul', [n(g, 'Reshape', [x!, i64(g, [-1, 4])]), n(g, 'Reshape', [x!, i64(g, [6, 4])])]) },
  { name: 'Flatten', ops: ['Flatten'], inputs: [{ shape: [2, 3, 4] }], outputShape: [6, 4], build: (g, [x]) => n(g, 'Flatten', [x!], { axis: 2 }) },
  { name: 'Transpose', ops: ['Transpose'], inputs: [{ shape: [2, 3, 4] }], outputShape: [4, 2, 3], build: (g, [x]) => n(g, 'Transpose', [x!], { perm: [2, 0, 1] }) },
  { name: 'Concat', ops: ['Concat'], inputs: [{ shape: [2, 3] }, { shape: [2, 2] }], outputShape: [2, 5], build: (g, [a, b]) => n(g, 'Concat', [a!, b!], { axis: -1 }) },
  {
    name: 'Split (one piece unused)',
    ops: ['Split'],
    inputs: [{ shape: [2, 6] }],
    outputShape: [2, 2],
    build: (g, [x]) => {
      const [p, , r] = g.nodeMulti('Split', [x!, i64(g, [2, 1, 3])], 3, { axis: 1 });
      return n(g, 'Mul', [p!, n(g, 'Slice', [r!, i64(g, [0]), i64(g, [2]), i64(g, [1])])]);
    },
  },
  { name: 'Slice negative start, open end', ops: ['Slice'], inputs: [{ shape: [3, 5] }], outputShape: [3, 2], build: (g, [x]) => n(g, 'Slice', [x!, i64(g, [-2]), i64(g, [2 ** 40]), i64(g, [1])]) },
  { name: 'Gather rows, repeated', ops: ['Gather'], inputs: [{ shape: [4, 3] }, { shape: [5], type: 'int64', values: [2, 0, 2, 3, 2] }], outputShape: [5, 3], build: (g, [x, i]) => n(g, 'Gather', [x!, i!], { axis: 0 }) },
  { name: 'Gather axis 1', ops: ['Gather'], inputs: [{ shape: [2, 4, 3] }, { shape: [2], type: 'int64', values: [3, 1] }], outputShape: [2, 2, 3], build: (g, [x, i]) => n(g, 'Gather', [x!, i!], { axis: 1 }) },
  { name: 'Unsqueeze and Squeeze', ops: ['Unsqueeze', 'Squeeze'], inputs: [{ shape: [3, 4] }], outputShape: [3, 4], build: (g, [x]) => n(g, 'Squeeze', [n(g, 'Exp', [n(g, 'Unsqueeze', [x!, i64(g, [1])])]), i64(g, [1])]) },
  { name: 'Expand', ops: ['Expand'], inputs: [{ shape: [3, 1] }], outputShape: [2, 3, 4], build: (g, [x]) => n(g, 'Expand', [x!, i64(g, [2, 3, 4])]) },
  { name: 'Where', ops: ['Where'], inputs: [{ shape: [2, 3] }, { shape: [3] }, { shape: [2, 3], type: 'bool', values: [1, 0, 1, 0, 0, 1] }], outputShape: [2, 3], build: (g, [a, b, m]) => n(g, 'Where', [m!, a!, b!]) },
];

function product(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

function buildGraph(c: Case, kind: FloatKind, backward: boolean): GraphBuilder {
  const g = new GraphBuilder(`${c.name}_${kind}`);
  const inputs = c.inputs.map((spec, i) => g.input(`x${i}`, spec.type === 'int64' ? 'int64' : spec.type === 'bool' ? 'bool' : kind, spec.shape));
  const constant = (v: number | readonly number[]) => {
    const list = typeof v === 'number' ? [v] : v;
    const shape = typeof v === 'number' ? [] : [list.length];
    return kind === 'float32' ? g.constFloat(v, shape) : g.initializer(`c64_${g.nodeList.length}_${list.join('_')}`, 'float64', Float64Array.from(list), shape);
  };
  const y = c.build(g, inputs, constant, kind);
  if (!backward) {
    g.output(y, 'y', kind, c.outputShape);
    return g;
  }
  const dy = g.input('dy', 'float32', c.outputShape);
  const floats = inputs.filter((_, i) => (c.inputs[i]!.type ?? 'float') === 'float');
  const grads = addGradients(g, { seeds: [{ value: y, grad: dy }], wrt: floats });
  grads.forEach((grad, i) => {
    assert.ok(grad, `${c.name}: gradient of input ${i}`);
    g.output(grad, `grad_${floats[i]!.name}`, 'float32', c.inputs[inputs.indexOf(floats[i]!)]!.shape);
  });
  return g;
}

const session = (g: GraphBuilder) => ort.InferenceSession.create(g.toModelBytes(), { graphOptimizationLevel: 'disabled' });

function feedsFor(c: Case, values: readonly Float64Array[], kind: FloatKind): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  c.inputs.forEach((spec, i) => {
    const dims = [...spec.shape];
    if (spec.type === 'int64') feeds[`x${i}`] = new ort.Tensor('int64', BigInt64Array.from(spec.values!.map(BigInt)), dims);
    else if (spec.type === 'bool') feeds[`x${i}`] = new ort.Tensor('bool', Uint8Array.from(spec.values!), dims);
    else feeds[`x${i}`] = new ort.Tensor(kind, kind === 'float32' ? Float32Array.from(values[i]!) : Float64Array.from(values[i]!), dims);
  });
  return feeds;
}

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

test('every gradient rule matches float64 central differences (rel. error on the tensor norm <= 1e-3)', async () => {
  const random = mulberry32(7);
  const covered = new Set<string>();
  const table: string[] = [];
  for (const c of CASES) {
    // Inputs rounded to float32 so both graphs see the same point.
    const values = c.inputs.map((spec) => {
      const [low, high] = spec.range ?? [-1, 1];
      return Float64Array.from(Float32Array.from({ length: product(spec.shape) }, () => low + (high - low) * random()));
    });
    const dy = Float32Array.from({ length: product(c.outputShape) }, () => 2 * random() - 1);
    const backward = await session(buildGraph(c, 'float32', true));
    const grads = await backward.run({ ...feedsFor(c, values, 'float32'), dy: new ort.Tensor('float32', dy, [...c.outputShape]) });
    const forward = await session(buildGraph(c, 'float64', false));
    const loss = async (vals: readonly Float64Array[]) => {
      const y = (await forward.run(feedsFor(c, vals, 'float64'))).y!.data as Float64Array;
      return y.reduce((s, v, i) => s + (Number.isFinite(v) ? v * dy[i]! : 0), 0);
    };
    let worst = 0;
    for (const [i, spec] of c.inputs.entries()) {
      if ((spec.type ?? 'float') !== 'float') continue;
      const analytic = grads[`grad_x${i}`]!.data as Float32Array;
      const numeric = new Float64Array(analytic.length);
      const h = c.step ?? 1e-6;
      for (let k = 0; k < analytic.length; k++) {
        const plus = values.map((v) => v.slice());
        const minus = values.map((v) => v.slice());
        plus[i]![k] = plus[i]![k]! + h;
        minus[i]![k] = minus[i]![k]! - h;
        numeric[k] = ((await loss(plus)) - (await loss(minus))) / (2 * h);
      }
      const error = norm(analytic.map((a, k) => a - numeric[k]!)) / norm(numeric);
      worst = Math.max(worst, error);
      assert.ok(error <= 1e-3, `${c.name}, input ${i}: relative error ${error.toExponential(2)}`);
    }
    c.ops.forEach((op) => covered.add(op));
    table.push(`${c.name.padEnd(36)} ${worst.toExponential(2)}`);
    await backward.release();
    await forward.release();
  }
  console.log(`max relative error per case:\n${table.join('\n')}`);
  assert.deepEqual(DIFFERENTIABLE_OPS.filter((op) => !covered.has(op)), [], 'every rule has a case');
});

test('a large weight gradient computed in row blocks equals g^T x in float64, for a Linear and a plain weight', async () => {
  // Batch axis 1, as the training graphs' [batch, tokens, width] activations.
  // [1100, 4096] float32 is 18 MB: three row blocks of WEIGHT_GRADIENT_BLOCK_BYTES (512, 512, 76 rows).
  const tokens = 3;
  const [rows, cols] = [1100, 4096];
  const random = mulberry32(11);
  const draw = (length: number) => Float32Array.from({ length }, () => 2 * random() - 1);
  const x = draw(tokens * cols);
  for (const layout of ['linear', 'plain'] as const) {
    const g = new GraphBuilder(`block_${layout}`);
    const input = g.input('x', 'float32', [1, tokens, layout === 'linear' ? cols : rows]);
    const w = g.input('w', 'float32', [rows, cols]);
    const y = layout === 'linear' ? g.node('MatMul', [input, g.node('Transpose', [w], { perm: [1, 0] })]) : g.node('MatMul', [input, w]);
    const outCols = layout === 'linear' ? rows : cols;
    const dy = g.input('dy', 'float32', [1, tokens, outCols]);
    const [grad] = addGradients(g, { seeds: [{ value: y, grad: dy }], wrt: [w] });
    g.output(grad!, 'grad_w', 'float32', [rows, cols]);
    const blockProducts = g.nodeList.filter((node) => node.opType === 'MatMul').length - 1;
    assert.equal(blockProducts, 3, `${layout}: the gradient is three row-block MatMuls`);
    const xValues = layout === 'linear' ? x : draw(tokens * rows);
    const dyValues = layout === 'linear' ? draw(tokens * rows) : draw(tokens * cols);
    const s = await session(g);
    const out = (await s.run({
      x: new ort.Tensor('float32', xValues, [1, tokens, layout === 'linear' ? cols : rows]),
      w: new ort.Tensor('float32', new Float32Array(rows * cols), [rows, cols]),
      dy: new ort.Tensor('float32', dyValues, [1, tokens, outCols]),
    })).grad_w!.data as Float32Array;
    await s.release();
    // Linear: dW[r, c] = sum_t dy[t, r] x[t, c]; plain: dW[r, c] = sum_t x[t, r] dy[t, c].
    const [left, right] = layout === 'linear' ? [dyValues, xValues] : [xValues, dyValues];
    let worst = 0;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        let sum = 0;
        for (let t = 0; t < tokens; t++) sum += left[t * rows + r]! * right[t * cols + c]!;
        worst = Math.max(worst, Math.abs(out[r * cols + c]! - sum));
      }
    }
    assert.ok(worst < 1e-5, `${layout}: worst absolute error ${worst}`);
  }
});
