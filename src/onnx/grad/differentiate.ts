// Reverse-mode differentiation of a graph under construction: the nodes a GraphBuilder holds so far
// are walked backwards from seeded outputs, and each node's vector-Jacobian product is appended to
// the same builder as ONNX operators (rules.ts, one rule per op type). The result is one graph that
// computes the forward and the backward together: the recompute form of activation checkpointing,
// when the forward is one layer fed its stored input.
// Only nodes on a path from a value asked for (`wrt`) to a seed get a rule applied; values that are
// not float (indices, shapes, masks) carry no gradient. Fan-out sums gradients; broadcasting is
// undone by summing over the broadcast axes (unbroadcast below).
import { GraphError } from '../../errors.js';
import type { GraphBuilder, NodeRecord, Value } from '../builder.js';
import { inferValues, isFloat, normalizeAxis, type SymDim, type ValueInfo } from './shapes.js';
import { GRADIENT_RULES } from './rules.js';

export interface GradientSeed {
  /** A float value of the forward graph. */
  readonly value: Value;
  /** The gradient of the final scalar with respect to `value` (same shape), e.g. a graph input. */
  readonly grad: Value;
}

export interface GradientRequest {
  readonly seeds: readonly GradientSeed[];
  /** Float values (graph inputs, usually) whose gradients to return. */
  readonly wrt: readonly Value[];
}

/** What a rule sees of the node it differentiates. */
export interface RuleContext {
  readonly g: GraphBuilder;
  readonly node: NodeRecord;
  /** The node's inputs (null for an optional input left out) and outputs, as values. */
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  /** Whether input `i` needs a gradient (a float value on a path from `wrt`). */
  needs(i: number): boolean;
  info(value: Value): ValueInfo;
  /** The symbolic shape of `value`; throws when its rank is unknown. */
  shape(value: Value): readonly SymDim[];
  /** The values of a small int64 input when known at build time (axes, sizes, shapes), else undefined. */
  intValues(i: number): readonly SymDim[] | undefined;
  /** `grad`, of shape `from`, summed over the axes along which input `i` was broadcast to it. */
  unbroadcast(grad: Value, from: readonly SymDim[], i: number): Value;
}

/** A rule: the output gradients (null where no gradient flows) -> one gradient per input (null: none). */
export type GradientRule = (ctx: RuleContext, outputGrads: readonly (Value | null)[]) => (Value | null)[];

/**
 * Appends to `g` the gradients of the seeded outputs with respect to each of `wrt`, in order; null
 * where no path leads from that value to a seed.
 */
export function addGradients(g: GraphBuilder, request: GradientRequest): (Value | null)[] {
  const nodes = [...g.nodeList];
  const infos = inferValues(g, nodes);
  const info = (name: string): ValueInfo => infos.get(name) ?? { shape: null, elementType: 'unknown' };

  // Values depending on a `wrt` through float values, and values a seed depends on.
  const varying = new Set(request.wrt.map((v) => v.name));
  for (const node of nodes) {
    if (node.inputs.some((name) => varying.has(name))) {
      for (const out of node.outputs) if (isFloat(info(out))) varying.add(out);
    }
  }
  const useful = new Set(request.seeds.map((s) => s.value.name));
  for (let n = nodes.length - 1; n >= 0; n--) {
    const node = nodes[n]!;
    if (node.outputs.some((name) => useful.has(name))) for (const name of node.inputs) if (name !== '') useful.add(name);
  }

  const grads = new Map<string, Value>();
  const accumulate = (name: string, grad: Value) => {
    const previous = grads.get(name);
    grads.set(name, previous ? g.node('Add', [previous, grad]) : grad);
  };
  for (const seed of request.seeds) accumulate(seed.value.name, seed.grad);

  for (let n = nodes.length - 1; n >= 0; n--) {
    const node = nodes[n]!;
    const needs = (i: number) => {
      const name = node.inputs[i];
      return name !== undefined && name !== '' && varying.has(name) && useful.has(name) && isFloat(info(name));
    };
    if (!node.inputs.some((_, i) => needs(i))) continue;
    const outputGrads = node.outputs.map((name) => grads.get(name) ?? null);
    if (outputGrads.every((grad) => grad === null)) continue;
    const rule = GRADIENT_RULES[node.opType];
    if (!rule || node.domain !== '') {
      throw new GraphError({ subject: `gradient of node ${node.outputs[0]}`, expected: 'an op with a gradient rule', found: node.opType });
    }
    const ctx = ruleContext(g, node, info, needs);
    const inputGrads = rule(ctx, outputGrads);
    node.inputs.forEach((name, i) => {
      const grad = inputGrads[i];
      if (grad && needs(i)) accumulate(name, grad);
    });
  }
  return request.wrt.map((v) => grads.get(v.name) ?? null);
}

function ruleContext(g: GraphBuilder, node: NodeRecord, info: (name: string) => ValueInfo, needs: (i: number) => boolean): RuleContext {
  const asValue = (name: string) => (name === '' ? null : { name });
  const shapeOf = (value: Value): readonly SymDim[] => {
    const shape = info(value.name).shape;
    if (!shape) {
      throw new GraphError({ subject: `gradient of ${node.opType} node ${node.outputs[0]}`, expected: `a known rank for ${value.name}`, found: 'unknown rank' });
    }
    return shape;
  };
  const ctx: RuleContext = {
    g,
    node,
    inputs: node.inputs.map(asValue),
    outputs: node.outputs.map((name) => ({ name })),
    needs,
    info: (value) => info(value.name),
    shape: shapeOf,
    intValues: (i) => (node.inputs[i] ? info(node.inputs[i]!).intValues : undefined),
    unbroadcast(grad, from, i) {
      const input = ctx.inputs[i]!;
      return unbroadcast(g, grad, from, shapeOf(input), input);
    },
  };
  return ctx;
}

/**
 * `grad` of shape `from` summed back to shape `to` (numpy broadcasting undone): leading axes that
 * `to` lacks, and axes where `to` is 1 and `from` is not. `like` is a value of shape `to`.
 */
export function unbroadcast(g: GraphBuilder, grad: Value, from: readonly SymDim[], to: readonly SymDim[], like: Value): Value {
  const lead = from.length - to.length;
  const axes = from.flatMap((dim, k) => (k < lead || (to[k - lead] === 1 && dim !== 1) ? [k] : []));
  if (axes.length === 0) return grad;
  const summed = g.node('ReduceSum', [grad, g.constInt64(axes)], { keepdims: 1 });
  return lead > 0 ? g.node('Reshape', [summed, g.node('Shape', [like])]) : summed;
}

export { normalizeAxis };
