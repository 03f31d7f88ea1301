// The training runtime: one micro-batch in, the mean next-token cross-entropy and the gradient of
// every trainable parameter out. The trainer (src/train/) owns the parameters and updates them in
// place between steps; every training graph takes its weights as graph INPUTS, so an update needs
// no new session (the same Float32Array is wrapped as an onnxruntime tensor each run, no copy).
//
// Passes, per micro-batch (B rows of T tokens, right padding):
// - vision (rows with an image): patch embedding + CLIP layers up to the feature layer, projector;
// - merge: token embeddings looked up in JS, image features spliced over the image-token rows;
// - decoder layers (plain MatMul/Softmax attention, causal + padding mask), each layer's input kept;
//   after layer l a boundary hook may return a keep plan, applied here (PyramidDrop training, §2.5);
// - loss: final RMSNorm, lm_head and cross-entropy over the labelled positions only;
// - backward: per layer, a graph that recomputes the layer's forward from its stored input and
//   emits the vector-Jacobian products (activation checkpointing per layer, the default), or that
//   starts from the intermediate values the layer's forward stored (`activations: 'store'`);
//   frozen parts get no weight-gradient outputs, and nothing below the lowest trainable part is run.
// Legend: B rows, T padded tokens, D decoder hidden, N image tokens per image, H heads, R query rows.
import type { LlavaArch } from '../config/llava.js';
import { CheckpointError, GraphError, PromptError } from '../errors.js';
import { visionEmbeddingsBody, visionLayerBody, VISION_EMBEDDING_WEIGHTS, VISION_LAYER_WEIGHTS } from '../models/clip/vision-training.js';
import { VISION_PREFIX } from '../models/clip/vision.js';
import { buildTrainingScoresGraph, DECODER_LAYER_WEIGHTS, decoderLayerBody, lossBody } from '../models/llama/decoder-training.js';
import { DECODER_PREFIX, EMBED_WEIGHT, LM_HEAD_WEIGHT } from '../models/llama/decoder.js';
import { projectorBody, projectorWeightNames } from '../models/llava/projector-training.js';
import { PROJECTOR_PREFIX } from '../models/llava/projector.js';
import { llavaTensorList } from '../models/llava/tensor-list.js';
import { buildStoredTrainingPair, buildTrainingBackward, buildTrainingForward, gradName, type BackwardOptions, type StoredTrainingPair, type TrainingBodyBuilder } from '../models/training-graph.js';
import type { GraphBuilder } from '../onnx/builder.js';
import { checkImagePlan, type KeepPlan } from './image-tokens.js';
import { floatTensor, GraphSession, int64Tensor, type Feeds, type SessionSettings } from './session.js';
import * as ort from 'onnxruntime-node';

/** One parameter the trainer owns, by its llava-hf name, in PyTorch's layout (Linear weights [out, in]). */
export interface ParameterTensor {
  readonly shape: readonly number[];
  /** Updated in place by the trainer between steps; read by the graphs as an input. */
  readonly data: Float32Array;
}

/** Every float32 weight of the model by llava-hf tensor name (the names `llavaTensorList` lists). */
export type ParameterMap = ReadonlyMap<string, ParameterTensor>;

/** Which parts train; a frozen part gets no weight gradients (its backward emits none, or is not run). */
export interface TrainableParts {
  /** The CLIP tower (patch/class/position embeddings, pre-layernorm, encoder layers). */
  readonly vision: boolean;
  /** multi_modal_projector. */
  readonly projector: boolean;
  /** The LLaMA decoder: embed_tokens, layers, final norm, lm_head. */
  readonly llm: boolean;
}

/**
 * B rows of equal padded length T (LLaVA-1.5 only, no anyres).
 * - `inputIds` [B*T]: the image marker ALREADY EXPANDED: a row with an image holds the image token id
 *   (`arch.imageTokenId`) exactly `arch.imageTokensPerImage` times, contiguously, where the image goes.
 *   Padding ids are any valid id (they are masked).
 * - `labels` [B*T]: -100 = ignored, NOT shifted: labels[t] is the target for the logits at position
 *   t - 1, as Hugging Face's `labels` (the shift happens inside the loss). Image tokens carry -100.
 * - `attentionMask` [B*T]: 1 = real token, 0 = padding; right padding (ones then zeros in each row).
 * - `pixelValues` [I, 3, S, S] for the I rows with an image, in row order; `hasImage[b]` says which.
 */
