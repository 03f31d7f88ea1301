// The token-reduction strategy interface. A strategy only ranks and selects: at the decoder layer
// boundaries it declares, it looks at what it asked for (attention rows of the layer before, or
// scores as the next layer would compute them) and returns a plan naming the image tokens to keep.
// The runtime alone applies plans to hidden states, positions and caches (runtime/image-tokens.ts).
import type { ImagePlan, KeepPlan, PositionPolicy, PrefillSequence } from '../runtime/image-tokens.js';
import type { CreatedToken, PlannedToken, TokenPlan } from '../runtime/token-plan.js';

export type { CreatedToken, ImagePlan, KeepPlan, PlannedToken, PositionPolicy, PrefillSequence, TokenPlan };

/** What a vision-stage strategy sees after some CLIP layers: one image, class token first. */
export interface VisionLayerContext {
  readonly hidden: Float32Array; // [S, Dv]
  readonly hiddenSize: number;
  /** Patches per side of the original grid. */
  readonly gridSize: number;
}

export interface VisionMerge {
  /** Over the image's patch tokens (class token excluded; it stays first). */
  readonly plan: TokenPlan;
  /** Strategy-specific ids of what was merged (MustDrop: window ids in merge order), for results. */
  readonly mergedWindows: readonly number[];
}

/** A strategy's work inside the vision tower (MustDrop's stage A). */
export interface VisionStage {
  /** CLIP layers run before `merge` is called. */
  readonly mergeAfter: number;
  /**
   * One merge per image of the batch (LLaVA-NeXT's crops; one image for LLaVA-1.5), each with the
   * same number of groups, since the tower goes on with the images as one batch; or undefined.
   */
  merge(images: readonly VisionLayerContext[]): readonly VisionMerge[] | undefined;
  /** CLIP layer whose class-token attention ranks the protected key tokens; negative counts from the end. */
  readonly keyAttentionLayer: number;
  /**
   * Key tokens of one image, as indices into its image tokens, from its class token's attention
   * [H, 1, S] at `keyAttentionLayer`. Prefill strategies that honour them never drop them.
   */
  keyTokens(attention: Float32Array, numHeads: number, tokens: number): number[];
}

/** What a feature-stage strategy sees at its CLIP layer, for one image (crop): class token first. */
export interface FeatureContext {
  /** The layer's output [S, Dv] (the residual stream, as LLaVA's features are). */
  readonly hidden: Float32Array;
  readonly hiddenSize: number;
  /** The class token's attention probabilities at the layer, [H, S]. */
  readonly classAttention: Float32Array;
  readonly numHeads: number;
  /** The layer's keys averaged over heads, [S, Hd]. */
  readonly keyMean: Float32Array;
  readonly headDim: number;
}

/**
 * A strategy's choice of the image features themselves (VisionZip): at one CLIP layer, which of its
 * tokens, kept or built, go to the projector and on to the decoder, in order.
 */
export interface FeatureStage {
  /** The CLIP layer (negative counts from the end) whose output becomes the features, in place of the configured feature layer. */
  readonly layer: number;
  /** Throws OptionError when the options do not fit `tokens` tokens per image (class token included) or a tower of `numLayers` layers. */
  check(tokens: number, numLayers: number): void;
  /** A plan over the image's S tokens (class token = 0): the features, in order. */
  select(image: FeatureContext): TokenPlan;
}

