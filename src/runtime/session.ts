// A checked wrapper around one onnxruntime-node InferenceSession: feeds are compared with the
// graph's declared inputs (every missing or extra name at once, element type, rank, fixed dims)
// before running, and a failure inside onnxruntime is rethrown with a table of what was fed.
import * as ort from 'onnxruntime-node';
import { GraphError } from '../errors.js';
import type { GraphBuilder, GraphInput } from '../onnx/builder.js';

export type Feeds = Record<string, ort.Tensor>;

/** A graph as ONNX bytes, with what a session needs to check its feeds and report its size. */
export interface SerializedGraph {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly inputs: readonly GraphInput[];
  /** Bytes of the weights it holds. */
  readonly weightBytes: number;
}

/** Opens the weight graphs of a model by label, building each only when it has to (graph-cache.ts). */
export interface GraphOpener {
  open(label: string, build: () => GraphBuilder): Promise<GraphSession>;
}

export interface SessionSettings {
  /** Threads for one operator; defaults to the machine's cores as onnxruntime counts them. */
  readonly intraOpThreads?: number;
  /**
   * Keep onnxruntime's per-session memory arena (default off). Training turns it on: a handful of
   * sessions each run many times over activations of the same sizes, which the arena reuses instead
   * of mapping and faulting in fresh pages on every run.
   */
  readonly memoryArena?: boolean;
}

export class GraphSession {
  private constructor(
    readonly name: string,
    private readonly session: ort.InferenceSession,
    private readonly inputs: readonly GraphInput[],
    /** Bytes of weights the graph holds (for memory reports). */
    readonly weightBytes: number,
  ) {}

  /** Serialises `graph` and opens it; the protobuf bytes are dropped once onnxruntime has them. */
  static create(graph: GraphBuilder, settings: SessionSettings = {}): Promise<GraphSession> {
    return GraphSession.fromModel({ name: graph.graphName, bytes: graph.toModelBytes(), inputs: graph.inputList, weightBytes: graph.initializerBytes }, settings);
  }

  /** Opens a serialised model. */
  static fromModel(model: SerializedGraph, settings: SessionSettings = {}): Promise<GraphSession> {
    return GraphSession.open(model.bytes, model, settings);
  }

  /**
   * Opens a model file, e.g. one of the converted-model cache's: onnxruntime reads it itself and
   * maps the weights of its external data file into memory rather than copying them.
   */
  static fromFile(path: string, model: Omit<SerializedGraph, 'bytes'>, settings: SessionSettings = {}): Promise<GraphSession> {
    return GraphSession.open(path, model, settings);
  }

  private static async open(source: Uint8Array | string, model: Omit<SerializedGraph, 'bytes'>, settings: SessionSettings): Promise<GraphSession> {
    const options: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      // No per-session memory arena: each of a model's ~90 sessions would keep the peak of its own
      // activations for good (measured on the 7B with q4 weights: peak RSS 15.2 -> 9.3 GiB, and
      // prefill 85 -> 56 s with the memory pressure gone).
      enableCpuMemArena: settings.memoryArena ?? false,
      // Every session has its own thread pool; spinning workers of the session that just ran would
      // steal the cores from the next one (measured: decode 3x slower than with spinning off).
      extra: { session: { intra_op: { allow_spinning: '0' } } },
      ...(settings.intraOpThreads ? { intraOpNumThreads: settings.intraOpThreads } : {}),
    };
    let session: ort.InferenceSession;
    try {
      // Two calls, one per overload: create() takes a path or bytes, and TypeScript picks no overload for the union.
      session = typeof source === 'string' ? await ort.InferenceSession.create(source, options) : await ort.InferenceSession.create(source, options);
    } catch (cause) {
      throw new GraphError({
        subject: `graph ${model.name}`,
        expected: 'a model onnxruntime accepts',
        found: (cause as Error).message.split('\n')[0] ?? 'an error',
        cause,
      });
    }
    return new GraphSession(model.name, session, model.inputs, model.weightBytes);
  }

  /** The names the graph takes as inputs, in declaration order. */
  get inputNames(): string[] {
    return this.inputs.map((input) => input.name);
  }

  async run(feeds: Feeds): Promise<Record<string, ort.Tensor>> {
    this.check(feeds);
    try {
      return (await this.session.run(feeds)) as Record<string, ort.Tensor>;
    } catch (cause) {
      throw new GraphError({
        subject: `graph ${this.name}`,
        expected: 'a successful run',
        found: `${(cause as Error).message.split('\n')[0]}; fed ${feedTable(feeds)}`,
        cause,
      });
    }
  }

  release(): Promise<void> {
    return this.session.release();
  }

  private check(feeds: Feeds): void {
    const declared = new Map(this.inputs.map((input) => [input.name, input]));
    const missing = this.inputs.filter((input) => !(input.name in feeds)).map((input) => input.name);
    const extra = Object.keys(feeds).filter((name) => !declared.has(name));
    if (missing.length > 0 || extra.length > 0) {
      throw new GraphError({
        subject: `graph ${this.name} feeds`,
        expected: `inputs [${[...declared.keys()].join(', ')}]`,
        found: `missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`,
      });
    }
    for (const [name, tensor] of Object.entries(feeds)) {
      const input = declared.get(name)!;
      const fixedMismatch = input.shape.some((dim, i) => typeof dim === 'number' && tensor.dims[i] !== dim);
      if (tensor.type !== input.elementType || tensor.dims.length !== input.shape.length || fixedMismatch) {
        throw new GraphError({
          subject: `graph ${this.name} input ${name}`,
          expected: `${input.elementType} [${input.shape.join(', ')}]`,
          found: `${tensor.type} [${tensor.dims.join(', ')}]`,
        });
      }
    }
  }
}

function feedTable(feeds: Feeds): string {
  return Object.entries(feeds)
    .map(([name, tensor]) => `${name}: ${tensor.type} [${tensor.dims.join(', ')}]`)
    .join('; ');
}

export function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function int64Tensor(values: ArrayLike<number>): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(v))), [values.length]);
}