export interface TrainingBatch {
  readonly batch: number;
  readonly length: number;
  readonly inputIds: Int32Array;
  readonly labels: Int32Array;
  readonly attentionMask: Uint8Array;
  readonly pixelValues: Float32Array;
  readonly hasImage: readonly boolean[];
}

/** One row of the micro-batch as it stands at a decoder boundary. */
export interface BoundaryRow {
  /** Real (unpadded) tokens in this row now. */
  readonly length: number;
  /** Position id of each real token (renumbered 0..length-1 after a drop, as PyramidDrop does). */
  readonly positions: readonly number[];
  /** Labels of the real tokens now, unshifted as in TrainingBatch (compacted with the tokens). */
  readonly labels: Int32Array;
  /** Index of the first image token in the row now; -1 when the row has no image. */
  readonly imageStart: number;
  /** For each image token now present, in order, its index among the N image tokens of the input. */
  readonly imageTokens: readonly number[];
}

/** What a boundary hook sees after `layer` decoder layers. All values are detached copies. */
export interface TrainingBoundary {
  /** Decoder layers run so far: the boundary lies between layer `layer - 1` and layer `layer`. */
  readonly layer: number;
  /** Image tokens per image at the input (the N kept counts are computed from). */
  readonly originalImageTokens: number;
  /** Current padded length T and hidden states [B, T, D] (padding rows included). */
  readonly length: number;
  readonly hidden: Float32Array;
  readonly rows: readonly BoundaryRow[];
  /**
   * Attention probabilities [H, R, length] of query positions `queries` (indices into the row's real
   * tokens) over the row's real tokens, causally masked, as decoder layer `layer` (the NEXT layer)
   * would compute them: its input RMSNorm, q/k projections, rotary embeddings at the row's
   * positions, softmax over keys. What PyramidDrop training ranks with; no gradient flows through it.
   */
  nextLayerAttention(row: number, queries: readonly number[]): Promise<Float32Array>;
}

/**
 * Called after decoder layer `layer - 1`'s forward; returns per row the image tokens to keep
 * (indices into the row's CURRENT image span, ascending; null or a row without an image: keep all),
 * or undefined to keep everything. The runtime drops the other image rows from the hidden states,
 * labels, mask and positions (renumbered 0..len-1), re-pads the batch to the longest row, and in
 * backward scatters the gradient back (dropped rows get zero).
 */
export type BoundaryHook = (boundary: TrainingBoundary) => Promise<readonly (KeepPlan | null)[] | undefined>;

export interface LossOptions {
  readonly trainable: TrainableParts;
  readonly boundary?: BoundaryHook;
}

export interface LossAndGradients {
  /** Mean cross-entropy over the micro-batch's non-ignored (shifted) labels, as HF's CrossEntropyLoss(ignore_index=-100). */
  readonly loss: number;
  /** Non-ignored labels counted in the mean. */
  readonly tokens: number;
  /**
   * Gradients of `loss` (the MEAN) for every parameter of a trainable part, by name, shaped as the
   * parameter. Frozen parts' parameters are absent. A tied lm_head adds into embed_tokens.
   */
  readonly grads: Map<string, Float32Array>;
}


export interface TrainingRuntimeOptions extends SessionSettings {
  /**
   * What the backward of a vision layer, the projector and a decoder layer starts from: the layer's
   * input alone, its forward run again inside the backward ('recompute', the default: LLaVA's
   * --gradient_checkpointing), or the intermediate values its forward stored ('store': PyTorch's
   * way). Storing saves the recomputed forward's FLOPs but moves every stored value out of one
   * session and into the next: it pays on wide layers (a 7B-shaped forward + backward 10% faster) and costs on
   * narrow ones (visdrop-tiny's fine-tuning step 1.36x slower); README, "Gradients and the training runtime".
   */
  readonly activations?: 'store' | 'recompute';
}

/** Layer kinds whose forward can store what their backward reads. */
type StoringKind = 'vision-layer' | 'projector' | 'decoder-layer';
/** The storing forward and the stored backward, each for a trained part and a frozen one. */
type StoredDirection = 'forward-storing' | 'forward-storing-frozen' | 'backward-stored' | 'backward-stored-frozen';

/** A graph kind, each opened once (weights are inputs, so every layer of a kind shares it). */
type GraphKey =
  | `${'vision-embeddings' | StoringKind}:${'forward' | 'backward' | 'backward-frozen'}`
  | `${StoringKind}:${StoredDirection}`
  | 'loss:forward'
  | 'loss:backward'
  | 'loss:backward-frozen'
  | 'scores';

