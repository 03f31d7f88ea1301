// The LLaVA runtime: one onnxruntime session per vision layer and per decoder layer part, run in
// any contiguous range, with hidden states handed back between ranges (token reduction happens
// there). It applies nothing on its own: callers decide which rows go on, which positions they
// carry, and which layers' attention probabilities to return.
// Legend: B images, S vision tokens, Dv vision hidden, T decoder tokens, D decoder hidden, V vocab.
import { GraphError } from '../errors.js';
import type { LlavaArch } from '../config/llava.js';
import { buildVisionEmbeddingsGraph, buildVisionLayerGraph } from '../models/clip/vision.js';
import { buildProjectorGraph } from '../models/llava/projector.js';
import {
  buildAttentionInputGraph,
  buildAttentionOutputGraph,
  buildLmHeadGraph,
  EMBED_WEIGHT,
  FINAL_NORM_WEIGHT,
} from '../models/llama/decoder.js';
import { buildCosineDistanceGraph } from '../models/similarity.js';
import {
  buildAttentionScoresGraph,
  buildCachedAttentionGraph,
  buildPrefillAttentionGraph,
  buildPrefillAttentionRowsGraph,
  queryBlocks,
} from '../models/llama/attention.js';
import type { WeightSource } from '../models/weights.js';
import { IMAGE_NEWLINE_WEIGHT } from '../models/llava/tensor-list.js';
import type { GraphBuilder } from '../onnx/builder.js';
import { linearPlan, type WeightFormatOptions } from '../quant/format.js';
import { smoothedDecoderWeights } from '../models/llama/smoothed-weights.js';
import { floatTensor, GraphSession, int64Tensor, type Feeds, type GraphOpener, type SessionSettings } from './session.js';
import { EmbeddingTable } from './embedding-table.js';
import type { KvCache, LayerKv } from './kv-cache.js';
import { attentionMask } from './mask.js';

export interface LoadProgress {
  readonly done: number;
  readonly total: number;
  readonly label: string;
}

export interface RuntimeOptions extends SessionSettings, WeightFormatOptions {
  onProgress?: (progress: LoadProgress) => void;
  /** Where weight graphs come from; default: built from the weights (a cache may supply them, graph-cache.ts). */
  graphs?: GraphOpener;
}

/** Hidden states of a vision range: [B, S, Dv] with S tokens per image. */
export interface VisionState {
  readonly hidden: Float32Array;
  readonly batch: number;
  readonly tokens: number;
}

/** Hidden states entering or leaving a decoder range, with the position id of each row. */
export interface DecoderState {
  readonly hidden: Float32Array; // [T, D]
  readonly positions: readonly number[]; // [T]
}

export interface DecoderRangeOptions {
  /** Per layer, query rows (indices into the new tokens) whose attention probabilities to return. */
  readonly attentionRows?: ReadonlyMap<number, readonly number[]>;
  /**
   * Where each layer's new tokens take their positions from. `given`: `state.positions`.
   * `continue-cache`: right after the last position that layer has cached (last + 1, last + 2, ...),
   * which keeps every layer consistent whatever a reduction did to it. `cache-length`: the layer's
   * cache length, as MustDrop's code does (inconsistent where a cache was shrunk after prefill).
   */
  readonly positions?: 'given' | 'continue-cache' | 'cache-length';
}

/** Parts of a decoder pass a profile tells apart (the runtime times each graph run and cache write). */
export type DecoderPart = 'attention-input' | 'attention' | 'attention-output' | 'cache-write' | 'scores' | 'lm-head';

/** Receives each part's wall time as it happens; `layer` is the decoder layer (the lm_head: numLayers). */
export type PartTimer = (part: DecoderPart, layer: number, ms: number) => void;

export interface DecoderRangeResult {
  readonly state: DecoderState;
  /** Per requested layer: [H, R, S] over the layer's keys, cached tokens first, spare slots excluded. */
  readonly attentions: Map<number, Float32Array>;
}

/** The attention graphs (models/llama/attention.ts), each opened once and shared by every layer. */
type AttentionGraph = 'prefill' | 'prefill-rows' | 'cached' | 'cached-rows';

/** A layer's attention context [T, H*Hd], and the asked rows' probabilities [H, R, keys] when asked. */
interface AttentionResult {
  readonly context: Feeds[string];
  readonly attention?: Float32Array;
}

