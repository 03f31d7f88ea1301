// End to end on the tiny checkpoint: make-tiny writes it, loadModel opens it, generation matches the
// float64 reference (logits and greedy tokens), and the tiny model's greedy tokens are pinned.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { openCheckpoint, SafetensorsFile, writeSafetensors } from '../checkpoint/index.js';
import { referenceGreedy, referenceLlava } from '../models/reference/index.js';
import { expandImageMarker } from './loop.js';
import { loadModel, type LlavaModel } from './model.js';
import type { GenerationEvent } from './events.js';

const DEMO_IMAGE = join(import.meta.dirname, '..', '..', 'assets', 'demo.jpg');
const QUESTION = 'What is in the picture?';
/** Greedy tokens of the tiny seed-0 checkpoint on the demo picture; a change here is a behaviour change. */
const PINNED_GREEDY = [26890, 30125, 1229, 4302, 16010, 4266, 1229, 4302];

/** The name transformers >= 4.52 saves a llava-hf tensor under. */
function newerName(name: string): string {
  return name
    .replace(/^language_model\.model\./, 'model.language_model.')
    .replace(/^language_model\.lm_head\./, 'lm_head.')
    .replace(/^(vision_tower|multi_modal_projector)\./, 'model.$1.');
}

async function collect(events: AsyncIterable<GenerationEvent>): Promise<GenerationEvent[]> {
  const all: GenerationEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

describe('tiny checkpoint end to end', () => {
  let dir: string;
  let model: LlavaModel;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-tiny-'));
    await makeTinyCheckpoint({ outDir: dir, seed: 0 });
    model = await loadModel(dir);
  });
  after(async () => {
    await model.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds the llava-hf prompt ids with one image marker', () => {
    const { text, inputIds } = model.encodePrompt({ prompt: QUESTION }, true);
    assert.equal(text, 'USER: <image>\nWhat is in the picture? ASSISTANT:');
    assert.deepEqual(inputIds, [1, 3148, 1001, 29901, 29871, 32000, 29871, 13, 5618, 338, 297, 278, 7623, 29973, 319, 1799, 9047, 13566, 29901]);
  });

  it('streams events in order and pins the greedy tokens', async () => {
    const events = await collect(model.generate({ image: DEMO_IMAGE, prompt: QUESTION, maxNewTokens: 8 }));
    assert.deepEqual(
      events.map((e) => e.type),
      ['prefill', ...new Array(8).fill('token'), 'done'],
    );
    const prefill = events[0] as Extract<GenerationEvent, { type: 'prefill' }>;
    assert.deepEqual(prefill.imageTokenRange, [5, 581]);
    assert.equal(prefill.promptTokens, 19 - 1 + 576);
    const done = events.at(-1) as Extract<GenerationEvent, { type: 'done' }>;
    assert.deepEqual(done.tokens, PINNED_GREEDY);
    assert.equal(done.reason, 'max-new-tokens');
    assert.equal(done.text, events.flatMap((e) => (e.type === 'token' ? [e.text] : [])).join(''));
  });

  it('matches the float64 reference: last-position logits and greedy tokens', async () => {
    const pixels = await model.pixelValues(DEMO_IMAGE);
    const { inputIds } = model.encodePrompt({ prompt: QUESTION }, true);
    const events = await collect(model.generate({ pixelValues: pixels, prompt: QUESTION, maxNewTokens: 4 }));
    const prefill = events[0] as Extract<GenerationEvent, { type: 'prefill' }>;
    const done = events.at(-1) as Extract<GenerationEvent, { type: 'done' }>;

    const checkpoint = openCheckpoint(dir);
    try {
      const weights = (name: string) => checkpoint.float32(name);
      const expanded = expandImageMarker(inputIds, model.arch.imageTokenId, model.arch.imageTokensPerImage).ids;
      const reference = referenceLlava(model.arch, weights, expanded, pixels.data, { lastRowLogits: true }).logits;
      assert.equal(prefill.logits.length, reference.length);
      let diff = 0;
      for (let i = 0; i < reference.length; i++) diff = Math.max(diff, Math.abs(prefill.logits[i]! - reference[i]!));
      assert.ok(diff < 1e-3, `last-position logits differ by ${diff}`);
      const greedy = referenceGreedy(model.arch, weights, expanded, pixels.data, 4, []);
      assert.deepEqual(done.tokens, greedy);
    } finally {
      checkpoint.close();
    }
  });

  it('stops on a stop string and on EOS', async () => {
    const first = (await collect(model.generate({ image: DEMO_IMAGE, prompt: QUESTION, maxNewTokens: 8 }))).at(-1) as Extract<GenerationEvent, { type: 'done' }>;
    const stop = first.text.slice(4, 9);
    const stopped = (await collect(model.generate({ image: DEMO_IMAGE, prompt: QUESTION, maxNewTokens: 8, stop: [stop] }))).at(-1) as Extract<GenerationEvent, { type: 'done' }>;
    assert.equal(stopped.reason, 'stop-string');
    assert.equal(stopped.text, first.text.slice(0, first.text.indexOf(stop)));
  });

  it('reads F16 weights stored under the newer transformers tensor names', async () => {
    const newer = mkdtempSync(join(tmpdir(), 'visdrop-tiny-f16-'));
    try {
      await makeTinyCheckpoint({ outDir: newer, seed: 0, dtype: 'F16' });
      const path = join(newer, 'model.safetensors');
      const file = new SafetensorsFile(path);
      const tensors = file.names().map((name) => ({ name: newerName(name), dtype: 'F16' as const, shape: file.info(name).shape, data: file.readFloat32(name) }));
      file.close();
      writeSafetensors(path, tensors);
      const f16 = await loadModel(newer);
      try {
        const done = (await collect(f16.generate({ image: DEMO_IMAGE, prompt: QUESTION, maxNewTokens: 8 }))).at(-1) as Extract<GenerationEvent, { type: 'done' }>;
        assert.deepEqual(done.tokens, PINNED_GREEDY);
      } finally {
        await f16.release();
      }
    } finally {
      rmSync(newer, { recursive: true, force: true });
    }
  });

  it('samples reproducibly from a seed', async () => {
    const run = async (seed: number) =>
      ((await collect(model.generate({ image: DEMO_IMAGE, prompt: QUESTION, maxNewTokens: 6, temperature: 1, topP: 0.9, seed }))).at(-1) as Extract<GenerationEvent, { type: 'done' }>).tokens;
    assert.deepEqual(await run(1), await run(1));
    assert.notDeepEqual(await run(1), await run(2));
  });
});
