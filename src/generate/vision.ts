// From pixel values to the image's decoder embeddings: the CLIP tower up to the configured feature
// layer, the feature selection (`default` drops the class token), then the projector. A strategy's
// vision stage (MustDrop's) merges tokens inside the tower and ranks key tokens by the class
// token's attention at a later layer; the runtime applies the merge.
// Legend: S = 1 + P vision tokens, P patch tokens, Dv vision hidden, D decoder hidden.
import { ImageError } from '../errors.js';
import { gridShape, nextImageTokenCount, unpaddedGrid, type AnyresPixelValues, type PixelValues } from '../image/index.js';
import type { LlavaRuntime, VisionState } from '../runtime/llava-runtime.js';
import { applyTokenPlan, checkTokenPlan, isCreated, type TokenPlan } from '../runtime/token-plan.js';
import { OptionError } from '../errors.js';
import type { FeatureStage, VisionStage } from '../reduce/types.js';
import { stageEntry, type ReductionStage, type RecordToken } from './reduction-record.js';

import { packNextFeatures } from './next-features.js';

export type { PixelValues, AnyresPixelValues };

/** What a vision stage did, for results and pictures. */
export interface VisionRecord {
  /** Strategy-specific ids of merged regions (MustDrop: 3x3 window ids), in merge order; LLaVA-NeXT: the base crop's. */
  readonly mergedWindows: readonly number[];
  /** LLaVA-NeXT (flat crops): each crop's merged window ids, base crop first. */
  readonly mergedWindowsPerCrop?: readonly (readonly number[])[];
  /** For each image token the decoder sees, the original patch indices it stands for (crop c's patches offset by c x patches per crop). */
  readonly imageTokenOrder: readonly (readonly number[])[];
  /** Protected key tokens, as indices into the image tokens the decoder sees. */
  readonly keySet: readonly number[];
}

export interface ImageEmbeddings {
  readonly embeddings: Float32Array; // [N, D]
  readonly tokens: number;
  readonly vision: VisionRecord | null;
  /** The reduction record's vision-side stage, when a vision stage changed the tokens. */
  readonly stage: ReductionStage | null;
}

/** One image token after a vision-side stage: the original tokens it stands for, and whether the stage built it. */
interface SpanToken {
  readonly originals: readonly number[];
  readonly built: boolean;
  readonly cls?: boolean;
}

/** The tokens a vision-side plan leaves, from the tokens it was made over. */
function plannedSpan(before: readonly SpanToken[], plan: TokenPlan): SpanToken[] {
  return plan.tokens.map((token) =>
    isCreated(token) ? { originals: token.members.flatMap((m) => before[m]!.originals), built: true } : before[token]!,
  );
}

/** The record's vision stage: built tokens named s1c0, s1c1, ... in decoder order. */
function visionStageEntry(span: readonly SpanToken[]): ReductionStage {
  const created: { id: string; members: number[] }[] = [];
  const order: RecordToken[] = span.map((token) => {
    if (token.cls) return 'cls';
    if (!token.built) return token.originals[0]!;
    const id = `s1c${created.length}`;
    created.push({ id, members: [...token.originals].sort((a, b) => a - b) });
    return id;
  });
  return stageEntry({ where: 'vision' }, order, created);
}

/** Patch tokens p (of image `offset / patches`) as original tokens offset + p. */
function patchSpan(patches: number, offset: number): SpanToken[] {
  return Array.from({ length: patches }, (_, p) => ({ originals: [offset + p], built: false }));
}

