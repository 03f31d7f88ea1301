// Training graphs come in pairs built from one body: the forward (a layer's output from its input)
// and the backward, which holds the same forward nodes again (recomputed from the stored input,
// activation checkpointing per layer) followed by their vector-Jacobian products (onnx/grad).
// A pair can instead store activations (buildStoredTrainingPair): the forward also outputs every
// activation-dependent value the backward reads, and the backward takes them as inputs instead of
// recomputing the layer (PyTorch's default; recompute is LLaVA's --gradient_checkpointing).
// Weights are graph INPUTS named by their suffix under the layer's prefix (`mlp.fc1.weight`), so
// one session serves every layer of a kind and a weight update needs no new session.
// The backward's inputs: the forward's, plus `grad.<output>` for each output (or none for a scalar
// loss, whose seed is 1). Its outputs: `grad.<input>` for the activation inputs when asked, and
// `grad.<weight suffix>` for every weight when asked (a frozen part asks for none).
import { GraphBuilder, type Dim, type ElementType, type GraphInput, type Value } from '../onnx/builder.js';
import { Ops } from '../onnx/ops.js';
import { addGradients } from '../onnx/grad/index.js';
import { inferValues } from '../onnx/grad/shapes.js';
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

/** Element types a stored activation may have (what a graph input can declare). */
const STORABLE = new Set<ElementType>(['float32', 'float64', 'int64', 'bool']);

export function buildTrainingForward(name: string, body: TrainingBodyBuilder): GraphBuilder {
  const g = new GraphBuilder(`${name}_forward`);
  const built = body(g, new Ops(g));
  for (const out of built.outputs) g.output(out.value, out.name, 'float32', out.shape);
  return g;
}

export function buildTrainingBackward(name: string, body: TrainingBodyBuilder, options: BackwardOptions): GraphBuilder {
  return differentiatedBody(`${name}_backward${options.weightGrads ? '' : '_frozen'}`, name, body, options).g;
}

/** The body's forward nodes followed by their gradients, and where the gradient nodes start. */
function differentiatedBody(graphName: string, name: string, body: TrainingBodyBuilder, options: BackwardOptions) {
  const g = new GraphBuilder(graphName);
  const built = body(g, new Ops(g));
  const forwardNodes = g.nodeList.length;
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
  return { g, built, forwardNodes };
}

/** A forward that also outputs the activations its backward reads, and that backward. */
export interface StoredTrainingPair {
  /** Inputs: the body's. Outputs: the body's, then `stored`. */
  readonly forward: GraphBuilder;
  /** Inputs: the body's that it still reads, `stored`, and `grad.<output>`; outputs as buildTrainingBackward's. */
  readonly backward: GraphBuilder;
  /** Values of the forward the backward reads that depend on an activation input, under their graph names. */
  readonly stored: readonly GraphInput[];
}

/**
 * The stored-activation form of buildTrainingBackward: the backward reads the forward's intermediate
 * values instead of recomputing them. Values that do not depend on an activation input (a weight's
 * transpose, the rotary table, the causal mask) are recomputed in the backward, not stored.
 */
export function buildStoredTrainingPair(name: string, body: TrainingBodyBuilder, options: BackwardOptions): StoredTrainingPair {
  if (options.scalarLoss) {
    throw new GraphError({ subject: `stored training pair ${name}`, expected: 'a body with activation outputs', found: 'a scalar loss (its backward recomputes)' });
  }
  const suffix = options.weightGrads ? '' : '_frozen';
  const { g, built, forwardNodes } = differentiatedBody(`${name}_training${suffix}`, name, body, options);
  const nodes = g.nodeList;
  const fromActivation = new Set(built.activations.map((input) => input.name));
  const producedForward = new Set<string>();
  for (const node of nodes.slice(0, forwardNodes)) {
    for (const output of node.outputs) producedForward.add(output);
    if (node.inputs.some((input) => fromActivation.has(input))) for (const output of node.outputs) fromActivation.add(output);
  }
  const storedNames = new Set<string>();
  for (const node of nodes.slice(forwardNodes)) {
    for (const input of node.inputs) if (producedForward.has(input) && fromActivation.has(input)) storedNames.add(input);
  }
  const infos = inferValues(g, nodes);
  const stored = [...storedNames].map((value): GraphInput => {
    const info = infos.get(value);
    if (!info?.shape || !STORABLE.has(info.elementType as ElementType)) {
      throw new GraphError({ subject: `stored activation ${value} of ${name}`, expected: 'a known rank and element type', found: info ? `${info.elementType}, rank ${info.shape?.length ?? 'unknown'}` : 'no shape' });
    }
    return { name: value, elementType: info.elementType as ElementType, shape: info.shape.map((dim, i) => dim ?? `${value}#${i}`) };
  });
  const gradOutputs = [...g.outputList];
  for (const out of built.outputs) g.output(out.value, out.name, 'float32', out.shape);
  const bodyOutputs = g.outputList.slice(gradOutputs.length);
  const forward = g.extract(`${name}_forward_storing${suffix}`, g.inputList.filter((input) => !input.name.startsWith('grad.')), [...bodyOutputs, ...stored]);
  const backward = g.extract(`${name}_backward_stored${suffix}`, [...g.inputList, ...stored], gradOutputs);
  return { forward, backward, stored };
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
