// A scoped ONNX graph builder: typed inputs, outputs, initialisers and nodes, serialised to a
// ModelProto with onnx-proto. Model code never touches protobuf; it calls the typed ops in ops.ts.
// Nodes live in the default domain or in onnxruntime's com.microsoft contrib domain (quantised MatMuls).
import onnxProto from 'onnx-proto';
import { GraphError } from '../errors.js';

const { onnx } = onnxProto;

/** Element types the engine's graphs use, named as onnxruntime-node's tensors name them. */
export type ElementType = 'float32' | 'float64' | 'int64' | 'bool' | 'int8' | 'uint8';

/** The typed array that holds an initialiser of each element type (bool as one byte per value). */
export interface ElementArrays {
  float32: Float32Array;
  float64: Float64Array;
  int64: BigInt64Array;
  bool: Uint8Array;
  int8: Int8Array;
  uint8: Uint8Array;
}

const TENSOR_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** Operator domains: ONNX's own, and onnxruntime's contrib operators. */
export type OpDomain = '' | 'com.microsoft';
const CONTRIB_OPSET = 1;

/** A dimension: a fixed size, or a symbolic name such as 'T' (tokens) resolved at run time. */
export type Dim = number | string;

/** A tensor in the graph under construction. */
export interface Value {
  readonly name: string;
}

export type AttributeValue = number | readonly number[] | string | { readonly float: number };

/** A node as model code added it, readable back (the gradient builder walks these, src/onnx/grad/). */
export interface NodeRecord {
  readonly opType: string;
  readonly domain: OpDomain;
  readonly inputs: readonly string[]; // '' for an optional input left out
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/** A constant or initialiser's element type and shape, with its values when it is a small constant. */
export interface ConstantRecord {
  readonly elementType: ElementType;
  readonly shape: readonly number[];
  readonly values?: readonly number[];
}

export interface GraphInput extends Value {
  readonly elementType: ElementType;
  readonly shape: readonly Dim[];
}

/** ONNX opset the builder targets (LayerNormalization needs 17). */
export const OPSET = 17;
const IR_VERSION = 8;
/** Initialisers smaller than this stay inside the model (small constants), as onnxruntime's own saver keeps them. */
const EXTERNAL_DATA_MIN_BYTES = 1024;
/**
 * onnxruntime maps an external initialiser into memory when its offset is a multiple of the
 * allocation granularity (4 KiB on Linux and macOS, 64 KiB on Windows); 64 KiB serves all three.
 * Only weights of at least a MiB are worth the padding; smaller ones are read, 64-byte aligned.
 */
const EXTERNAL_DATA_MAP_ALIGNMENT = 65536;
const EXTERNAL_DATA_MAP_MIN_BYTES = 1 << 20;
const EXTERNAL_DATA_ALIGNMENT = 64;

export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly records: NodeRecord[] = [];
  private readonly constantRecords = new Map<string, ConstantRecord>();
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: GraphInput[] = [];
  private readonly outputs: GraphInput[] = [];
  private readonly constants = new Map<string, Value>();
  private readonly usedNames = new Set<string>();
  private readonly scopes: string[] = [];
  private counter = 0;
  private weightBytes = 0;
  private usesContrib = false;

  constructor(readonly graphName: string) {}