interface DecoderLayerSessions {
  readonly attentionInput: GraphSession;
  readonly attentionOutput: GraphSession;
}

export class LlavaRuntime {
  private readonly attentionVariants = new Map<AttentionGraph, Promise<GraphSession>>();
  private scoresSession: Promise<GraphSession> | undefined;
  private cosineSession: Promise<GraphSession> | undefined;
  /** Set by a profiler (bench --profile) to time every decoder part; null costs nothing. */
  partTimer: PartTimer | null = null;

  private constructor(
    readonly arch: LlavaArch,
    private readonly settings: SessionSettings,
    private readonly visionEmbeddingsSession: GraphSession,
    private readonly visionLayerSessions: readonly GraphSession[],
    private readonly projectorSession: GraphSession,
    private readonly decoderLayerSessions: readonly DecoderLayerSessions[],
    private readonly lmHeadSession: GraphSession,
    /** embed_tokens [V, D], looked up in JS: a gather needs no graph. */
    private readonly embedTable: EmbeddingTable,
    /** LLaVA-NeXT's row-end vector [D], spliced in by the feature packing; null for LLaVA-1.5. */
    readonly imageNewline: Float32Array | null,
    /** The final RMSNorm's weight [D] as the checkpoint holds it (strategies compare states after it). */
    readonly finalNormWeight: Float32Array,
  ) {}

  /** Builds and opens every graph, one at a time so only one layer's weights are in flight. */
  static async create(arch: LlavaArch, checkpointWeights: WeightSource, options: RuntimeOptions = {}): Promise<LlavaRuntime> {
    const { vision: v, text: t } = arch;
    const plan = linearPlan(options);
    // int8 activations: fold the decoder norms' outlier channels into the weights first (quant/smooth.ts).
    const weights = plan.decoder.kind === 'int8' ? smoothedDecoderWeights(t, checkpointWeights) : checkpointWeights;
    const total = 1 + v.numLayers + 1 + 2 * t.numLayers + 2;
    let done = 0;
    const graphs: GraphOpener = options.graphs ?? { open: (_label, build) => GraphSession.create(build(), options) };
    const open = async (label: string, build: () => GraphBuilder): Promise<GraphSession> => {
      const session = await graphs.open(label, build);
      options.onProgress?.({ done: ++done, total, label });
      return session;
    };

    const visionEmbeddings = await open('vision embeddings', () => buildVisionEmbeddingsGraph(v, weights));
    const visionLayers: GraphSession[] = [];
    // Every CLIP layer is built, the ones past the feature layer too: strategies may rank tokens by
    // the last layer's attention (MustDrop's key set). Each can return attention rows on request; fed
    // no rows, that output costs nothing.
    for (let i = 0; i < v.numLayers; i++) {
      visionLayers.push(await open(`vision layer ${i}`, () => buildVisionLayerGraph(v, weights, i, plan.vision)));
    }
    const projector = await open('projector', () => buildProjectorGraph(arch, weights, plan.vision));
    const decoderLayers: DecoderLayerSessions[] = [];
    for (let i = 0; i < t.numLayers; i++) {
      decoderLayers.push({
        attentionInput: await open(`decoder layer ${i} attention`, () => buildAttentionInputGraph(t, weights, i, plan.decoder)),
        attentionOutput: await open(`decoder layer ${i} mlp`, () => buildAttentionOutputGraph(t, weights, i, plan.decoder)),
      });
    }
    const lmHead = await open('lm_head', () => buildLmHeadGraph(t, weights, plan.lmHead));
    // Smoothing (int8) leaves the embedding table alone: read it as the checkpoint stores it.
    const embedTable = EmbeddingTable.read(checkpointWeights, EMBED_WEIGHT, t.vocabSize, t.hiddenSize);
    const imageNewline = arch.anyres ? weights.float32(IMAGE_NEWLINE_WEIGHT, [t.hiddenSize]) : null;
    const finalNormWeight = checkpointWeights.float32(FINAL_NORM_WEIGHT, [t.hiddenSize]);
    options.onProgress?.({ done: ++done, total, label: 'embeddings' });
    const runtime = new LlavaRuntime(arch, options, visionEmbeddings, visionLayers, projector, decoderLayers, lmHead, embedTable, imageNewline, finalNormWeight);
    // The two attention graphs every generation uses are opened now, not inside the first prefill.
    await Promise.all([runtime.attentionSession('prefill'), runtime.attentionSession('cached')]);
    return runtime;
  }

