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
//   emits the vector-Jacobian products (activation checkpointing per layer); frozen parts get no
//   weight-gradient outputs, and nothing below the lowest trainable part is run.
// Legend: B rows, T padded tokens, D decoder hidden, N image tokens per image, H heads, R query rows.
import type { LlavaArch } from '../config/llava.js';
import { GraphError } from '../errors.js';
import type { KeepPlan } from './image-tokens.js';
import type { SessionSettings } from './session.js';

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

export interface TrainingRuntimeOptions extends SessionSettings {}

export class TrainingRuntime {
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
    return new TrainingRuntime(arch, parameters, options);
  }

  /** Loss and gradients of one micro-batch (see LossAndGradients). */
  async lossAndGradients(_batch: TrainingBatch, _options: LossOptions): Promise<LossAndGradients> {
    void this.settings;
    throw new GraphError({ subject: 'TrainingRuntime.lossAndGradients', expected: 'an implementation', found: 'not implemented yet' });
  }

  async release(): Promise<void> {}
}
