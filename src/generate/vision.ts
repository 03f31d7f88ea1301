// From pixel values to the image's decoder embeddings: the CLIP tower up to the configured feature
// layer, the feature selection (`default` drops the class token), then the projector. A strategy's
// vision stage (MustDrop's) merges tokens inside the tower and ranks key tokens by the class
// token's attention at a later layer; the runtime applies the merge.
// Legend: S = 1 + P vision tokens, P patch tokens, Dv vision hidden, D decoder hidden.
import { ImageError } from '../errors.js';
import type { PixelValues } from '../image/index.js';
import type { LlavaRuntime, VisionState } from '../runtime/llava-runtime.js';
import { mergeVisionTokens } from '../runtime/vision-tokens.js';
import type { VisionStage } from '../reduce/types.js';

export type { PixelValues };

/** What a vision stage did, for results and pictures. */
export interface VisionRecord {
  /** Strategy-specific ids of merged regions (MustDrop: 3x3 window ids), in merge order. */
  readonly mergedWindows: readonly number[];
  /** For each image token the decoder sees, the original patch indices it stands for. */
  readonly imageTokenOrder: readonly (readonly number[])[];
  /** Protected key tokens, as indices into the image tokens the decoder sees. */
  readonly keySet: readonly number[];
}

export interface ImageEmbeddings {
  readonly embeddings: Float32Array; // [N, D]
  readonly tokens: number;
  readonly vision: VisionRecord | null;
}

export async function encodeImage(runtime: LlavaRuntime, pixels: PixelValues, stage: VisionStage | null = null): Promise<ImageEmbeddings> {
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
  let state: VisionState = await runtime.visionEmbeddings(pixels.data, 1);
  let order: (readonly number[])[] = Array.from({ length: vision.numPatches }, (_, i) => [i]);
  let mergedWindows: readonly number[] = [];
  let done = 0;
  if (stage) {
    state = (await runtime.visionLayers(0, stage.mergeAfter, state)).state;
    done = stage.mergeAfter;
    const merge = stage.merge({ hidden: state.hidden, hiddenSize: Dv, gridSize: vision.gridSize });
    if (merge) {
      const hidden = mergeVisionTokens(state.hidden, Dv, merge.plan);
      order = merge.plan.groups.map((group) => group.flatMap((index) => order[index]!));
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
  // With the `full` strategy the class token is the first image token and stands for no patch.
  const classFirst = selectStrategy === 'full';
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
  };
}
