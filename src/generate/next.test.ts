// LLaVA-NeXT end to end on a tiny anyres checkpoint: tiling, the batched tower over all crops, the
// packed feature grid and the decoder, against the float64 reference run crop by crop; token counts
// as Hugging Face's processor counts them; pixel values through a file; reductions on NeXT.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { openCheckpoint } from '../checkpoint/index.js';
import { nextImageTokenCount } from '../image/index.js';
import { referenceDecoder, referenceImageFeatures, referenceMergeEmbeddings } from '../models/reference/index.js';
import { pyramidDrop } from '../reduce/pyramid-drop.js';
import { mustDrop } from '../reduce/must-drop.js';
import { expandImageMarker } from './loop.js';
import { loadModel, type LlavaModel } from './model.js';
import { packNextFeatures } from './next-features.js';
import { readPixelValues, writePixelValues } from './pixel-values-file.js';
import { unpaddedGrid, gridShape } from '../image/index.js';
import type { GenerationEvent } from './events.js';
import type { AnyresPixelValues } from './vision.js';

const DEMO_IMAGE = join(import.meta.dirname, '..', '..', 'assets', 'demo.jpg'); // 480 x 360
const QUESTION = 'What is in the picture?';

async function prefillOf(model: LlavaModel, request: Parameters<LlavaModel['generate']>[0]) {
  for await (const event of model.generate({ ...request, maxNewTokens: 1 })) {
    if (event.type === 'prefill') return event;
  }
  throw new Error('no prefill event');
}

describe('LLaVA-NeXT end to end', () => {
  let dir: string;
  let model: LlavaModel;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-next-'));
    await makeTinyCheckpoint({ outDir: dir, seed: 3, arch: 'llava-next', shape: { textLayers: 2, visionLayers: 3 } });
    model = await loadModel(dir);
  });
  after(async () => {
    await model.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tiles a 480x360 image onto the 672x672 canvas: base + 2x2 crops, 2340 image tokens', async () => {
    const pixels = (await model.pixelValues(DEMO_IMAGE)) as AnyresPixelValues;
    assert.deepEqual(pixels.shape, [1, 5, 3, 336, 336]);
    assert.deepEqual(pixels.imageSize, [360, 480]);
    const prefill = await prefillOf(model, { pixelValues: pixels, prompt: QUESTION });
    assert.deepEqual(prefill.imageTokenRange, [5, 5 + 2340]);
    assert.equal(nextImageTokenCount([360, 480], model.arch.anyres!.pinpoints, 336, 24), 2340);
  });

  it('matches the float64 reference run crop by crop, then packed and decoded', async () => {
    const pixels = (await model.pixelValues(DEMO_IMAGE)) as AnyresPixelValues;
    const prefill = await prefillOf(model, { pixelValues: pixels, prompt: QUESTION });
    const checkpoint = openCheckpoint(dir);
    try {
      const weights = (name: string) => checkpoint.float32(name);
      const arch = model.arch;
      const D = arch.text.hiddenSize;
      const cropValues = 3 * 336 * 336;
      const perCrop = Array.from({ length: 5 }, (_, c) => referenceImageFeatures(arch, weights, pixels.data.subarray(c * cropValues, (c + 1) * cropValues)));
      const features = new Float32Array(5 * 576 * D);
      perCrop.forEach((f, c) => features.set(f, c * 576 * D));
      const [rows, cols] = gridShape(pixels.imageSize, arch.anyres!.pinpoints, 336);
      const packed = packNextFeatures(features, D, 24, cols, unpaddedGrid(pixels.imageSize, rows * 24, cols * 24), checkpoint.float32('image_newline'));
      const { inputIds } = model.encodePrompt({ prompt: QUESTION }, true);
      const expanded = expandImageMarker(inputIds, arch.imageTokenId, packed.length / D).ids;
      const embeddings = referenceMergeEmbeddings({ ...arch, imageTokensPerImage: packed.length / D }, weights, expanded, Float64Array.from(packed));
      const reference = referenceDecoder(arch, weights, embeddings, expanded.map((_, i) => i), { lastRowLogits: true }).logits;
      let diff = 0;
      for (let i = 0; i < reference.length; i++) diff = Math.max(diff, Math.abs(prefill.logits[i]! - reference[i]!));
      assert.ok(diff < 1e-3, `last-position logits differ by ${diff}`);
    } finally {
      checkpoint.close();
    }
  });

  it('reads NeXT pixel values and image sizes back from a file', async () => {
    const pixels = (await model.pixelValues(DEMO_IMAGE)) as AnyresPixelValues;
    const path = join(dir, 'pixels.safetensors');
    writePixelValues(path, pixels);
    const read = readPixelValues(path) as AnyresPixelValues;
    assert.deepEqual(read.shape, pixels.shape);
    assert.deepEqual(read.imageSize, pixels.imageSize);
    assert.deepEqual(read.data, pixels.data);
  });

  it('refuses pixel values whose crop count does not fit the image size', async () => {
    const pixels = (await model.pixelValues(DEMO_IMAGE)) as AnyresPixelValues;
    const wrong = { ...pixels, imageSize: [336, 336] as [number, number] };
    await assert.rejects(prefillOf(model, { pixelValues: wrong, prompt: QUESTION }), /3 crops/);
  });

  it('reduces the whole image span, newline tokens included, with PyramidDrop', async () => {
    const prefill: Extract<GenerationEvent, { type: 'prefill' }> = await prefillOf(model, {
      image: DEMO_IMAGE,
      prompt: QUESTION,
      reduce: pyramidDrop({ layers: [1], ratios: [0.25] }),
    });
    assert.deepEqual(prefill.reduction!.imageTokensPerLayer, [2340, 585]);
  });

  it("runs MustDrop as its code does on NeXT: flat crops, equal merges per crop, a key set per crop", async () => {
    const prefill = await prefillOf(model, { image: DEMO_IMAGE, prompt: QUESTION, reduce: mustDrop({ layers: [0], budget: 64 }) });
    const vision = prefill.reduction!.vision!;
    const perCrop = vision.mergedWindowsPerCrop!;
    assert.equal(perCrop.length, 5);
    const r = perCrop[0]!.length;
    assert.ok(perCrop.every((windows) => windows.length === r), 'every crop merges the same count');
    const tokensPerCrop = 576 - 8 * r;
    assert.deepEqual(prefill.imageTokenRange, [5, 5 + 5 * tokensPerCrop]);
    const covered = vision.imageTokenOrder.flat().sort((a, b) => a - b);
    assert.deepEqual(covered, Array.from({ length: 5 * 576 }, (_, i) => i), 'each patch of each crop stands in exactly one token');
    const keysPerCrop = Math.ceil(0.08 * tokensPerCrop);
    assert.equal(vision.keySet.length, 5 * keysPerCrop);
    for (let c = 0; c < 5; c++) {
      const mine = vision.keySet.filter((k) => k >= c * tokensPerCrop && k < (c + 1) * tokensPerCrop);
      assert.equal(mine.length, keysPerCrop, `crop ${c} keys`);
    }
  });
});
