// Training graphs come in pairs built from one body: the forward (a layer's output from its input)
// and the backward, which holds the same forward nodes again (recomputed from the stored input,
// activation checkpointing per layer) followed by their vector-Jacobian products (onnx/grad).
// Weights are graph INPUTS named by their suffix under the layer's prefix (`mlp.fc1.weight`), so
// one session serves every layer of a kind and a weight update needs no new session.
// The backward's inputs: the forward's, plus `grad.<output>` for each output (or none for a scalar
// loss, whose seed is 1). Its outputs: `grad.<input>` for the activation inputs when asked, and
// `grad.<weight suffix>` for every weight when asked (a frozen part asks for none).
import { GraphBuilder, type Dim, type GraphInput, type Value } from '../onnx/builder.js';
import { Ops } from '../onnx/ops.js';
import { addGradients } from '../onnx/grad/index.js';
import { GraphError } from '../errors.js';

export interface TrainingOutput {
  readonly name: string;
  readonly value: Value;
  readonly shape: readonly Dim[];
}

/** What a body declares: activation inputs the gradient flows back to, weight inputs, outputs. */
export interface TrainingBody {
  readonly activations: readonly GraphInput[];
  readonly weights: readonly GraphInput[];
  readonly outputs: readonly TrainingOutput[];
}

export type TrainingBodyBuilder = (g: GraphBuilder, op: Ops) => TrainingBody;

export interface BackwardOptions {
  /** Emit `grad.<input>` for the activation inputs. */
  readonly inputGrads: boolean;
  /** Emit `grad.<weight>` for every weight (false: a frozen part, no weight gradient is computed). */
  readonly weightGrads: boolean;
  /** The single output is a scalar loss: seeded with 1 and also returned. */
  readonly scalarLoss?: boolean;
}

export const gradName = (name: string): string => `grad.${name}`;

export function buildTrainingForward(name: string, body: TrainingBodyBuilder): GraphBuilder {
  const g = new GraphBuilder(`${name}_forward`);
  const built = body(g, new Ops(g));
  for (const out of built.outputs) g.output(out.value, out.name, 'float32', out.shape);
  return g;
}

export function buildTrainingBackward(name: string, body: TrainingBodyBuilder, options: BackwardOptions): GraphBuilder {
  const g = new GraphBuilder(`${name}_backward${options.weightGrads ? '' : '_frozen'}`);
  const built = body(g, new Ops(g));
  const seeds = built.outputs.map((out) => ({
    value: out.value,
    grad: options.scalarLoss ? g.constFloat(1) : g.input(gradName(out.name), 'float32', out.shape),
  }));
  if (options.scalarLoss) for (const out of built.outputs) g.output(out.value, out.name, 'float32', out.shape);
  const wrt = [...(options.inputGrads ? built.activations : []), ...(options.weightGrads ? built.weights : [])];
  if (wrt.length === 0) {
    throw new GraphError({ subject: `backward graph ${name}`, expected: 'input or weight gradients asked for', found: 'neither' });
  }
  const grads = addGradients(g, { seeds, wrt });
  wrt.forEach((input, i) => {
    const grad = grads[i];
    if (!grad) throw new GraphError({ subject: `backward graph ${name}`, expected: `a gradient path to ${input.name}`, found: 'none' });
    g.output(grad, gradName(input.name), 'float32', input.shape);
  });
  return g;
}

/** A Linear with its PyTorch weight [out, in] as a graph input: x W^T (+ b). */
export function linearInput(g: GraphBuilder, op: Ops, x: Value, weight: Value, bias?: Value): Value {
  const y = op.matMul(x, op.transpose(weight, [1, 0]));
  return bias ? op.add(y, bias) : y;
}

/** nn.LayerNorm over the last axis written out (mean, centred variance), so its gradient comes from the op rules. */
export function layerNormOps(g: GraphBuilder, op: Ops, x: Value, weight: Value, bias: Value, eps: number): Value {
  const centred = op.sub(x, op.reduceMean(x, [-1]));
  const variance = op.reduceMean(op.mul(centred, centred), [-1]);
  return op.add(op.mul(op.div(centred, op.sqrt(op.add(variance, g.constFloat(eps)))), weight), bias);
}