/** The decoder's micro-batch as it stands between two layers. */
interface DecoderBatch {
  readonly batch: number;
  readonly length: number;
  readonly hidden: Float32Array; // [B, T, D]
  readonly rows: BoundaryRow[];
  /** int64 position ids [B, T] and the bool padding mask [B, T], as fed to the layer graphs. */
  readonly positions: ort.Tensor;
  readonly mask: ort.Tensor;
}

/** A drop applied before decoder layer `layer`: row i of the new batch came from flat row `from[i]` of the old (-1: padding). */
interface Compaction {
  readonly layer: number;
  readonly from: Int32Array;
  readonly oldRows: number;
}

const IGNORE = -100;

/** A layer's forward outputs: the layer's own, plus (stored activations) what its backward reads. */
type LayerRun = Record<string, ort.Tensor>;

export class TrainingRuntime {
  private readonly sessions = new Map<GraphKey, Promise<GraphSession>>();
  private readonly storedPairs = new Map<string, StoredTrainingPair>();

  private constructor(
    readonly arch: LlavaArch,
    readonly parameters: ParameterMap,
    private readonly settings: TrainingRuntimeOptions,
  ) {}

  /** Checks `parameters` against the names and shapes `arch` needs; sessions open on first use. */
  static async create(arch: LlavaArch, parameters: ParameterMap, options: TrainingRuntimeOptions = {}): Promise<TrainingRuntime> {
    if (arch.anyres) {
      throw new GraphError({ subject: 'training model', expected: 'LLaVA-1.5 (no anyres)', found: arch.modelType });
    }
    for (const spec of llavaTensorList(arch)) {
      const tensor = parameters.get(spec.name);
      const count = spec.shape.reduce((a, b) => a * b, 1);
      if (!tensor || tensor.data.length !== count || tensor.shape.join(',') !== spec.shape.join(',')) {
        throw new CheckpointError({
          subject: `training parameter ${spec.name}`,
          expected: `float32 [${spec.shape.join(', ')}]`,
          found: tensor ? `[${tensor.shape.join(', ')}] with ${tensor.data.length} values` : 'nothing',
        });
      }
    }
    return new TrainingRuntime(arch, parameters, options);
  }