  /** Every session that holds weights. */
  private get weightSessions(): GraphSession[] {
    return [
      this.visionEmbeddingsSession,
      ...this.visionLayerSessions,
      this.projectorSession,
      ...this.decoderLayerSessions.flatMap((s) => [s.attentionInput, s.attentionOutput]),
      this.lmHeadSession,
    ];
  }

  /** Bytes of weights one decode step reads: every decoder layer's and lm_head's, in their stored format. */
  get decodeWeightBytes(): number {
    const decoder = this.decoderLayerSessions.flatMap((s) => [s.attentionInput, s.attentionOutput]);
    return [...decoder, this.lmHeadSession].reduce((sum, s) => sum + s.weightBytes, 0);
  }

  /** Bytes of weights held by all sessions plus the JS embedding table. */
  get weightBytes(): number {
    return this.weightSessions.reduce((sum, s) => sum + s.weightBytes, 0) + this.embedTable.byteLength + (this.imageNewline?.byteLength ?? 0);
  }

  /** pixel_values [B,3,Img,Img] -> the vision tower's hidden_states[0], [B, S, Dv]. */
  async visionEmbeddings(pixelValues: Float32Array, batch: number): Promise<VisionState> {
    const size = this.arch.vision.imageSize;
    const out = await this.visionEmbeddingsSession.run({ pixel_values: floatTensor(pixelValues, [batch, 3, size, size]) });
    return { hidden: out.hidden_out!.data as Float32Array, batch, tokens: this.arch.vision.numPatches + 1 };
  }

  /**
   * Runs vision layers [from, to), any of the tower's layers. `attentionRows` maps a layer to the
   * query rows whose attention probabilities ([B, H, R, S]) to return; `keyMeanLayers` names layers
   * whose head-mean keys ([B, S, Hd]) to return.
   */
  async visionLayers(
    from: number,
    to: number,
    state: VisionState,
    attentionRows: ReadonlyMap<number, readonly number[]> = new Map(),
    keyMeanLayers: readonly number[] = [],
  ): Promise<{ state: VisionState; attentions: Map<number, Float32Array>; keyMeans: Map<number, Float32Array> }> {
    this.checkRange('vision', from, to, this.arch.vision.numLayers);
    const attentions = new Map<number, Float32Array>();
    const keyMeans = new Map<number, Float32Array>();
    let hidden = state.hidden;
    const dims = [state.batch, state.tokens, this.arch.vision.hiddenSize];
    for (let layer = from; layer < to; layer++) {
      const rows = attentionRows.get(layer);
      const out = await this.visionLayerSessions[layer]!.run({ hidden: floatTensor(hidden, dims), attention_rows: int64Tensor(rows ?? []) });
      if (rows) attentions.set(layer, out.attentions!.data as Float32Array);
      if (keyMeanLayers.includes(layer)) keyMeans.set(layer, out.key_mean!.data as Float32Array);
      hidden = out.hidden_out!.data as Float32Array;
    }
    return { state: { ...state, hidden }, attentions, keyMeans };
  }

  /** features [B, P, Dv] -> image embeddings [B, P, D]. */
  async project(features: Float32Array, batch: number, tokens: number): Promise<Float32Array> {
    const out = await this.projectorSession.run({ features: floatTensor(features, [batch, tokens, this.arch.vision.hiddenSize]) });
    return out.embeddings!.data as Float32Array;
  }

  /** Rows of embed_tokens for `ids`: [T, D]. */
  embedTokens(ids: readonly number[]): Float32Array {
    return this.embedTable.rows(ids);
  }