export async function encodeImage(
  runtime: LlavaRuntime,
  pixels: PixelValues | AnyresPixelValues,
  stage: VisionStage | null = null,
  featureStage: FeatureStage | null = null,
): Promise<ImageEmbeddings> {
  if (runtime.arch.anyres) return encodeAnyresImage(runtime, pixels, stage, featureStage);
  const { vision, visionLayersUsed, selectStrategy } = runtime.arch;
  const [, channels, height, width] = pixels.shape;
  if (channels !== 3 || height !== vision.imageSize || width !== vision.imageSize || pixels.data.length !== 3 * height * width) {
    throw new ImageError({
      subject: 'pixel_values',
      expected: `shape [1, 3, ${vision.imageSize}, ${vision.imageSize}]`,
      found: `shape [${pixels.shape.join(', ')}] with ${pixels.data.length} values`,
    });
  }
  const Dv = vision.hiddenSize;
  if (featureStage) {
    const chosen = await chooseFeatures(runtime, await runtime.visionEmbeddings(pixels.data, 1), featureStage);
    const tokens = chosen.features.length / Dv;
    return { embeddings: await runtime.project(chosen.features, 1, tokens), tokens, vision: null, stage: visionStageEntry(chosen.spans[0]!) };
  }
  let state: VisionState = await runtime.visionEmbeddings(pixels.data, 1);
  // With the `full` strategy the class token is the first image token, original token 0, standing for no patch.
  const classFirst = selectStrategy === 'full';
  let span = patchSpan(vision.numPatches, classFirst ? 1 : 0);
  let mergedWindows: readonly number[] = [];
  let done = 0;
  if (stage) {
    state = (await runtime.visionLayers(0, stage.mergeAfter, state)).state;
    done = stage.mergeAfter;
    const merge = stage.merge([{ hidden: state.hidden, hiddenSize: Dv, gridSize: vision.gridSize }])?.[0];
    if (merge) {
      checkTokenPlan(merge.plan, state.tokens - 1, 'vision stage');
      const hidden = applyTokenPlan(state.hidden, Dv, 1, state.tokens - 1, merge.plan);
      span = plannedSpan(span, merge.plan);
      mergedWindows = merge.mergedWindows;
      state = { hidden, batch: 1, tokens: hidden.length / Dv };
    }
  }
  // The key layer may lie past the feature layer: the tower then runs on beyond it for that
  // attention only, from the features' state.
  const keyLayer = stage ? (stage.keyAttentionLayer < 0 ? vision.numLayers + stage.keyAttentionLayer : stage.keyAttentionLayer) : undefined;
  const rowsAt = keyLayer !== undefined && keyLayer < visionLayersUsed ? new Map([[keyLayer, [0]]]) : new Map<number, number[]>();
  const encoded = await runtime.visionLayers(done, visionLayersUsed, state, rowsAt);
  let keyAttention = keyLayer !== undefined ? encoded.attentions.get(keyLayer) : undefined;
  if (keyLayer !== undefined && keyAttention === undefined) {
    const beyond = await runtime.visionLayers(visionLayersUsed, keyLayer + 1, encoded.state, new Map([[keyLayer, [0]]]));
    keyAttention = beyond.attentions.get(keyLayer);
  }
  const S = encoded.state.tokens;
  const features = selectStrategy === 'default' ? encoded.state.hidden.slice(Dv) : encoded.state.hidden; // [P or S, Dv]
  const tokens = features.length / Dv;
  const patchKeys = stage && keyAttention ? stage.keyTokens(keyAttention, vision.numHeads, S) : [];
  const order = span.map((token) => token.originals.map((original) => original - (classFirst ? 1 : 0)));
  const decoderSpan = classFirst ? [{ originals: [0], built: false }, ...span] : span;
  return {
    embeddings: await runtime.project(features, 1, tokens),
    tokens,
    vision: stage
      ? {
          mergedWindows,
          imageTokenOrder: classFirst ? [[], ...order] : order,
          keySet: classFirst ? patchKeys.map((k) => k + 1) : patchKeys,
        }
      : null,
    stage: stage ? visionStageEntry(decoderSpan) : null,
  };
}

/**
 * LLaVA-NeXT: the base image and the tiles through the tower in one batch, then the packing:
 * base tokens, the unpadded tile grid row by row with a newline after each row.
 */
async function encodeAnyresImage(
  runtime: LlavaRuntime,
  pixels: PixelValues | AnyresPixelValues,
  stage: VisionStage | null,
  featureStage: FeatureStage | null,
): Promise<ImageEmbeddings> {
  const { vision, visionLayersUsed, anyres } = runtime.arch;
  const S = vision.imageSize;
  if (!('imageSize' in pixels) || pixels.shape.length !== 5 || pixels.shape[2] !== 3 || pixels.shape[3] !== S || pixels.shape[4] !== S) {
    throw new ImageError({
      subject: 'pixel_values',
      expected: `LLaVA-NeXT input: shape [1, crops, 3, ${S}, ${S}] with image_sizes`,
      found: `shape [${pixels.shape.join(', ')}]${'imageSize' in pixels ? '' : ' without image_sizes'}`,
    });
  }
  const g = vision.gridSize;
  const expectedTokens = nextImageTokenCount(pixels.imageSize, anyres!.pinpoints, S, g);
  const [rows, cols] = gridShape(pixels.imageSize, anyres!.pinpoints, S);
  const crops = pixels.shape[1];
  if (crops !== 1 + rows * cols) {
    throw new ImageError({
      subject: 'pixel_values',
      expected: `${1 + rows * cols} crops (base + ${rows}x${cols} tiles for an image of ${pixels.imageSize[1]}x${pixels.imageSize[0]})`,
      found: `${crops} crops`,
    });
  }
  const embedded = await runtime.visionEmbeddings(pixels.data, crops);
  if (stage) return encodeFlatCrops(runtime, embedded, stage);
  if (featureStage) return encodeChosenCrops(runtime, embedded, featureStage, cols);
  const { state } = await runtime.visionLayers(0, visionLayersUsed, embedded);
  const Dv = vision.hiddenSize;
  const perCrop = vision.numPatches; // class token dropped (the `default` strategy NeXT uses)
  const features = new Float32Array(crops * perCrop * Dv);
  for (let c = 0; c < crops; c++) features.set(state.hidden.subarray((c * (perCrop + 1) + 1) * Dv, (c + 1) * (perCrop + 1) * Dv), c * perCrop * Dv);
  const projected = await runtime.project(features, crops, perCrop);
  const grid = unpaddedGrid(pixels.imageSize, rows * g, cols * g);
  const embeddings = packNextFeatures(projected, runtime.arch.text.hiddenSize, g, cols, grid, runtime.imageNewline!);
  const tokens = embeddings.length / runtime.arch.text.hiddenSize;
  if (tokens !== expectedTokens) {
    throw new ImageError({ subject: 'LLaVA-NeXT image tokens', expected: `${expectedTokens} (as the processor counts)`, found: String(tokens) });
  }
  return { embeddings, tokens, vision: null, stage: null };
}