  /** Loss and gradients of one micro-batch (see LossAndGradients). */
  async lossAndGradients(batch: TrainingBatch, options: LossOptions): Promise<LossAndGradients> {
    const { trainable } = options;
    const { text: t, vision: v } = this.arch;
    this.checkBatch(batch);
    const grads = new Map<string, Float32Array>();
    const images = batch.hasImage.filter(Boolean).length;

    // Vision tower and projector, keeping each layer's input for the backward.
    const anyTrainable = trainable.vision || trainable.projector || trainable.llm;
    const visionInputs: Float32Array[] = [];
    const visionRuns: LayerRun[] = [];
    let features: Float32Array | null = null; // [I, N, Dv]
    let projectorRun: LayerRun | null = null;
    let imageEmbeddings: Float32Array | null = null; // [I, N, Dt]
    if (images > 0) {
      let hidden = (await this.run('vision-embeddings:forward', { pixel_values: floatTensor(batch.pixelValues, [images, 3, v.imageSize, v.imageSize]), ...this.visionEmbeddingFeeds() })).hidden_out!.data as Float32Array;
      for (let layer = 0; layer < this.arch.visionLayersUsed; layer++) {
        visionInputs.push(hidden);
        const run = await this.forwardLayer('vision-layer', { hidden: floatTensor(hidden, [images, v.numPatches + 1, v.hiddenSize]), ...this.visionLayerFeeds(layer) }, trainable.vision ? 'trained' : 'none');
        visionRuns.push(run);
        hidden = run.hidden_out!.data as Float32Array;
      }
      features = this.selectFeatures(hidden, images);
      const projectorBackward = trainable.projector ? 'trained' : trainable.vision ? 'frozen' : 'none';
      projectorRun = await this.forwardLayer('projector', { features: this.featureTensor(features, images, v.hiddenSize), ...this.projectorFeeds() }, projectorBackward);
      imageEmbeddings = projectorRun.embeddings!.data as Float32Array;
    }

    // Decoder, keeping each layer's input; boundary drops recorded for the backward.
    let state = this.embed(batch, imageEmbeddings);
    const layerInputs: DecoderBatch[] = [];
    const layerRuns: (LayerRun | null)[] = [];
    const compactions: Compaction[] = [];
    const decoderBackward = trainable.llm ? 'trained' : anyTrainable ? 'frozen' : 'none';
    for (let layer = 0; layer < t.numLayers; layer++) {
      layerInputs.push(state);
      const out = await this.forwardLayer('decoder-layer', this.decoderFeeds(state, layer), decoderBackward);
      layerRuns.push(out);
      state = { ...state, hidden: out.hidden_out!.data as Float32Array };
      if (options.boundary && layer + 1 < t.numLayers) {
        const plans = await options.boundary(this.boundaryView(state, layer + 1));
        if (plans) {
          const { next, from } = this.compact(state, plans, layer + 1);
          compactions.push({ layer: layer + 1, from, oldRows: state.batch * state.length });
          state = next;
        }
      }
    }

    // Loss over the rows whose next token is labelled.
    const { rows: lossRows, targets } = labelledRows(state);
    if (lossRows.length === 0) return { loss: 0, tokens: 0, grads };
    const lossFeeds: Feeds = {
      hidden: floatTensor(gatherRows(state.hidden, t.hiddenSize, lossRows), [lossRows.length, t.hiddenSize]),
      targets: int64Tensor(targets),
      scale: floatTensor(Float32Array.of(1 / lossRows.length), []),
      'norm.weight': this.parameter(`${DECODER_PREFIX}.norm.weight`),
      'lm_head.weight': this.parameter(t.tieWordEmbeddings ? EMBED_WEIGHT : LM_HEAD_WEIGHT),
    };
    if (!anyTrainable) {
      const out = await this.run('loss:forward', lossFeeds);
      return { loss: (out.loss!.data as Float32Array)[0]!, tokens: lossRows.length, grads };
    }
    const lossOut = await this.run(trainable.llm ? 'loss:backward' : 'loss:backward-frozen', lossFeeds);
    const loss = (lossOut.loss!.data as Float32Array)[0]!;
    if (trainable.llm) {
      grads.set(`${DECODER_PREFIX}.norm.weight`, lossOut[gradName('norm.weight')]!.data as Float32Array);
      grads.set(t.tieWordEmbeddings ? EMBED_WEIGHT : LM_HEAD_WEIGHT, lossOut[gradName('lm_head.weight')]!.data as Float32Array);
    }
    const D = t.hiddenSize;
    let dHidden: Float32Array = new Float32Array(state.batch * state.length * D);
    scatterRows(dHidden, D, lossRows, lossOut[gradName('hidden')]!.data as Float32Array);

    // Decoder backward, layer by layer from what its forward kept; drops undone on the way.
    for (let layer = t.numLayers - 1; layer >= 0; layer--) {
      const input = layerInputs[layer]!;
      const out = await this.backwardLayer('decoder-layer', trainable.llm ? 'trained' : 'frozen', this.decoderFeeds(input, layer), layerRuns[layer]!, {
        [gradName('hidden_out')]: floatTensor(dHidden, [input.batch, input.length, D]),
      });
      layerRuns[layer] = null; // its stored activations are no longer needed
      if (trainable.llm) {
        for (const suffix of DECODER_LAYER_WEIGHTS) grads.set(`${DECODER_PREFIX}.layers.${layer}.${suffix}`, out[gradName(suffix)]!.data as Float32Array);
      }
      dHidden = out[gradName('hidden')]!.data as Float32Array;
      const drop = compactions.find((c) => c.layer === layer);
      if (drop) dHidden = undoCompaction(dHidden, D, drop);
    }
    if (trainable.llm) this.embeddingGradient(batch, dHidden, grads);

    // Projector and vision tower, only as far down as something trains.
    if (images === 0 || !(trainable.projector || trainable.vision)) return { loss, tokens: lossRows.length, grads };
    const N = this.arch.imageTokensPerImage;
    const dEmbeddings = gatherRows(dHidden, D, imageRows(batch, this.arch.imageTokenId));
    const projectorOut = await this.backwardLayer('projector', trainable.projector ? 'trained' : 'frozen', { features: this.featureTensor(features!, images, v.hiddenSize), ...this.projectorFeeds() }, projectorRun!, {
      [gradName('embeddings')]: floatTensor(dEmbeddings, [images, N, D]),
    });
    if (trainable.projector) {
      for (const suffix of projectorWeightNames(this.arch)) grads.set(`${PROJECTOR_PREFIX}.${suffix}`, projectorOut[gradName(suffix)]!.data as Float32Array);
    }
    if (!trainable.vision) return { loss, tokens: lossRows.length, grads };
    const S = v.numPatches + 1;
    let dVision = this.unselectFeatures(projectorOut[gradName('features')]!.data as Float32Array, images);
    for (let layer = this.arch.visionLayersUsed - 1; layer >= 0; layer--) {
      const out = await this.backwardLayer('vision-layer', 'trained', { hidden: floatTensor(visionInputs[layer]!, [images, S, v.hiddenSize]), ...this.visionLayerFeeds(layer) }, visionRuns[layer]!, {
        [gradName('hidden_out')]: floatTensor(dVision, [images, S, v.hiddenSize]),
      });
      for (const suffix of VISION_LAYER_WEIGHTS) grads.set(`${VISION_PREFIX}.encoder.layers.${layer}.${suffix}`, out[gradName(suffix)]!.data as Float32Array);
      dVision = out[gradName('hidden')]!.data as Float32Array;
    }
    const embeddingsOut = await this.run('vision-embeddings:backward', {
      pixel_values: floatTensor(batch.pixelValues, [images, 3, v.imageSize, v.imageSize]),
      ...this.visionEmbeddingFeeds(),
      [gradName('hidden_out')]: floatTensor(dVision, [images, S, v.hiddenSize]),
    });
    for (const suffix of VISION_EMBEDDING_WEIGHTS) grads.set(`${VISION_PREFIX}.${suffix}`, embeddingsOut[gradName(suffix)]!.data as Float32Array);
    return { loss, tokens: lossRows.length, grads };
  }

