// Real training on the engine's training runtime: a tiny LLaVA fine-tuned for 200 steps on
// generated coloured squares learns to name each colour (loss far below its start, greedy answers
// through loadModel + generate equal the training answers); and with PyramidDrop inside the
// forward, N steps + resume + N steps give the losses of 2N steps.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadModel } from '../generate/model.js';
import { pyramidDropTraining } from '../reduce/pyramid-drop-train.js';
import { COLOURS, makeColourData, makeSmallModel, TRAINING_SHAPE } from './test-helpers.js';
import { train, type TrainEvent, type TrainOptions } from './train.js';

const root = mkdtempSync(join(tmpdir(), 'visdrop-tiny-training-'));
after(() => rmSync(root, { recursive: true, force: true }));
const model = join(root, 'model');
const QUESTIONS = ['What colour is this?', 'Name the colour.'];
let data = '';
let images = '';

before(async () => {
  await makeSmallModel(model, 1, TRAINING_SHAPE);
  ({ data, images } = await makeColourData(root, QUESTIONS));
});

async function losses(options: TrainOptions, stopAfterStep = Infinity): Promise<number[]> {
  const out: number[] = [];
  for await (const event of train(options)) {
    if (event.type === 'step') out.push(event.loss);
    if (event.type === 'checkpoint' && event.step >= stopAfterStep) break;
  }
  return out;
}

describe('training a tiny LLaVA', () => {
  test('200 steps: the loss falls far below its start and greedy answers match the training answers', async () => {
    const out = join(root, 'colours');
    const steps: Extract<TrainEvent, { type: 'step' }>[] = [];
    for await (const event of train({ model, data, images, out, stage: 'finetune', maxSteps: 200, lr: 3e-3, seed: 1 })) {
      if (event.type === 'step') steps.push(event);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const start = mean(steps.slice(0, 5).map((s) => s.loss));
    const end = mean(steps.slice(-10).map((s) => s.loss));
    assert.ok(end < start / 20, `loss ${start.toFixed(3)} -> ${end.toFixed(3)}`);
    const trained = await loadModel(out);
    try {
      for (const [name] of COLOURS) {
        for (const prompt of QUESTIONS) {
          let text = '';
          for await (const event of trained.generate({ image: join(images, `${name.toLowerCase()}.png`), prompt, maxNewTokens: 4 })) if (event.type === 'done') text = event.text;
          assert.equal(text, name, `${prompt} (${name.toLowerCase()}.png)`);
        }
      }
    } finally {
      await trained.release();
    }
  });

  test('with PyramidDrop: N steps + resume + N steps give the losses of 2N steps', async () => {
    const options = (out: string): TrainOptions => ({
      model,
      data,
      images,
      out,
      stage: 'finetune',
      maxSteps: 6,
      batchSize: 2,
      gradAccum: 2,
      lr: 3e-3,
      seed: 5,
      saveEvery: 3,
      reduce: pyramidDropTraining({ layers: [1], ratios: [0.5] }),
    });
    const whole = await losses(options(join(root, 'whole')));
    const out = join(root, 'resumed');
    const first = await losses(options(out), 3);
    const second = await losses({ ...options(out), resume: true });
    assert.equal(whole.length, 6);
    assert.deepEqual([...first, ...second], whole);
  });
});
