// Decodes an image file or buffer (anything sharp reads: JPEG, PNG, WebP, GIF, TIFF, ...) to 8-bit
// RGB with the same pixels as PIL's `Image.open(p).convert('RGB')`, which is what Hugging Face
// processors see: no EXIF rotation, no ICC conversion, alpha dropped (not composited), 16 -> 8 bit.
import { readFile } from 'node:fs/promises';
import sharp, { type OutputInfo } from 'sharp';
import { ImageError } from '../errors.js';
import type { RgbImage } from './rgb-image.js';

export async function decodeImage(path: string): Promise<RgbImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const found = code === 'ENOENT' ? 'no such file' : (cause as Error).message;
    throw new ImageError({ subject: path, expected: 'a readable image file', found, cause });
  }
  return decodeImageBuffer(bytes, path);
}

export interface DecodeLimits {
  /** Refuse images of more pixels than this before decoding them (sharp's limitInputPixels; its default is 268M). */
  readonly maxPixels?: number;
}

/**
 * `label` names the image in errors (a path, a URL, "upload #3", ...). Known departures from PIL
 * 9.4: 16-bit grey keeps its high byte where PIL clips the value to 255, and CMYK is converted
 * through sharp's CMYK ICC profile where PIL uses its own profile-free formula.
 */
export async function decodeImageBuffer(bytes: Uint8Array, label: string, limits: DecodeLimits = {}): Promise<RgbImage> {
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(bytes, {
      ...(limits.maxPixels !== undefined ? { limitInputPixels: limits.maxPixels } : {}),
      // PIL leaves EXIF orientation and embedded colour profiles alone, so must we.
      autoOrient: false,
      ignoreIcc: true,
      // Like PIL: refuse truncated files, but accept the benign warnings libjpeg/libpng emit.
      failOn: 'truncated',
    })
      // 16-bit input keeps its high byte, as PIL's 16-bit RGB unpacker does.
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw new ImageError({
      subject: label,
      expected: 'an image sharp can decode (JPEG, PNG, WebP, ...)',
      found: (cause as Error).message,
      cause,
    });
  }
  return toRgb(decoded.data, decoded.info.width, decoded.info.height, decoded.info.channels);
}

/** Sharp hands back 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) interleaved channels. */
function toRgb(src: Buffer, width: number, height: number, channels: number): RgbImage {
  const pixels = width * height;
  if (channels === 3) return { width, height, data: new Uint8Array(src.buffer, src.byteOffset, pixels * 3) };
  const data = new Uint8Array(pixels * 3);
  const grey = channels < 3;
  for (let i = 0; i < pixels; i++) {
    const s = i * channels;
    // Grey is replicated; RGBA loses its alpha byte untouched by compositing (PIL's rgba2rgb).
    data[i * 3] = src[s]!;
    data[i * 3 + 1] = src[grey ? s : s + 1]!;
    data[i * 3 + 2] = src[grey ? s : s + 2]!;
  }
  return { width, height, data };
}