  /** Graph kinds opened so far (a frozen part's backward is never opened). */
  get openedGraphs(): string[] {
    return [...this.sessions.keys()];
  }

  async release(): Promise<void> {
    const sessions = await Promise.all(this.sessions.values());
    this.sessions.clear();
    await Promise.all(sessions.map((s) => s.release()));
  }

  private get storing(): boolean {
    return this.settings.activations === 'store';
  }

  /**
   * A layer's forward. When its backward will run ('trained' or 'frozen') and activations are
   * stored, the storing forward's extra outputs come back with the layer's own.
   */
  private forwardLayer(kind: StoringKind, feeds: Feeds, backward: 'trained' | 'frozen' | 'none'): Promise<LayerRun> {
    if (backward === 'none' || !this.storing) return this.run(`${kind}:forward`, feeds);
    return this.run(`${kind}:forward-storing${backward === 'frozen' ? '-frozen' : ''}`, feeds);
  }

  /** A layer's backward from its forward's run (stored values) or from its inputs (recompute). */
  private async backwardLayer(kind: StoringKind, backward: 'trained' | 'frozen', feeds: Feeds, forward: LayerRun, outputGrads: Feeds): Promise<Record<string, ort.Tensor>> {
    const frozen = backward === 'frozen' ? '-frozen' : '';
    if (!this.storing) return this.run(`${kind}:backward${frozen}`, { ...feeds, ...outputGrads });
    const key: GraphKey = `${kind}:backward-stored${frozen}`;
    const available: Feeds = { ...feeds, ...forward, ...outputGrads };
    const wanted = (await this.session(key)).inputNames;
    return this.run(key, Object.fromEntries(wanted.map((name) => [name, available[name]!])));
  }

  private session(key: GraphKey): Promise<GraphSession> {
    let session = this.sessions.get(key);
    if (!session) {
      session = GraphSession.create(this.buildGraph(key), { memoryArena: true, ...this.settings });
      this.sessions.set(key, session);
    }
    return session;
  }

  private async run(key: GraphKey, feeds: Feeds): Promise<Record<string, ort.Tensor>> {
    return (await this.session(key)).run(feeds);
  }

  private buildGraph(key: GraphKey): GraphBuilder {
    const { vision: v, text: t } = this.arch;
    if (key === 'scores') return buildTrainingScoresGraph(t);
    const [kind, direction] = key.split(':') as [string, 'forward' | 'backward' | 'backward-frozen' | StoredDirection];
    const bodies: Record<string, [TrainingBodyBuilder, boolean]> = {
      'vision-embeddings': [visionEmbeddingsBody(v), false],
      'vision-layer': [visionLayerBody(v), true],
      projector: [projectorBody(this.arch), true],
      'decoder-layer': [decoderLayerBody(t), true],
      loss: [lossBody(t), true],
    };
    const [body, hasInput] = bodies[kind]!;
    if (direction === 'forward') return buildTrainingForward(kind, body);
    if (direction.includes('stor')) {
      const weightGrads = !direction.endsWith('-frozen');
      const pairKey = `${kind}:${weightGrads}`;
      let pair = this.storedPairs.get(pairKey);
      if (!pair) {
        pair = buildStoredTrainingPair(kind, body, { inputGrads: hasInput, weightGrads });
        this.storedPairs.set(pairKey, pair);
      }
      return direction.startsWith('forward') ? pair.forward : pair.backward;
    }
    const backward: BackwardOptions = {
      inputGrads: hasInput,
      weightGrads: direction === 'backward',
      scalarLoss: kind === 'loss',
    };
    return buildTrainingBackward(kind, body, backward);
  }

