// Pre-computed image input as safetensors, as `--dump-pixel-values` writes it and as Hugging Face's
// processor output can be saved: `pixel_values` [1, 3, H, W] F32 for LLaVA-1.5, or LLaVA-NeXT's
// [1, crops, 3, H, W] (base image first) with `image_sizes` [1, 2] (height, width; I64, I32 or F32).
import { SafetensorsFile, writeSafetensors } from '../checkpoint/index.js';
import { ImageError } from '../errors.js';
import type { AnyresPixelValues, PixelValues } from './vision.js';

export const PIXEL_VALUES_TENSOR = 'pixel_values';
export const IMAGE_SIZES_TENSOR = 'image_sizes';

export function readPixelValues(path: string): PixelValues | AnyresPixelValues {
  const file = new SafetensorsFile(path);
  try {
    if (!file.has(PIXEL_VALUES_TENSOR)) {
      throw new ImageError({ subject: path, expected: `a tensor named ${PIXEL_VALUES_TENSOR}`, found: `[${file.names().join(', ')}]` });
    }
    const { dtype, shape } = file.info(PIXEL_VALUES_TENSOR);
    const single = shape.length === 4 && shape[0] === 1 && shape[1] === 3;
    const crops = shape.length === 5 && shape[0] === 1 && shape[2] === 3;
    if (dtype !== 'F32' || !(single || crops)) {
      throw new ImageError({
        subject: `${path}: ${PIXEL_VALUES_TENSOR}`,
        expected: 'F32 [1, 3, H, W], or [1, crops, 3, H, W] with image_sizes',
        found: `${dtype} [${shape.join(', ')}]`,
      });
    }
    const data = file.readFloat32(PIXEL_VALUES_TENSOR);
    if (single) return { data, shape: [1, 3, shape[2]!, shape[3]!] };
    return { data, shape: [1, shape[1]!, 3, shape[3]!, shape[4]!], imageSize: readImageSize(file, path) };
  } finally {
    file.close();
  }
}

function readImageSize(file: SafetensorsFile, path: string): [number, number] {
  if (!file.has(IMAGE_SIZES_TENSOR)) {
    throw new ImageError({ subject: path, expected: `${IMAGE_SIZES_TENSOR} beside LLaVA-NeXT pixel values`, found: 'no such tensor' });
  }
  const { dtype, shape } = file.info(IMAGE_SIZES_TENSOR);
  if (shape.length !== 2 || shape[0] !== 1 || shape[1] !== 2 || !['I64', 'I32', 'F32'].includes(dtype)) {
    throw new ImageError({ subject: `${path}: ${IMAGE_SIZES_TENSOR}`, expected: 'I64, I32 or F32 [1, 2]', found: `${dtype} [${shape.join(', ')}]` });
  }
  const raw = file.readRaw(IMAGE_SIZES_TENSOR);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const at = (i: number) => (dtype === 'I64' ? Number(view.getBigInt64(8 * i, true)) : dtype === 'I32' ? view.getInt32(4 * i, true) : view.getFloat32(4 * i, true));
  const size: [number, number] = [at(0), at(1)];
  if (!size.every((n) => Number.isInteger(n) && n > 0)) {
    throw new ImageError({ subject: `${path}: ${IMAGE_SIZES_TENSOR}`, expected: 'a positive whole height and width', found: `[${size.join(', ')}]` });
  }
  return size;
}

/** Writes pixel values in the form readPixelValues reads (image_sizes as F32, exact for any real size). */
export function writePixelValues(path: string, pixels: PixelValues | AnyresPixelValues): void {
  writeSafetensors(path, [
    { name: PIXEL_VALUES_TENSOR, dtype: 'F32', shape: pixels.shape, data: pixels.data },
    ...('imageSize' in pixels ? [{ name: IMAGE_SIZES_TENSOR, dtype: 'F32' as const, shape: [1, 2], data: Float32Array.from(pixels.imageSize) }] : []),
  ]);
}