/**
 * LLaVA-NeXT under a vision-stage strategy, as MustDrop's code runs it (ambiguity 22): crops merged
 * each on its own grid, the tower run on as one batch, features concatenated flat (no unpadding, no
 * newline tokens), key tokens chosen per crop. Labelled by `mergedWindowsPerCrop` in the record.
 */
async function encodeFlatCrops(runtime: LlavaRuntime, embedded: VisionState, stage: VisionStage): Promise<ImageEmbeddings> {
  const { vision, visionLayersUsed } = runtime.arch;
  const Dv = vision.hiddenSize;
  const crops = embedded.batch;
  let state = (await runtime.visionLayers(0, stage.mergeAfter, embedded)).state;
  const cropHidden = (s: VisionState, c: number) => s.hidden.subarray(c * s.tokens * Dv, (c + 1) * s.tokens * Dv);
  let spans = Array.from({ length: crops }, (_, c) => patchSpan(vision.numPatches, c * vision.numPatches));
  const merges = stage.merge(Array.from({ length: crops }, (_, c) => ({ hidden: cropHidden(state, c), hiddenSize: Dv, gridSize: vision.gridSize })));
  if (merges) {
    const merged = merges.map((m, c) => {
      checkTokenPlan(m.plan, vision.numPatches, 'vision stage');
      return applyTokenPlan(cropHidden(state, c), Dv, 1, vision.numPatches, m.plan);
    });
    const hidden = new Float32Array(merged.reduce((n, m) => n + m.length, 0));
    merged.forEach((m, c) => hidden.set(m, c * m.length));
    spans = merges.map((m, c) => plannedSpan(spans[c]!, m.plan));
    state = { hidden, batch: crops, tokens: merged[0]!.length / Dv };
  }
  const keyLayer = stage.keyAttentionLayer < 0 ? vision.numLayers + stage.keyAttentionLayer : stage.keyAttentionLayer;
  const rowsAt = keyLayer < visionLayersUsed ? new Map([[keyLayer, [0]]]) : new Map<number, number[]>();
  const encoded = await runtime.visionLayers(stage.mergeAfter, visionLayersUsed, state, rowsAt);
  const keyAttention =
    encoded.attentions.get(keyLayer) ?? (await runtime.visionLayers(visionLayersUsed, keyLayer + 1, encoded.state, new Map([[keyLayer, [0]]]))).attentions.get(keyLayer)!;
  const S = encoded.state.tokens;
  const perCrop = S - 1;
  const features = new Float32Array(crops * perCrop * Dv);
  for (let c = 0; c < crops; c++) features.set(cropHidden(encoded.state, c).subarray(Dv), c * perCrop * Dv);
  const heads = vision.numHeads;
  const keySet = Array.from({ length: crops }, (_, c) =>
    stage.keyTokens(keyAttention.subarray(c * heads * S, (c + 1) * heads * S), heads, S).map((k) => c * perCrop + k),
  ).flat();
  const projected = await runtime.project(features, crops, perCrop);
  return {
    embeddings: projected,
    tokens: crops * perCrop,
    vision: {
      mergedWindows: merges?.[0]?.mergedWindows ?? [],
      mergedWindowsPerCrop: merges ? merges.map((m) => m.mergedWindows) : Array.from({ length: crops }, () => []),
      imageTokenOrder: spans.flat().map((token) => token.originals),
      keySet,
    },
    stage: visionStageEntry(spans.flat()),
  };
}

/**
 * A feature stage (VisionZip): the tower up to its layer (not the configured feature layer; the
 * layers after it do not run), the class token's attention and the head-mean keys there, and per
 * image the plan's tokens as the features [B, tokens, Dv]. Every image's plan must give as many.
 */