  /**
   * Runs decoder layers [from, to) on `state`'s new tokens, appending their keys and values to each
   * layer's cache; the new tokens attend to everything the layer has cached and causally to each other.
   */
  async decoderLayers(from: number, to: number, state: DecoderState, cache: KvCache, options: DecoderRangeOptions = {}): Promise<DecoderRangeResult> {
    const t = this.arch.text;
    this.checkRange('decoder', from, to, t.numLayers);
    const T = state.positions.length;
    const attentions = new Map<number, Float32Array>();
    let hidden = state.hidden;
    for (let layer = from; layer < to; layer++) {
      const sessions = this.decoderLayerSessions[layer]!;
      const kv = cache.layer(layer);
      const positions = newTokenPositions(options.positions ?? 'given', state.positions, kv);
      const projected = await this.timed('attention-input', layer, () =>
        sessions.attentionInput.run({ hidden: floatTensor(hidden, [T, t.hiddenSize]), position_ids: int64Tensor(positions) }),
      );
      const keyT = projected.key_t!.data as Float32Array;
      const value = projected.value!.data as Float32Array;
      const rows = options.attentionRows?.get(layer);
      const { context, attention } = await this.timed('attention', layer, () =>
        kv.length > 0 ? this.cachedAttention(projected, kv, T, rows) : this.prefillAttention(projected, T, rows),
      );
      if (rows) attentions.set(layer, attention!);
      await this.timed('cache-write', layer, () => kv.append(keyT, value, positions));
      const next = await this.timed('attention-output', layer, () =>
        sessions.attentionOutput.run({ context, hidden: floatTensor(hidden, [T, t.hiddenSize]) }),
      );
      hidden = next.hidden_out!.data as Float32Array;
    }
    return { state: { hidden, positions: state.positions }, attentions };
  }

  /**
   * Attention probabilities [H, R, T] of the query `rows` over all T tokens of `state`, as decoder
   * layer `layer` would compute them (its input RMSNorm, q/k projections, rotary embeddings at the
   * state's positions, causal mask), without running the layer or touching any cache.
   */
  async attentionScores(layer: number, state: DecoderState, rows: readonly number[]): Promise<Float32Array> {
    const t = this.arch.text;
    this.checkRange('decoder', layer, layer + 1, t.numLayers);
    const T = state.positions.length;
    const projected = await this.timed('scores', layer, () =>
      this.decoderLayerSessions[layer]!.attentionInput.run({
        hidden: floatTensor(state.hidden, [T, t.hiddenSize]),
        position_ids: int64Tensor(state.positions),
      }),
    );
    const query = projected.query!.data as Float32Array; // [Hk, G*T, Hd]
    const G = t.numHeads / t.numKvHeads;
    const R = rows.length;
    const queryRows = new Float32Array(t.numKvHeads * G * R * t.headDim);
    for (let kv = 0; kv < t.numKvHeads; kv++) {
      for (let j = 0; j < G; j++) {
        rows.forEach((row, r) => {
          const from = ((kv * G + j) * T + row) * t.headDim;
          queryRows.set(query.subarray(from, from + t.headDim), ((kv * G + j) * R + r) * t.headDim);
        });
      }
    }
    const mask = new Float32Array(R * T);
    rows.forEach((row, r) => mask.fill(-Infinity, r * T + row + 1, (r + 1) * T));
    this.scoresSession ??= GraphSession.create(buildAttentionScoresGraph(t), this.settings);
    const session = await this.scoresSession;
    const out = await this.timed('scores', layer, () =>
      session.run({
        query_rows: floatTensor(queryRows, [t.numKvHeads, G * R, t.headDim]),
        key_t: projected.key_t!,
        mask: floatTensor(mask, [R, T]),
      }),
    );
    return out.attentions!.data as Float32Array;
  }

  /** 1 - cosine similarity [R, R] between the rows of `vectors` [R, D] (models/similarity.ts). */
  async cosineDistances(vectors: Float32Array, rows: number): Promise<Float32Array> {
    this.cosineSession ??= GraphSession.create(buildCosineDistanceGraph(), this.settings);
    const session = await this.cosineSession;
    const out = await this.timed('scores', 0, () => session.run({ vectors: floatTensor(vectors, [rows, vectors.length / rows]) }));
    return out.distances!.data as Float32Array;
  }

  /** hidden rows [R, D] -> logits [R, V]. */
  async logits(hidden: Float32Array, rows: number): Promise<Float32Array> {
    const out = await this.timed('lm-head', this.arch.text.numLayers, () =>
      this.lmHeadSession.run({ hidden: floatTensor(hidden, [rows, this.arch.text.hiddenSize]) }),
    );
    return out.logits!.data as Float32Array;
  }

  async release(): Promise<void> {
    const sessions = [
      ...this.weightSessions,
      ...(await Promise.all(this.attentionVariants.values())),
      ...(this.scoresSession ? [await this.scoresSession] : []),
      ...(this.cosineSession ? [await this.cosineSession] : []),
    ];
    await Promise.all(sessions.map((s) => s.release()));
  }

  /** Runs `body`, handing its wall time to the part timer when one is set. */
  private async timed<R>(part: DecoderPart, layer: number, body: () => Promise<R> | R): Promise<R> {
    if (!this.partTimer) return body();
    const start = performance.now();
    const result = await body();
    this.partTimer(part, layer, performance.now() - start);
    return result;
  }

