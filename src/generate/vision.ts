// From pixel values to the image's decoder embeddings: the CLIP tower up to the configured feature
// layer, the feature selection (`default` drops the class token), then the projector.
// Legend: B images, S = 1 + P vision tokens, P patches, Dv vision hidden, D decoder hidden.
import { ImageError } from '../errors.js';
import type { PixelValues } from '../image/index.js';
import type { LlavaRuntime } from '../runtime/llava-runtime.js';

export type { PixelValues };

export interface ImageEmbeddings {
  readonly embeddings: Float32Array; // [N, D]
  readonly tokens: number;
}

export async function encodeImage(runtime: LlavaRuntime, pixels: PixelValues): Promise<ImageEmbeddings> {
  const { vision, visionLayersUsed, selectStrategy } = runtime.arch;
  const [, channels, height, width] = pixels.shape;
  if (channels !== 3 || height !== vision.imageSize || width !== vision.imageSize || pixels.data.length !== 3 * height * width) {
    throw new ImageError({
      subject: 'pixel_values',
      expected: `shape [1, 3, ${vision.imageSize}, ${vision.imageSize}]`,
      found: `shape [${pixels.shape.join(', ')}] with ${pixels.data.length} values`,
    });
  }
  const embedded = await runtime.visionEmbeddings(pixels.data, 1);
  const { state } = await runtime.visionLayers(0, visionLayersUsed, embedded);
  const Dv = vision.hiddenSize;
  const features = selectStrategy === 'default' ? state.hidden.slice(Dv) : state.hidden; // [P or S, Dv]
  const tokens = features.length / Dv;
  return { embeddings: await runtime.project(features, 1, tokens), tokens };
}
