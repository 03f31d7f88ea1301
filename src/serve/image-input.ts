// A request's image_url, resolved to bytes and checked before the request queues: `data:` URLs
// (base64 or percent-encoded), `file://` URLs only inside the directory --allow-local-files names,
// nothing fetched from the network. The byte size is checked before decoding base64, and the pixel
// count from the image's header (sharp's metadata reads no pixels), so a decompression bomb, a
// small file declaring a huge image, is refused without being decoded.
import { realpath, open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sep } from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { ApiError, invalidRequest } from './api-error.js';
import type { ImageReference } from './chat-request.js';

export interface ImageLimits {
  readonly maxImageBytes: number;
  readonly maxImagePixels: number;
  /** The directory file:// URLs may point into, or null: no local files. */
  readonly allowLocalFiles: string | null;
}

export interface CheckedImage {
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly format: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The bytes of a `data:[<media type>][;base64],<data>` URL (RFC 2397), at most `maxBytes` of them. */
export function parseDataUrl(url: string, param: string, maxBytes: number): Uint8Array {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw invalidRequest(param, 'a data: URL of the form data:image/png;base64,...', describeUrl(url));
  const meta = url.slice(5, comma).split(';');
  const mediaType = meta[0]!.trim().toLowerCase();
  if (mediaType !== '' && !mediaType.startsWith('image/')) throw invalidRequest(param, 'an image media type (image/png, image/jpeg, ...)', JSON.stringify(mediaType));
  const payload = url.slice(comma + 1);
  if (meta.slice(1).includes('base64')) {
    // Checked before decoding: base64 carries 3 bytes in 4 characters.
    const bytes = Math.floor((payload.length * 3) / 4);
    if (bytes > maxBytes) throw tooLarge(param, maxBytes, `${bytes} bytes`);
    if (payload.length % 4 !== 0 || !BASE64.test(payload)) throw invalidRequest(param, 'base64 data (A-Z, a-z, 0-9, +, /, = padding)', 'other characters or a length not a multiple of 4');
    return Buffer.from(payload, 'base64');
  }
  if (payload.length > maxBytes * 3) throw tooLarge(param, maxBytes, `${payload.length} characters of percent-encoded data`);
  let text: string;
  try {
    text = decodeURIComponent(payload);
  } catch {
    throw invalidRequest(param, 'percent-encoded data', 'a malformed escape');
  }
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length > maxBytes) throw tooLarge(param, maxBytes, `${bytes.length} bytes`);
  return bytes;
}

function tooLarge(param: string, maxBytes: number, found: string): ApiError {
  return new ApiError(413, 'invalid_request_error', `${param}: expected an image of at most ${maxBytes} bytes (--max-image-bytes), found ${found}`, param, 'image_too_large');
}

function describeUrl(url: string): string {
  return JSON.stringify(url.length > 40 ? `${url.slice(0, 37)}...` : url);
}

/** A file:// URL's bytes, when it resolves (symbolic links followed) inside `dir`. */
async function readLocalFile(url: string, param: string, dir: string | null, maxBytes: number): Promise<Uint8Array> {
  if (dir === null) throw invalidRequest(param, 'a data: URL (file:// URLs need the server started with --allow-local-files DIR)', describeUrl(url));
  let path: string;
  try {
    path = await realpath(fileURLToPath(url));
  } catch (error) {
    throw invalidRequest(param, 'a file:// URL of an existing file', `${describeUrl(url)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const root = await realpath(dir);
  if (!path.startsWith(root + sep)) throw new ApiError(403, 'invalid_request_error', `${param}: expected a file under the allowed directory, found ${describeUrl(url)}`, param, 'file_not_allowed');
  const file = await open(path, 'r');
  try {
    const { size, isFile } = await file.stat().then((s) => ({ size: s.size, isFile: s.isFile() }));
    if (!isFile) throw invalidRequest(param, 'a regular file', describeUrl(url));
    if (size > maxBytes) throw tooLarge(param, maxBytes, `${size} bytes`);
    return await file.readFile();
  } finally {
    await file.close();
  }
}

/** The image's bytes and header, refused when too large in bytes or pixels, or not an image. */
export async function resolveImage(ref: ImageReference, limits: ImageLimits): Promise<CheckedImage> {
  const { url, param } = ref;
  const scheme = url.slice(0, url.indexOf(':') + 1).toLowerCase();
  let bytes: Uint8Array;
  if (scheme === 'data:') bytes = parseDataUrl(url, param, limits.maxImageBytes);
  else if (scheme === 'file:') bytes = await readLocalFile(url, param, limits.allowLocalFiles, limits.maxImageBytes);
  else throw invalidRequest(param, 'a data: URL (this server fetches nothing from the network)', describeUrl(url), 'unsupported_url');
  return { bytes, ...(await checkImageHeader(bytes, param, limits.maxImagePixels)) };
}

/** Width, height and format from the header alone; refuses images of more than `maxPixels` pixels. */
export async function checkImageHeader(bytes: Uint8Array, param: string, maxPixels: number): Promise<{ width: number; height: number; format: string }> {
  if (bytes.length === 0) throw invalidRequest(param, 'image bytes', 'an empty image');
  let meta: Metadata;
  try {
    // No pixel limit here: metadata decodes no pixels, and the check below names the dimensions.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw invalidRequest(param, 'an image sharp can decode (JPEG, PNG, WebP, ...)', (error as Error).message, 'invalid_image');
  }
  const { width, height, format } = meta;
  if (!width || !height) throw invalidRequest(param, 'an image with a width and a height', `${format ?? 'unknown format'} without dimensions`, 'invalid_image');
  // Only the first page of an animated or multi-page image is decoded.
  if (width * height > maxPixels) {
    throw new ApiError(413, 'invalid_request_error', `${param}: expected at most ${maxPixels} pixels (--max-image-pixels), found ${width}x${height}`, param, 'image_too_large');
  }
  return { width, height, format: format ?? 'unknown' };
}
