// Pre-computed image input: a safetensors file holding `pixel_values` [1, 3, H, W] F32, as
// `--dump-pixel-values` writes it (and as Hugging Face's processor output can be saved).
import { SafetensorsFile } from '../checkpoint/index.js';
import { ImageError } from '../errors.js';
import type { PixelValues } from './vision.js';

export const PIXEL_VALUES_TENSOR = 'pixel_values';

export function readPixelValues(path: string): PixelValues {
  const file = new SafetensorsFile(path);
  try {
    if (!file.names().includes(PIXEL_VALUES_TENSOR)) {
      throw new ImageError({ subject: path, expected: `a tensor named ${PIXEL_VALUES_TENSOR}`, found: `[${file.names().join(', ')}]` });
    }
    const { dtype, shape } = file.info(PIXEL_VALUES_TENSOR);
    if (dtype !== 'F32' || shape.length !== 4 || shape[0] !== 1 || shape[1] !== 3) {
      throw new ImageError({
        subject: `${path}: ${PIXEL_VALUES_TENSOR}`,
        expected: 'F32 [1, 3, H, W]',
        found: `${dtype} [${shape.join(', ')}]`,
      });
    }
    return { data: file.readFloat32(PIXEL_VALUES_TENSOR), shape: [1, 3, shape[2]!, shape[3]!] };
  } finally {
    file.close();
  }
}