async function chooseFeatures(runtime: LlavaRuntime, embedded: VisionState, stage: FeatureStage): Promise<{ features: Float32Array; spans: SpanToken[][] }> {
  const { vision } = runtime.arch;
  const layer = stage.layer < 0 ? vision.numLayers + stage.layer : stage.layer;
  const S = embedded.tokens;
  stage.check(S, vision.numLayers);
  if (layer < 0 || layer >= vision.numLayers) {
    throw new OptionError({ subject: 'feature stage layer', expected: `a layer of the ${vision.numLayers}-layer vision tower`, found: String(stage.layer) });
  }
  const Dv = vision.hiddenSize;
  const H = vision.numHeads;
  const Hd = vision.headDim;
  const ran = await runtime.visionLayers(0, layer + 1, embedded, new Map([[layer, [0]]]), [layer]);
  const attention = ran.attentions.get(layer)!; // [B, H, 1, S]
  const keyMean = ran.keyMeans.get(layer)!; // [B, S, Hd]
  const chosen: Float32Array[] = [];
  const spans: SpanToken[][] = [];
  for (let b = 0; b < embedded.batch; b++) {
    const hidden = ran.state.hidden.subarray(b * S * Dv, (b + 1) * S * Dv);
    const plan = stage.select({
      hidden,
      hiddenSize: Dv,
      classAttention: attention.subarray(b * H * S, (b + 1) * H * S),
      numHeads: H,
      keyMean: keyMean.subarray(b * S * Hd, (b + 1) * S * Hd),
      headDim: Hd,
    });
    checkTokenPlan(plan, S, 'feature stage');
    chosen.push(applyTokenPlan(hidden, Dv, 0, S, plan));
    // Token 0 is the class token; patch p of image b is original b x patches + p.
    const before: SpanToken[] = [{ originals: [], built: false, cls: true }, ...patchSpan(S - 1, b * (S - 1))];
    spans.push(plannedSpan(before, plan));
  }
  const tokens = chosen[0]!.length / Dv;
  const features = new Float32Array(embedded.batch * tokens * Dv);
  chosen.forEach((rows, b) => {
    if (rows.length !== tokens * Dv) throw new OptionError({ subject: 'feature stage', expected: `${tokens} tokens from every crop`, found: `${rows.length / Dv} from crop ${b}` });
    features.set(rows, b * tokens * Dv);
  });
  return { features, spans };
}

/**
 * LLaVA-NeXT under a feature stage, as VisionZip's code assembles it: the base crop's tokens as
 * chosen; then the tiles' kept original patches in raster order of the tiled canvas (no unpadding,
 * no newline tokens); then the tiles' class tokens, crop by crop; then the tiles' built tokens,
 * crop by crop (ambiguity 11 of the VisionZip spec). The canvas is the tiles' rows x cols grid of
 * g x g patches, g the tower's grid (the code's literal 24).
 */
async function encodeChosenCrops(runtime: LlavaRuntime, embedded: VisionState, stage: FeatureStage, cols: number): Promise<ImageEmbeddings> {
  const { vision } = runtime.arch;
  const D = runtime.arch.text.hiddenSize;
  const g = vision.gridSize;
  const P = vision.numPatches;
  const { features, spans } = await chooseFeatures(runtime, embedded, stage);
  const crops = embedded.batch;
  const perCrop = features.length / vision.hiddenSize / crops;
  const projected = await runtime.project(features, crops, perCrop); // [crops, perCrop, D]
  const rowOf = (crop: number, place: number) => projected.subarray((crop * perCrop + place) * D, (crop * perCrop + place + 1) * D);
  const placed: { row: Float32Array; token: SpanToken }[] = spans[0]!.map((token, place) => ({ row: rowOf(0, place), token }));
  const patchesOnCanvas: { key: number; row: Float32Array; token: SpanToken }[] = [];
  const classes: typeof placed = [];
  const built: typeof placed = [];
  for (let c = 1; c < crops; c++) {
    spans[c]!.forEach((token, place) => {
      const entry = { row: rowOf(c, place), token };
      if (token.cls) classes.push(entry);
      else if (token.built) built.push(entry);
      else {
        // Tile t = c - 1 sits at (t / cols, t % cols) of the rows x cols canvas of g x g patches.
        const patch = token.originals[0]! - c * P;
        const t = c - 1;
        const y = Math.floor(t / cols) * g + Math.floor(patch / g);
        const x = (t % cols) * g + (patch % g);
        patchesOnCanvas.push({ key: y * cols * g + x, ...entry });
      }
    });
  }
  patchesOnCanvas.sort((a, b) => a.key - b.key);
  const ordered = [...placed, ...patchesOnCanvas, ...classes, ...built];
  const embeddings = new Float32Array(ordered.length * D);
  ordered.forEach((entry, i) => embeddings.set(entry.row, i * D));
  return { embeddings, tokens: ordered.length, vision: null, stage: visionStageEntry(ordered.map((e) => e.token)) };
}