  private parameter(name: string): ort.Tensor {
    const p = this.parameters.get(name)!;
    return new ort.Tensor('float32', p.data, [...p.shape]);
  }

  private prefixedFeeds(prefix: string, suffixes: readonly string[]): Feeds {
    return Object.fromEntries(suffixes.map((suffix) => [suffix, this.parameter(`${prefix}.${suffix}`)]));
  }

  private visionEmbeddingFeeds(): Feeds {
    return this.prefixedFeeds(VISION_PREFIX, VISION_EMBEDDING_WEIGHTS);
  }

  private visionLayerFeeds(layer: number): Feeds {
    return this.prefixedFeeds(`${VISION_PREFIX}.encoder.layers.${layer}`, VISION_LAYER_WEIGHTS);
  }

  private projectorFeeds(): Feeds {
    return this.prefixedFeeds(PROJECTOR_PREFIX, projectorWeightNames(this.arch));
  }

  private decoderFeeds(state: DecoderBatch, layer: number): Feeds {
    return {
      hidden: floatTensor(state.hidden, [state.batch, state.length, this.arch.text.hiddenSize]),
      position_ids: state.positions,
      attention_mask: state.mask,
      ...this.prefixedFeeds(`${DECODER_PREFIX}.layers.${layer}`, DECODER_LAYER_WEIGHTS),
    };
  }

  private featureTensor(features: Float32Array, images: number, width: number): ort.Tensor {
    return floatTensor(features, [images, this.arch.imageTokensPerImage, width]);
  }

  /** The feature layer's hidden states [I, S, Dv] -> the projector's input [I, N, Dv] (class token dropped under 'default'). */
  private selectFeatures(hidden: Float32Array, images: number): Float32Array {
    if (this.arch.selectStrategy === 'full') return hidden;
    const { hiddenSize: Dv, numPatches: P } = this.arch.vision;
    const out = new Float32Array(images * P * Dv);
    for (let i = 0; i < images; i++) out.set(hidden.subarray((i * (P + 1) + 1) * Dv, (i + 1) * (P + 1) * Dv), i * P * Dv);
    return out;
  }

  /** The gradient of selectFeatures: the class token's rows get zero. */
  private unselectFeatures(grad: Float32Array, images: number): Float32Array {
    if (this.arch.selectStrategy === 'full') return grad;
    const { hiddenSize: Dv, numPatches: P } = this.arch.vision;
    const out = new Float32Array(images * (P + 1) * Dv);
    for (let i = 0; i < images; i++) out.set(grad.subarray(i * P * Dv, (i + 1) * P * Dv), (i * (P + 1) + 1) * Dv);
    return out;
  }

  /** Token embeddings looked up in JS, image features over the image-token rows: the decoder's input. */
  private embed(batch: TrainingBatch, imageEmbeddings: Float32Array | null): DecoderBatch {
    const { hiddenSize: D } = this.arch.text;
    const table = this.parameters.get(EMBED_WEIGHT)!.data;
    const { batch: B, length: T } = batch;
    const hidden = new Float32Array(B * T * D);
    let image = 0;
    const rows: BoundaryRow[] = [];
    for (let b = 0; b < B; b++) {
      let length = 0;
      while (length < T && batch.attentionMask[b * T + length] === 1) length++;
      const imageStart = batch.hasImage[b] ? batch.inputIds.subarray(b * T, (b + 1) * T).indexOf(this.arch.imageTokenId) : -1;
      const N = imageStart >= 0 ? this.arch.imageTokensPerImage : 0;
      for (let t = 0; t < T; t++) {
        const row = b * T + t;
        if (imageStart >= 0 && t >= imageStart && t < imageStart + N) {
          hidden.set(imageEmbeddings!.subarray((image * N + t - imageStart) * D, (image * N + t - imageStart + 1) * D), row * D);
        } else if (t < length) {
          const id = batch.inputIds[row]!;
          hidden.set(table.subarray(id * D, (id + 1) * D), row * D);
        }
      }
      if (imageStart >= 0) image++;
      rows.push({
        length,
        positions: Array.from({ length }, (_, i) => i),
        labels: batch.labels.slice(b * T, b * T + length),
        imageStart,
        imageTokens: Array.from({ length: N }, (_, i) => i),
      });
    }
    return { batch: B, length: T, hidden, rows, ...batchTensors(rows, T) };
  }

