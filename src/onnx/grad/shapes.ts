// Symbolic shapes and element kinds of every value of a built graph, inferred op by op from the
// declared inputs and the constants. The gradient rules need them to undo broadcasting (which axes
// to sum), to pick MatMul's weight-gradient form, and to normalise negative axes; the values of
// small int64 tensors (shape vectors, axes, split sizes) are tracked too, so a Reshape to a shape
// computed in the graph still has a known rank.
// A dimension is a number, a symbol ('B', 'T': equal wherever the same symbol appears) or null (unknown).
import { GraphError } from '../../errors.js';
import type { AttributeValue, ElementType, GraphBuilder, NodeRecord } from '../builder.js';

export type SymDim = number | string | null;

export interface ValueInfo {
  /** null: rank unknown. */
  readonly shape: readonly SymDim[] | null;
  readonly elementType: ElementType | 'int32' | 'unknown';
  /** The values of a small int64 tensor when known (each may itself be symbolic or unknown). */
  readonly intValues?: readonly SymDim[];
}

export const isFloat = (info: ValueInfo): boolean => info.elementType === 'float32' || info.elementType === 'float64';

const CAST_TYPES: Record<number, ValueInfo['elementType']> = { 1: 'float32', 11: 'float64', 7: 'int64', 9: 'bool', 6: 'int32', 3: 'int8', 2: 'uint8' };

/** numpy broadcasting of symbolic shapes (a symbol against 1 gives the symbol; two symbols are taken as equal). */
export function broadcastShapes(...shapes: (readonly SymDim[] | null)[]): SymDim[] | null {
  if (shapes.some((s) => s === null)) return null;
  const rank = Math.max(...shapes.map((s) => s!.length));
  return Array.from({ length: rank }, (_, k) => {
    let dim: SymDim = 1;
    for (const s of shapes) {
      const d = s![k - (rank - s!.length)];
      if (d === undefined || d === 1) continue;
      if (dim === 1 || dim === null || (typeof d === 'number' && typeof dim !== 'number')) dim = d;
    }
    return dim;
  });
}

export const normalizeAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

export function attributeInts(attributes: Readonly<Record<string, AttributeValue>>, name: string): readonly number[] | undefined {
  const value = attributes[name];
  return Array.isArray(value) ? (value as readonly number[]) : undefined;
}

export function attributeInt(attributes: Readonly<Record<string, AttributeValue>>, name: string, fallback: number): number {
  const value = attributes[name];
  return typeof value === 'number' ? value : fallback;
}

/** Infers every value of `g` (graph inputs, constants, each node's outputs). */
export function inferValues(g: GraphBuilder, nodes: readonly NodeRecord[]): Map<string, ValueInfo> {
  const infos = new Map<string, ValueInfo>();
  for (const input of g.inputList) infos.set(input.name, { shape: input.shape, elementType: input.elementType });
  const info = (name: string): ValueInfo => {
    const known = infos.get(name);
    if (known) return known;
    const constant = g.constantRecord(name);
    const inferred: ValueInfo = constant
      ? { shape: constant.shape, elementType: constant.elementType, ...(constant.elementType === 'int64' && constant.values ? { intValues: constant.values } : {}) }
      : { shape: null, elementType: 'unknown' };
    infos.set(name, inferred);
    return inferred;
  };
  for (const node of nodes) {
    const inputs = node.inputs.map((name) => (name === '' ? null : info(name)));
    const outputs = inferNode(node, inputs);
    node.outputs.forEach((name, i) => infos.set(name, outputs[i] ?? { shape: null, elementType: 'unknown' }));
  }
  return infos;
}