  /**
   * A prefill's attention: query rows in blocks of PREFILL_QUERY_BLOCK, each over the keys up to its
   * last row; and the probabilities of `rows` over all T keys when asked for.
   */
  private async prefillAttention(projected: Feeds, T: number, rows: readonly number[] | undefined): Promise<AttentionResult> {
    const { numHeads: H, headDim: Hd } = this.arch.text;
    const session = await this.attentionSession('prefill');
    const inputs = { query: projected.query!, key_t: projected.key_t!, value: projected.value! };
    const block = async ([start, end]: [number, number]) => (await session.run({ ...inputs, block: int64Tensor([start, end]) })).context!;
    const blocks = queryBlocks(T);
    let context: Feeds[string];
    if (blocks.length === 1) {
      context = await block(blocks[0]!);
    } else {
      const joined = new Float32Array(T * H * Hd); // [T, H*Hd]
      for (const range of blocks) joined.set((await block(range)).data as Float32Array, range[0] * H * Hd);
      context = floatTensor(joined, [T, H * Hd]);
    }
    if (!rows) return { context };
    const rowsSession = await this.attentionSession('prefill-rows');
    const out = await rowsSession.run({ query: inputs.query, key_t: inputs.key_t, attention_rows: int64Tensor(rows) });
    return { context, attention: out.attentions!.data as Float32Array };
  }

  /** New tokens after the layer's cached ones: the mask hides the spare slots and is causal among the new. */
  private async cachedAttention(projected: Feeds, kv: LayerKv, T: number, rows: readonly number[] | undefined): Promise<AttentionResult> {
    const t = this.arch.text;
    const { keysT, values } = kv.buffers();
    const C = kv.capacity;
    const session = await this.attentionSession(rows ? 'cached-rows' : 'cached');
    const out = await session.run({
      query: projected.query!,
      key_t: projected.key_t!,
      value: projected.value!,
      mask: floatTensor(attentionMask(T, C, kv.length), [T, C + T]),
      past_key_t: floatTensor(keysT, [t.numKvHeads, t.headDim, C]),
      past_value: floatTensor(values, [t.numKvHeads, C, t.headDim]),
      ...(rows ? { attention_rows: int64Tensor(rows) } : {}),
    });
    if (!rows) return { context: out.context! };
    return { context: out.context!, attention: withoutSpareSlots(out.attentions!.data as Float32Array, rows.length * t.numHeads, C, kv.length, T) };
  }

  private attentionSession(graph: AttentionGraph): Promise<GraphSession> {
    let session = this.attentionVariants.get(graph);
    if (!session) {
      const t = this.arch.text;
      const builders: Record<AttentionGraph, () => GraphBuilder> = {
        prefill: () => buildPrefillAttentionGraph(t),
        'prefill-rows': () => buildPrefillAttentionRowsGraph(t),
        cached: () => buildCachedAttentionGraph(t, false),
        'cached-rows': () => buildCachedAttentionGraph(t, true),
      };
      session = GraphSession.create(builders[graph](), this.settings);
      this.attentionVariants.set(graph, session);
    }
    return session;
  }

  private checkRange(kind: string, from: number, to: number, count: number): void {
    if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= count)) {
      throw new GraphError({ subject: `${kind} layer range`, expected: `0 <= from <= to <= ${count}`, found: `[${from}, ${to})` });
    }
  }
}

function newTokenPositions(mode: 'given' | 'continue-cache' | 'cache-length', given: readonly number[], kv: LayerKv): readonly number[] {
  if (mode === 'given') return given;
  const first = mode === 'cache-length' ? kv.length : (kv.positions.at(-1) ?? -1) + 1;
  return given.map((_, i) => first + i);
}

/** [rows, C + T] probabilities -> [rows, length + T]: drops the masked spare cache slots. */
function withoutSpareSlots(probs: Float32Array, rows: number, capacity: number, length: number, T: number): Float32Array {
  if (capacity === length) return probs;
  const width = capacity + T;
  const out = new Float32Array(rows * (length + T));
  for (let r = 0; r < rows; r++) {
    out.set(probs.subarray(r * width, r * width + length), r * (length + T));
    out.set(probs.subarray(r * width + capacity, (r + 1) * width), r * (length + T) + length);
  }
  return out;
}