  /** Scatter-adds the decoder input's gradient of every real text token into embed_tokens' gradient. */
  private embeddingGradient(batch: TrainingBatch, dHidden: Float32Array, grads: Map<string, Float32Array>): void {
    const { hiddenSize: D, vocabSize: V } = this.arch.text;
    const grad = grads.get(EMBED_WEIGHT) ?? new Float32Array(V * D); // a tied lm_head's gradient is already there
    const T = batch.length;
    for (let b = 0; b < batch.batch; b++) {
      for (let t = 0; t < T; t++) {
        const row = b * T + t;
        const id = batch.inputIds[row]!;
        if (batch.attentionMask[row] !== 1 || (batch.hasImage[b] && id === this.arch.imageTokenId)) continue;
        const target = id * D;
        const source = row * D;
        for (let d = 0; d < D; d++) grad[target + d]! += dHidden[source + d]!;
      }
    }
    grads.set(EMBED_WEIGHT, grad);
  }

  private boundaryView(state: DecoderBatch, layer: number): TrainingBoundary {
    const D = this.arch.text.hiddenSize;
    return {
      layer,
      originalImageTokens: this.arch.imageTokensPerImage,
      length: state.length,
      hidden: state.hidden.slice(),
      rows: state.rows,
      nextLayerAttention: async (b, queries) => {
        const row = state.rows[b]!;
        const start = b * state.length * D;
        const out = await this.run('scores', {
          hidden: floatTensor(state.hidden.slice(start, start + row.length * D), [row.length, D]),
          position_ids: int64Tensor(row.positions),
          query_rows: int64Tensor(queries),
          ...this.prefixedFeeds(`${DECODER_PREFIX}.layers.${layer}`, ['input_layernorm.weight', 'self_attn.q_proj.weight', 'self_attn.k_proj.weight']),
        });
        return out.attentions!.data as Float32Array;
      },
    };
  }

  /** Applies per-row keep plans: text rows stay, the planned image rows stay, positions renumber, the batch re-pads. */
  private compact(state: DecoderBatch, plans: readonly (KeepPlan | null)[], layer: number): { next: DecoderBatch; from: Int32Array } {
    const D = this.arch.text.hiddenSize;
    const kept = state.rows.map((row, b) => {
      const plan = plans[b];
      const N = row.imageTokens.length;
      if (!plan || row.imageStart < 0) return range(0, row.length);
      checkImagePlan(plan, N, `the boundary hook after ${layer} layers, row ${b}`);
      return [...range(0, row.imageStart), ...plan.keep.map((k) => row.imageStart + k), ...range(row.imageStart + N, row.length)];
    });
    const T = Math.max(...kept.map((k) => k.length));
    const from = new Int32Array(state.batch * T).fill(-1);
    const hidden = new Float32Array(state.batch * T * D);
    const rows = state.rows.map((row, b): BoundaryRow => {
      const keep = kept[b]!;
      keep.forEach((t, i) => {
        from[b * T + i] = b * state.length + t;
        hidden.set(state.hidden.subarray((b * state.length + t) * D, (b * state.length + t + 1) * D), (b * T + i) * D);
      });
      const plan = plans[b];
      return {
        length: keep.length,
        positions: range(0, keep.length),
        labels: Int32Array.from(keep, (t) => row.labels[t]!),
        imageStart: row.imageStart,
        imageTokens: plan && row.imageStart >= 0 ? plan.keep.map((k) => row.imageTokens[k]!) : row.imageTokens,
      };
    });
    return { next: { batch: state.batch, length: T, hidden, rows, ...batchTensors(rows, T) }, from };
  }