function inferNode(node: NodeRecord, inputs: readonly (ValueInfo | null)[]): ValueInfo[] {
  const x = inputs[0] ?? { shape: null, elementType: 'unknown' as const };
  const same = (elementType = x.elementType): ValueInfo[] => [{ shape: x.shape, elementType }];
  const rank = x.shape?.length;
  const a = node.attributes;
  switch (node.opType) {
    case 'Identity':
    case 'Neg':
    case 'Abs':
    case 'Sqrt':
    case 'Reciprocal':
    case 'Exp':
    case 'Log':
    case 'Erf':
    case 'Tanh':
    case 'Sigmoid':
    case 'Cos':
    case 'Sin':
    case 'Softmax':
    case 'LogSoftmax':
    case 'LayerNormalization':
      return node.opType === 'Identity' && x.intValues ? [{ ...x }] : same();
    case 'Cast':
      return same(CAST_TYPES[attributeInt(a, 'to', 1)] ?? 'unknown');
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Pow':
    case 'Max':
    case 'Min':
      return [{ shape: broadcastShapes(...inputs.map((i) => i?.shape ?? null)), elementType: x.elementType }];
    case 'Greater':
    case 'Less':
    case 'Equal':
    case 'And':
    case 'Or':
      return [{ shape: broadcastShapes(...inputs.map((i) => i?.shape ?? null)), elementType: 'bool' }];
    case 'Not':
      return same('bool');
    case 'Where':
      return [{ shape: broadcastShapes(...inputs.map((i) => i?.shape ?? null)), elementType: inputs[1]?.elementType ?? 'unknown' }];
    case 'MatMul': {
      const b = inputs[1]!;
      if (!x.shape || !b.shape || x.shape.length < 2 || b.shape.length < 2) return [{ shape: null, elementType: x.elementType }];
      const batch = broadcastShapes(x.shape.slice(0, -2), b.shape.slice(0, -2))!;
      return [{ shape: [...batch, x.shape.at(-2)!, b.shape.at(-1)!], elementType: x.elementType }];
    }
    case 'Reshape': {
      const target = inputs[1]?.intValues;
      if (!target) return [{ shape: null, elementType: x.elementType }];
      return [{ shape: target.map((d, i) => (d === 0 ? (x.shape?.[i] ?? null) : d === -1 ? null : d)), elementType: x.elementType }];
    }
    case 'Flatten': {
      if (!x.shape) return same();
      const axis = normalizeAxis(attributeInt(a, 'axis', 1), x.shape.length);
      return [{ shape: [product(x.shape.slice(0, axis)), product(x.shape.slice(axis))], elementType: x.elementType }];
    }
    case 'Transpose': {
      if (!x.shape) return same();
      const perm = attributeInts(a, 'perm') ?? x.shape.map((_, i) => x.shape!.length - 1 - i);
      return [{ shape: perm.map((p) => x.shape![p]!), elementType: x.elementType }];
    }
    case 'Concat': {
      if (inputs.some((i) => !i?.shape)) return [{ shape: null, elementType: x.elementType }];
      const axis = normalizeAxis(attributeInt(a, 'axis', 0), rank!);
      const shape = [...x.shape!];
      shape[axis] = sumDims(inputs.map((i) => i!.shape![axis]!));
      const intValues = inputs.every((i) => i?.intValues) ? inputs.flatMap((i) => i!.intValues!) : undefined;
      return [{ shape, elementType: x.elementType, ...(intValues ? { intValues } : {}) }];
    }
    case 'Split': {
      const sizes = inputs[1]?.intValues;
      return node.outputs.map((_, i) => {
        if (!x.shape) return { shape: null, elementType: x.elementType };
        const shape = [...x.shape];
        shape[normalizeAxis(attributeInt(a, 'axis', 0), x.shape.length)] = sizes?.[i] ?? null;
        return { shape, elementType: x.elementType };
      });
    }
    case 'Slice': {
      if (!x.shape) return same();
      const shape = [...x.shape];
      const starts = inputs[1]?.intValues;
      const ends = inputs[2]?.intValues;
      const axes = inputs[3]?.intValues ?? starts?.map((_, i) => i);
      axes?.forEach((axisDim, i) => {
        const axis = normalizeAxis(axisDim as number, shape.length);
        const dim = shape[axis];
        const start = starts?.[i];
        const end = ends?.[i];
        shape[axis] =
          typeof dim === 'number' && typeof start === 'number' && typeof end === 'number'
            ? Math.max(0, clampIndex(end, dim) - clampIndex(start, dim))
            : null;
      });
      const intValues =
        x.intValues && starts && ends && starts.length === 1 && typeof starts[0] === 'number' && typeof ends[0] === 'number'
          ? x.intValues.slice(clampIndex(starts[0], x.intValues.length), clampIndex(ends[0], x.intValues.length))
          : undefined;
      return [{ shape, elementType: x.elementType, ...(intValues ? { intValues } : {}) }];
    }
    case 'Gather': {
      const indices = inputs[1]!;
      if (!x.shape || !indices.shape) return [{ shape: null, elementType: x.elementType }];
      const axis = normalizeAxis(attributeInt(a, 'axis', 0), x.shape.length);
      return [{ shape: [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], elementType: x.elementType }];
    }
    case 'Unsqueeze': {
      const axes = inputs[1]?.intValues;
      if (!x.shape || !axes) return [{ shape: null, elementType: x.elementType }];
      const outRank = x.shape.length + axes.length;
      const inserted = new Set(axes.map((d) => normalizeAxis(d as number, outRank)));
      const rest = [...x.shape];
      return [{ shape: Array.from({ length: outRank }, (_, i) => (inserted.has(i) ? 1 : rest.shift()!)), elementType: x.elementType }];
    }
    case 'Squeeze': {
      const axes = inputs[1]?.intValues;
      if (!x.shape) return same();
      const removed = new Set(axes ? axes.map((d) => normalizeAxis(d as number, x.shape!.length)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
      return [{ shape: x.shape.filter((_, i) => !removed.has(i)), elementType: x.elementType }];
    }
    case 'Expand': {
      const target = inputs[1]?.intValues ?? (inputs[1]?.shape?.[0] !== undefined && typeof inputs[1].shape[0] === 'number' ? Array(inputs[1].shape[0]).fill(null) : null);
      return [{ shape: target ? broadcastShapes(x.shape, target) : null, elementType: x.elementType }];
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax': {
      if (!x.shape) return same();
      const axes = node.opType === 'ReduceSum' ? inputs[1]?.intValues : attributeInts(a, 'axes');
      const reduced = new Set((axes ?? x.shape.map((_, i) => i)).map((d) => normalizeAxis(d as number, x.shape!.length)));
      const keep = attributeInt(a, 'keepdims', 1) === 1;
      return [{ shape: x.shape.flatMap((d, i) => (reduced.has(i) ? (keep ? [1] : []) : [d])), elementType: x.elementType }];
    }
    case 'Shape': {
      if (!x.shape) return [{ shape: [null], elementType: 'int64' }];
      const start = normalizeAxis(attributeInt(a, 'start', 0), x.shape.length);
      const end = normalizeAxis(attributeInt(a, 'end', x.shape.length), x.shape.length);
      const intValues = x.shape.slice(start, end);
      return [{ shape: [intValues.length], elementType: 'int64', intValues }];
    }
    case 'Size':
      return [{ shape: [], elementType: 'int64' }];
    case 'Range':
      return [{ shape: [null], elementType: x.elementType }];
    case 'ConstantOfShape':
      return [{ shape: x.intValues ?? null, elementType: 'float32' }];
    default:
      return node.outputs.map(() => ({ shape: null, elementType: 'unknown' as const }));
  }
}

function clampIndex(index: number, dim: number): number {
  return Math.min(Math.max(index < 0 ? index + dim : index, 0), dim);
}

function product(dims: readonly SymDim[]): SymDim {
  return dims.every((d) => typeof d === 'number') ? (dims as number[]).reduce((p, d) => p * d, 1) : null;
}

function sumDims(dims: readonly SymDim[]): SymDim {
  return dims.every((d) => typeof d === 'number') ? (dims as number[]).reduce((s, d) => s + d, 0) : null;
}

/** The shape of `name`, or a GraphError naming the value and what needed it. */
export function requireShape(infos: ReadonlyMap<string, ValueInfo>, name: string, who: string): readonly SymDim[] {
  const shape = infos.get(name)?.shape;
  if (!shape) throw new GraphError({ subject: `gradient of ${who}`, expected: `a known rank for ${name}`, found: 'unknown rank' });
  return shape;
}