export interface BoundaryContext {
  /** Decoder layers run so far: the boundary lies between layer `layer - 1` and layer `layer`. */
  readonly layer: number;
  /** Image tokens the decoder first saw. */
  readonly originalImageTokens: number;
  /** The prompt as it stands after `layer` layers. */
  readonly sequence: PrefillSequence;
  readonly numHeads: number;
  /** [H, R, T] probabilities of the rows asked for by `attentionRowsBefore` at layer `layer - 1`. */
  readonly attention: Float32Array | undefined;
  /** [H, R, T] probabilities of `rows` as decoder layer `layer` would compute them on `sequence`. */
  scoresAtNextLayer(rows: readonly number[]): Promise<Float32Array>;
  // The prefill gives the four below; unit tests of strategies that do not use them leave them out.
  /** Post-rotary keys [Hk, Hd, T] decoder layer `layer - 1` cached for `sequence` (DART's pivots); none at layer 0. */
  keysBefore?(): { readonly keysT: Float32Array; readonly numKvHeads: number; readonly headDim: number };
  /** The model's final RMSNorm weight [D] (DART compares states as that norm leaves them). */
  readonly finalNormWeight?: Float32Array;
  /** 1 - cosine similarity [R, R] between the rows of `vectors` [R, D], in float32 (DivPrune's distances). */
  cosineDistances?(vectors: Float32Array, rows: number): Promise<Float32Array>;
  /** LLaVA-NeXT (anyres packing), where some methods budget differently (DART). */
  readonly anyres?: boolean;
}

export interface TokenReducer {
  /** Short name, as on the command line (`fastv`, `pdrop`). */
  readonly name: string;
  /** The strategy's options after defaults and validation, as reported in results. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Whether kept tokens keep their positions or are renumbered. */
  readonly positionPolicy: PositionPolicy;
  /**
   * How decode positions are chosen per layer; default `continue-cache` (right after the layer's last
   * cached position). `cache-length` reproduces MustDrop's code (see algorithms.md ambiguity 17).
   */
  readonly decodePositions?: 'continue-cache' | 'cache-length';
  /**
   * For strategies with state over one prompt (SparseVLM's text raters, its noise stream): the
   * strategy for this prompt, given the prompt as it enters decoder layer 0 and the decoder's depth.
   * Called once per prefill, after `checkModel`.
   */
  forPrompt?(input: PrefillSequence, numLayers: number): TokenReducer;
  /** Set when the method's code cannot run LLaVA-NeXT's anyres images: the reason, for the error. */
  readonly anyresUnsupported?: string;
  /** Throws OptionError when the options do not fit a decoder of `numLayers` layers. */
  checkModel(numLayers: number): void;
  /**
   * Boundaries (layers run before the drop) where `onBoundary` is called, ascending, in [0, numLayers);
   * 0 is before the first layer, on the input embeddings (DivPrune).
   */
  readonly boundaries: readonly number[];
  /**
   * Image tokens entering each decoder layer for `imageTokens` at the start (`anyres`: on LLaVA-NeXT);
   * absent when the counts depend on the data.
   */
  plannedImageTokensPerLayer?(imageTokens: number, numLayers: number, anyres?: boolean): number[];
  /** Query rows whose attention probabilities the strategy needs from the layer just before `boundary`. */
  attentionRowsBefore?(boundary: number, sequence: PrefillSequence): readonly number[] | undefined;
  onBoundary(context: BoundaryContext): Promise<ImagePlan | undefined>;
  /** Work inside the vision tower, for strategies that have some. */
  readonly vision?: VisionStage;
  /** The image features chosen at a CLIP layer, for strategies that do so. */
  readonly features?: FeatureStage;
  /**
   * After prefill, shrink the caches of decoder layers [from, to) to the tokens that survived the
   * last drop (MustDrop's decode-stage cache policy).
   */
  readonly shrinkCachesAfterPrefill?: { readonly from: number; readonly to: number };
}

/** `prefill`'s decoder strategy with `vision`'s vision stage in front (e.g. MustDrop's merge before PyramidDrop). */
export function withVisionStage(vision: TokenReducer, prefill: TokenReducer): TokenReducer {
  if (!vision.vision) throw new TypeError(`${vision.name} has no vision stage`);
  return { ...prefill, name: `${vision.name}-vision+${prefill.name}`, options: { vision: vision.options, prefill: prefill.options }, vision: vision.vision };
}
