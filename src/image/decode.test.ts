// decodeImage / decodeImageBuffer: how channels are mapped to RGB, and that unreadable input
// becomes an ImageError naming the file. Agreement with PIL on real files is in goldens.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { ImageError } from '../errors.js';
import { decodeImage, decodeImageBuffer } from './decode.js';

const FIXTURES = fileURLToPath(new URL('../../test-fixtures/image/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'visdrop-image-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function pngOf(pixels: number[], width: number, height: number, channels: 1 | 2 | 3 | 4): Promise<Buffer> {
  return sharp(Buffer.from(pixels), { raw: { width, height, channels } }).png().toBuffer();
}

function isImageErrorAbout(subject: string, found?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ImageError, `expected an ImageError, got ${String(err)}`);
    assert.equal(err.subject, subject);
    assert.ok(err.message.includes(subject), err.message);
    if (found) assert.match(err.found, found);
    return true;
  };
}

test('grey is replicated to three channels', async () => {
  const img = await decodeImageBuffer(await pngOf([0, 77, 255], 3, 1, 1), 'grey');
  assert.deepEqual([...img.data], [0, 0, 0, 77, 77, 77, 255, 255, 255]);
});

test('alpha is dropped without compositing, for grey + alpha and RGBA', async () => {
  const la = await decodeImageBuffer(await pngOf([90, 0, 200, 128], 2, 1, 2), 'grey+alpha');
  assert.deepEqual([...la.data], [90, 90, 90, 200, 200, 200]);
  const rgba = await decodeImageBuffer(await pngOf([10, 20, 30, 0, 250, 240, 230, 17], 2, 1, 4), 'rgba');
  assert.deepEqual([...rgba.data], [10, 20, 30, 250, 240, 230]);
});

test('decodeImage and decodeImageBuffer agree', async () => {
  const path = join(FIXTURES, 'rgba-64x40.png');
  const fromFile = await decodeImage(path);
  const fromBuffer = await decodeImageBuffer(readFileSync(path), 'upload');
  assert.deepEqual([fromFile.width, fromFile.height], [64, 40]);
  assert.deepEqual(fromBuffer, fromFile);
});

test('a missing file is an ImageError naming the path', async () => {
  const path = join(scratch, 'no-such-image.png');
  await assert.rejects(decodeImage(path), (err: unknown) => {
    isImageErrorAbout(path, /^no such file$/)(err);
    assert.equal((err as ImageError).expected, 'a readable image file');
    return true;
  });
});

test('truncated PNG and JPEG files are ImageErrors naming the path', async () => {
  for (const [name, keep] of [
    ['rgb-37x53.png', 0.5],
    ['llava-500x375.jpg', 0.4],
  ] as const) {
    const bytes = readFileSync(join(FIXTURES, name));
    const path = join(scratch, `truncated-${name}`);
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * keep)));
    await assert.rejects(decodeImage(path), isImageErrorAbout(path, /./));
  }
});

test('bytes that are no image are an ImageError carrying the label and sharp\'s reason', async () => {
  const path = join(scratch, 'garbage.jpg');
  writeFileSync(path, 'this is not an image at all');
  await assert.rejects(decodeImage(path), isImageErrorAbout(path, /unsupported image format/i));
  await assert.rejects(decodeImageBuffer(new Uint8Array(16), 'upload #3'), isImageErrorAbout('upload #3', /./));
});