  private checkBatch(batch: TrainingBatch): void {
    const { batch: B, length: T } = batch;
    const { vocabSize: V } = this.arch.text;
    const size = this.arch.vision.imageSize;
    const fail = (subject: string, expected: string, found: string): never => {
      throw new PromptError({ subject: `training batch ${subject}`, expected, found });
    };
    if (!(B > 0 && T > 0)) fail('size', 'at least one row of one token', `${B} x ${T}`);
    for (const [name, array] of [['inputIds', batch.inputIds], ['labels', batch.labels], ['attentionMask', batch.attentionMask]] as const) {
      if (array.length !== B * T) fail(name, `${B} x ${T} = ${B * T} values`, String(array.length));
    }
    if (batch.hasImage.length !== B) fail('hasImage', `${B} flags`, String(batch.hasImage.length));
    const images = batch.hasImage.filter(Boolean).length;
    if (batch.pixelValues.length !== images * 3 * size * size) {
      fail('pixelValues', `[${images}, 3, ${size}, ${size}] = ${images * 3 * size * size} values`, String(batch.pixelValues.length));
    }
    for (let b = 0; b < B; b++) {
      let padded = false;
      let imageCount = 0;
      for (let t = 0; t < T; t++) {
        const i = b * T + t;
        const real = batch.attentionMask[i] === 1;
        if (real && padded) fail(`row ${b} attentionMask`, 'right padding (ones, then zeros)', `a 1 at ${t} after a 0`);
        if (!real) {
          padded = true;
          if (batch.labels[i] !== IGNORE) fail(`row ${b} labels`, '-100 at padded positions', `${batch.labels[i]} at ${t}`);
          continue;
        }
        const id = batch.inputIds[i]!;
        if (batch.hasImage[b] && id === this.arch.imageTokenId) {
          if (imageCount > 0 && batch.inputIds[i - 1] !== id) fail(`row ${b} inputIds`, 'one contiguous run of image tokens', `a second run at ${t}`);
          imageCount++;
        } else if (!Number.isInteger(id) || id < 0 || id >= V) {
          fail(`row ${b} inputIds`, `ids in [0, ${V})`, `${id} at ${t}`);
        }
      }
      const N = batch.hasImage[b] ? this.arch.imageTokensPerImage : 0;
      if (imageCount !== N) fail(`row ${b} inputIds`, `${N} image tokens (id ${this.arch.imageTokenId})`, String(imageCount));
      if (batch.attentionMask[b * T] !== 1) fail(`row ${b} attentionMask`, 'at least one real token', 'none');
    }
  }
}

function range(start: number, end: number): number[] {
  return Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i);
}

/** Position ids (0..len-1, continued over the padding) and the padding mask of the rows, padded to T. */
function batchTensors(rows: readonly BoundaryRow[], T: number): { positions: ort.Tensor; mask: ort.Tensor } {
  const B = rows.length;
  const positions = new BigInt64Array(B * T);
  const mask = new Uint8Array(B * T);
  rows.forEach((row, b) => {
    for (let t = 0; t < T; t++) positions[b * T + t] = BigInt(t < row.length ? row.positions[t]! : t);
    mask.fill(1, b * T, b * T + row.length);
  });
  return { positions: new ort.Tensor('int64', positions, [B, T]), mask: new ort.Tensor('bool', mask, [B, T]) };
}

/** Flat rows (b*T + t) whose next token t+1 is labelled, and those labels (HF's shift). */
function labelledRows(state: DecoderBatch): { rows: number[]; targets: number[] } {
  const rows: number[] = [];
  const targets: number[] = [];
  state.rows.forEach((row, b) => {
    for (let t = 0; t + 1 < row.length; t++) {
      const label = row.labels[t + 1]!;
      if (label !== IGNORE) {
        rows.push(b * state.length + t);
        targets.push(label);
      }
    }
  });
  return { rows, targets };
}

/** Flat rows of the image tokens, in batch order (the projector's output order). */
function imageRows(batch: TrainingBatch, imageTokenId: number): number[] {
  const rows: number[] = [];
  for (let b = 0; b < batch.batch; b++) {
    if (!batch.hasImage[b]) continue;
    for (let t = 0; t < batch.length; t++) if (batch.inputIds[b * batch.length + t] === imageTokenId) rows.push(b * batch.length + t);
  }
  return rows;
}

function gatherRows(source: Float32Array, width: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, i) => out.set(source.subarray(row * width, (row + 1) * width), i * width));
  return out;
}

function scatterRows(target: Float32Array, width: number, rows: readonly number[], source: Float32Array): void {
  rows.forEach((row, i) => target.set(source.subarray(i * width, (i + 1) * width), row * width));
}

/** The gradient of a compaction: each kept row's gradient back at its old place, dropped rows zero. */
function undoCompaction(grad: Float32Array, width: number, drop: Compaction): Float32Array {
  const out = new Float32Array(drop.oldRows * width);
  drop.from.forEach((old, i) => {
    if (old >= 0) out.set(grad.subarray(i * width, (i + 1) * width), old * width);
  });
  return out;
}
