// Agreement with the PIL / transformers goldens of test-fixtures/image (written by
// tools/python/image_goldens.py): decoding and bicubic resize byte for byte (JPEG decode within 1),
// pixel values within 1e-3. Each assertion message carries the measured difference.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ImagePreprocessing } from '../config/preprocessor.js';
import { decodeImage, preprocessImage, resizeBicubic, resizeTarget, type RgbImage } from './index.js';

const DIR = fileURLToPath(new URL('../../test-fixtures/image/', import.meta.url));
const TOLERANCE = 1e-3;

interface SourceRef {
  readonly source: string;
  readonly sourceWidth: number;
  readonly sourceHeight: number;
}
interface Manifest {
  readonly decode: readonly { file: string; width: number; height: number; rgb: string; lossy: boolean }[];
  readonly resize: readonly (SourceRef & { width: number; height: number; expected: string })[];
  readonly pixels: readonly (SourceRef & {
    name: string;
    preprocessing: ImagePreprocessing;
    shape: number[];
    expected: string;
  })[];
  readonly llava: {
    readonly file: string;
    readonly preprocessing: ImagePreprocessing;
    readonly decodedSha256: string;
    readonly resizedWidth: number;
    readonly resizedHeight: number;
    readonly resizedSha256: string;
    readonly resizedRowSums: readonly (readonly [number, number, number])[];
    readonly shape: number[];
    readonly channelSums: readonly number[];
    readonly sampleIndices: readonly number[];
    readonly sampleValues: readonly number[];
  };
}

const manifest = JSON.parse(readFileSync(join(DIR, 'goldens.json'), 'utf8')) as Manifest;

function bytes(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(join(DIR, rel)));
}

function floats(rel: string): Float32Array {
  const buf = readFileSync(join(DIR, rel));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return Float32Array.from({ length: buf.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

function source(ref: SourceRef): RgbImage {
  return { width: ref.sourceWidth, height: ref.sourceHeight, data: bytes(ref.source) };
}

/** Count of differing entries, the largest absolute difference, and where it first occurs. */
function compare(actual: ArrayLike<number>, expected: ArrayLike<number>): { count: number; max: number; at: number } {
  assert.equal(actual.length, expected.length, 'length');
  let count = 0;
  let max = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (d > 0) count++;
    if (d > max) [max, at] = [d, i];
  }
  return { count, max, at };
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

test('decoding matches PIL convert("RGB")', async (t) => {
  for (const c of manifest.decode) {
    const img = await decodeImage(join(DIR, c.file));
    assert.deepEqual([img.width, img.height], [c.width, c.height], `${c.file}: size`);
    const d = compare(img.data, bytes(c.rgb));
    t.diagnostic(`${c.file}: ${d.count} bytes differ, max ${d.max}`);
    assert.ok(d.max <= (c.lossy ? 1 : 0), `${c.file}: ${d.count} bytes differ, max diff ${d.max} at byte ${d.at}`);
  }
});

test('resizeBicubic equals Pillow resize(BICUBIC) byte for byte', (t) => {
  for (const c of manifest.resize) {
    const out = resizeBicubic(source(c), c.width, c.height);
    assert.deepEqual([out.width, out.height], [c.width, c.height]);
    const d = compare(out.data, bytes(c.expected));
    t.diagnostic(`${c.expected}: ${d.count} bytes differ`);
    assert.equal(d.count, 0, `${c.expected}: ${d.count} bytes differ, max diff ${d.max} at byte ${d.at}`);
  }
});

test('pixel values match transformers within 1e-3', (t) => {
  for (const c of manifest.pixels) {
    const pv = preprocessImage(source(c), c.preprocessing);
    assert.deepEqual(pv.shape, c.shape, `${c.name}: shape`);
    const d = compare(pv.data, floats(c.expected));
    t.diagnostic(`${c.name}: max abs diff ${d.max}`);
    assert.ok(d.max <= TOLERANCE, `${c.name}: max abs diff ${d.max} at index ${d.at}`);
  }
});

test('llava-hf setting (shortest edge 336, crop 336) on a 500x375 JPEG', async (t) => {
  const g = manifest.llava;
  const img = await decodeImage(join(DIR, g.file));
  assert.equal(sha256(img.data), g.decodedSha256, 'decoded pixels differ from PIL');

  assert.ok(g.preprocessing.resize !== null);
  const size = resizeTarget(img.width, img.height, g.preprocessing.resize);
  assert.deepEqual(size, { width: g.resizedWidth, height: g.resizedHeight });
  const resized = resizeBicubic(img, size.width, size.height);
  const rowSums = Array.from({ length: resized.height }, (_, y) => {
    const sums: [number, number, number] = [0, 0, 0];
    for (let i = y * resized.width * 3; i < (y + 1) * resized.width * 3; i++) sums[i % 3]! += resized.data[i]!;
    return sums;
  });
  const badRows = rowSums.flatMap((s, y) => (s.every((v, c) => v === g.resizedRowSums[y]![c]) ? [] : [y]));
  assert.deepEqual(badRows, [], `resized rows whose channel sums differ from Pillow: ${badRows.slice(0, 10).join(', ')}`);
  assert.equal(sha256(resized.data), g.resizedSha256, 'resized pixels differ from Pillow');

  const pv = preprocessImage(img, g.preprocessing);
  assert.deepEqual(pv.shape, g.shape);
  const sampled = g.sampleIndices.map((i) => pv.data[i]!);
  const d = compare(sampled, g.sampleValues);
  t.diagnostic(`${g.sampleIndices.length} sampled pixel values: max abs diff ${d.max}`);
  assert.ok(d.max <= TOLERANCE, `sampled pixel values: max abs diff ${d.max} at sample ${d.at}`);
  const plane = pv.shape[2] * pv.shape[3];
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    for (let i = c * plane; i < (c + 1) * plane; i++) sum += pv.data[i]!;
    // A 1e-3 error on every value would move the sum by about plane * 1e-3 = 113.
    assert.ok(Math.abs(sum - g.channelSums[c]!) < 1, `channel ${c} sum ${sum}, transformers ${g.channelSums[c]}`);
  }
});