  /** Runs `body` with `name` appended to the scope, so node and value names read like module paths. */
  scope<T>(name: string | number, body: () => T): T {
    this.scopes.push(String(name));
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  input(name: string, elementType: ElementType, shape: readonly Dim[]): GraphInput {
    const value = { name: this.claim(name), elementType, shape };
    this.inputs.push(value);
    return value;
  }

  /** Declares `value` a graph output called `name` (an Identity node renames it). */
  output(value: Value, name: string, elementType: ElementType, shape: readonly Dim[]): void {
    const renamed = this.node('Identity', [value], {}, name);
    this.outputs.push({ name: renamed.name, elementType, shape });
  }

  /** A float32 weight, stored in the model as raw little-endian bytes under its checkpoint name. */
  weight(name: string, data: Float32Array, shape: readonly number[]): Value {
    return this.initializer(name, 'float32', data, shape);
  }

  /** A weight of any element type (quantised codes, their scales), stored as raw little-endian bytes. */
  initializer<E extends ElementType>(name: string, elementType: E, data: ElementArrays[E], shape: readonly number[]): Value {
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new GraphError({ subject: `initializer ${name}`, expected: `${count} values for shape [${shape.join(', ')}]`, found: `${data.length}` });
    }
    const tensor = onnx.TensorProto.create({
      name: this.claim(name),
      dims: [...shape],
      dataType: TENSOR_TYPE[elementType],
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    this.initializers.push(tensor);
    this.constantRecords.set(tensor.name, { elementType, shape: [...shape] });
    this.weightBytes += data.byteLength;
    return { name: tensor.name };
  }

  /** A small constant, deduplicated by value. */
  constFloat(values: number | readonly number[], shape?: readonly number[]): Value {
    const list = typeof values === 'number' ? [values] : values;
    return this.constant('float32', list, shape ?? (typeof values === 'number' ? [] : [list.length]));
  }

  constInt64(values: number | readonly number[], shape?: readonly number[]): Value {
    const list = typeof values === 'number' ? [values] : values;
    return this.constant('int64', list, shape ?? (typeof values === 'number' ? [] : [list.length]));
  }

  /** A uint8 constant (e.g. a quantisation zero point), deduplicated by value. */
  constUint8(value: number): Value {
    return this.constant('uint8', [value], []);
  }

  /** Adds one node with one output and returns that output. */
  node(opType: string, inputs: readonly (Value | null)[], attributes: Record<string, AttributeValue> = {}, outputName?: string): Value {
    return this.nodeMulti(opType, inputs, 1, attributes, outputName ? [outputName] : undefined)[0]!;
  }

  /** Adds one onnxruntime contrib (com.microsoft) node with one output and returns that output. */
  contribNode(opType: string, inputs: readonly (Value | null)[], attributes: Record<string, AttributeValue> = {}): Value {
    return this.nodeMulti(opType, inputs, 1, attributes, undefined, 'com.microsoft')[0]!;
  }

  /** Adds one node with `outputCount` outputs. A null input is ONNX's "optional input left out". */
  nodeMulti(
    opType: string,
    inputs: readonly (Value | null)[],
    outputCount: number,
    attributes: Record<string, AttributeValue> = {},
    outputNames?: readonly string[],
    domain: OpDomain = '',
  ): Value[] {
    if (domain === 'com.microsoft') this.usesContrib = true;
    const base = this.scoped(`${opType}_${this.counter++}`);
    const outputs = Array.from({ length: outputCount }, (_, i) => ({
      name: this.claim(outputNames?.[i] ?? (outputCount === 1 ? base : `${base}:${i}`)),
    }));
    this.records.push({ opType, domain, inputs: inputs.map((v) => v?.name ?? ''), outputs: outputs.map((v) => v.name), attributes: { ...attributes } });
    this.nodes.push(
      onnx.NodeProto.create({
        name: base,
        opType,
        domain,
        input: inputs.map((v) => v?.name ?? ''),
        output: outputs.map((v) => v.name),
        attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
      }),
    );
    return outputs;
  }

  /** Bytes of weights (every element type) held by this graph (for memory reports). */
  get initializerBytes(): number {
    return this.weightBytes;
  }

  /** Every node so far, in the order added (a topological order). */
  get nodeList(): readonly NodeRecord[] {
    return this.records;
  }

  /** The constant or initialiser called `name`, or undefined for any other value. */
  constantRecord(name: string): ConstantRecord | undefined {
    return this.constantRecords.get(name);
  }

  get inputList(): readonly GraphInput[] {
    return this.inputs;
  }

  get outputList(): readonly GraphInput[] {
    return this.outputs;
  }

  /**
   * The part of this graph that computes `outputs` from `inputs`, as a graph of its own (onnx.utils'
   * extract_model): the nodes on a path back from an output, stopping at the values named as inputs,
   * which may be any values of this graph (a stored activation fed back in), and the initialisers
   * those nodes read. Inputs no kept node reads are left out. Outputs keep their names. Throws when an output needs a value that is neither
   * produced, an initialiser, nor one of `inputs`.
   */
  extract(name: string, inputs: readonly GraphInput[], outputs: readonly GraphInput[]): GraphBuilder {
    const given = new Set(inputs.map((input) => input.name));
    const producers = new Map<string, number>();
    this.records.forEach((record, index) => record.outputs.forEach((output) => producers.set(output, index)));
    const initializerIndex = new Map(this.initializers.map((tensor, index) => [tensor.name, index]));
    const keptNodes = new Set<number>();
    const keptInitializers = new Set<number>();
    const pending = outputs.map((output) => output.name);
    const seen = new Set<string>();
    const reached = new Set<string>();
    while (pending.length > 0) {
      const value = pending.pop()!;
      if (given.has(value)) reached.add(value);
      if (value === '' || seen.has(value) || given.has(value)) continue;
      seen.add(value);
      const node = producers.get(value);
      if (node !== undefined) {
        keptNodes.add(node);
        pending.push(...this.records[node]!.inputs);
      } else if (initializerIndex.has(value)) {
        keptInitializers.add(initializerIndex.get(value)!);
      } else {
        throw new GraphError({ subject: `graph ${name}`, expected: `"${value}" produced, an initialiser or an input`, found: 'none of these' });
      }
    }
    const part = new GraphBuilder(name);
    for (const index of [...keptNodes].sort((a, b) => a - b)) {
      part.nodes.push(this.nodes[index]!);
      part.records.push(this.records[index]!);
      if (this.records[index]!.domain === 'com.microsoft') part.usesContrib = true;
    }
    for (const index of [...keptInitializers].sort((a, b) => a - b)) {
      const tensor = this.initializers[index]!;
      part.initializers.push(tensor);
      part.constantRecords.set(tensor.name, this.constantRecords.get(tensor.name)!);
      // Weights count towards the graph's size; small constants (which carry their values) do not, as in initializer().
      if (this.constantRecords.get(tensor.name)!.values === undefined) part.weightBytes += tensor.rawData?.byteLength ?? 0;
    }
    part.inputs.push(...inputs.filter((input) => reached.has(input.name)));
    part.outputs.push(...outputs);
    return part;
  }

  /** Serialises the graph to ONNX model bytes for onnxruntime. */
  toModelBytes(): Uint8Array {
    return this.encode(this.initializers);
  }

  /**
   * Serialises the graph with its weights outside the model, as ONNX's external data: every
   * initialiser of at least `EXTERNAL_DATA_MIN_BYTES` goes into one data file (called `location`,
   * beside the model file), the large ones at offsets onnxruntime maps into memory instead of
   * parsing and copying them. `data` lists the file's contents in
   * order (weights and the zero padding between them): write them one after another.
   */
  toModelWithExternalData(location: string): { model: Uint8Array; data: Uint8Array[]; dataBytes: number } {
    const data: Uint8Array[] = [];
    let offset = 0;
    const initializers = this.initializers.map((tensor) => {
      const raw = tensor.rawData;
      if (!raw || raw.byteLength < EXTERNAL_DATA_MIN_BYTES) return tensor;
      const alignment = raw.byteLength >= EXTERNAL_DATA_MAP_MIN_BYTES ? EXTERNAL_DATA_MAP_ALIGNMENT : EXTERNAL_DATA_ALIGNMENT;
      const padding = (alignment - (offset % alignment)) % alignment;
      if (padding > 0) data.push(new Uint8Array(padding));
      offset += padding;
      data.push(raw);
      const external = onnx.TensorProto.create({
        name: tensor.name,
        dims: tensor.dims,
        dataType: tensor.dataType,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(raw.byteLength) },
        ],
      });
      offset += raw.byteLength;
      return external;
    });
    return { model: this.encode(initializers), data, dataBytes: offset };
  }

