// The image input pipeline: file or bytes -> PIL-identical RGB -> Hugging Face CLIP pixel values.
// Everything another layer needs from src/image is exported here.
import type { ImagePreprocessing } from '../config/preprocessor.js';
import { preprocessImage, type PixelValues } from './clip-processor.js';
import { decodeImage } from './decode.js';

export { assertRgbImage, type RgbImage } from './rgb-image.js';
export { decodeImage, decodeImageBuffer, type DecodeLimits } from './decode.js';
export { resizeBicubic } from './pil-resize.js';
export { centerCrop, padColour, padToSquare, preprocessImage, resizeTarget, type PixelValues } from './clip-processor.js';

/** Decodes the file at `path` and runs the processor on it. */
export async function loadImageAsPixelValues(path: string, p: ImagePreprocessing): Promise<PixelValues> {
  return preprocessImage(await decodeImage(path), p);
}
export { anyresPixelValues, type AnyresPixelValues, type AnyresPreprocessing } from './anyres.js';
export { gridShape, nextImageTokenCount, selectBestResolution, unpaddedGrid, type ImageSize, type Pinpoint } from './anyres-grid.js';
export { loadLlavaNextPreprocessorConfig } from './anyres-config.js';