  private encode(initializers: readonly InstanceType<typeof onnx.TensorProto>[]): Uint8Array {
    if (this.outputs.length === 0) {
      throw new GraphError({ subject: `graph ${this.graphName}`, expected: 'at least one output', found: 'none' });
    }
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'visdrop',
      opsetImport: [{ domain: '', version: OPSET }, ...(this.usesContrib ? [{ domain: 'com.microsoft', version: CONTRIB_OPSET }] : [])],
      graph: onnx.GraphProto.create({
        name: this.graphName,
        node: this.nodes,
        initializer: [...initializers],
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private constant(elementType: 'float32' | 'int64' | 'uint8', values: readonly number[], shape: readonly number[]): Value {
    const key = `${elementType}:${shape.join('x')}:${values.join(',')}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const raw =
      elementType === 'float32'
        ? new Uint8Array(Float32Array.from(values).buffer)
        : elementType === 'int64'
          ? new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer)
          : Uint8Array.from(values);
    const name = this.claim(`const_${this.constants.size}`);
    this.initializers.push(onnx.TensorProto.create({ name, dims: [...shape], dataType: TENSOR_TYPE[elementType], rawData: raw }));
    this.constantRecords.set(name, { elementType, shape: [...shape], values: [...values] });
    const value = { name };
    this.constants.set(key, value);
    return value;
  }

  private scoped(name: string): string {
    return this.scopes.length > 0 ? `${this.scopes.join('.')}/${name}` : name;
  }

  private claim(name: string): string {
    if (this.usedNames.has(name)) {
      throw new GraphError({ subject: `graph ${this.graphName}`, expected: 'unique value names', found: `"${name}" twice` });
    }
    this.usedNames.add(name);
    return name;
  }
}

function attribute(name: string, value: AttributeValue): InstanceType<typeof onnx.AttributeProto> {
  const Type = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') return onnx.AttributeProto.create({ name, type: Type.INT, i: value });
  if (typeof value === 'string') return onnx.AttributeProto.create({ name, type: Type.STRING, s: new TextEncoder().encode(value) });
  if ('float' in value) return onnx.AttributeProto.create({ name, type: Type.FLOAT, f: value.float });
  return onnx.AttributeProto.create({ name, type: Type.INTS, ints: [...value] });
}

function valueInfo(value: GraphInput): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name: value.name,
    type: {
      tensorType: {
        elemType: TENSOR_TYPE[value.elementType],
        shape: { dim: value.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}
