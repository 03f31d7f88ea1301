// The training loop on a small real checkpoint with a stand-in runtime (a quadratic loss that
// depends on the batch): resume gives the losses of an uninterrupted run, checkpoints load with
// loadModel, a half-written save is never picked up, and every bad input is one clear error with
// nothing written.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { CheckpointError, DataError, OptionError, VisdropError } from '../errors.js';
import { loadModel } from '../generate/model.js';
import { openCheckpoint } from '../checkpoint/index.js';
import { makeColourData, makeSmallModel, quadraticRuntime } from './test-helpers.js';
import { train, type RuntimeFactory, type TrainEvent, type TrainOptions } from './train.js';

const root = mkdtempSync(join(tmpdir(), 'visdrop-train-'));
after(() => rmSync(root, { recursive: true, force: true }));
const model = join(root, 'model');
const otherModel = join(root, 'other-model');
let data = '';
let images = '';
let outs = 0;
const newOut = () => join(root, `out-${outs++}`);

before(async () => {
  await makeSmallModel(model, 1);
  await makeSmallModel(otherModel, 2);
  ({ data, images } = await makeColourData(root, ['What colour is this?', 'Name the colour.']));
});

const stand: RuntimeFactory = async (_arch, parameters) => quadraticRuntime(parameters);

async function run(options: TrainOptions, stopAfterStep = Infinity): Promise<TrainEvent[]> {
  const events: TrainEvent[] = [];
  for await (const event of train(options, stand)) {
    events.push(event);
    if (event.type === 'checkpoint' && event.step >= stopAfterStep) break;
  }
  return events;
}

const losses = (events: TrainEvent[]) => events.flatMap((e) => (e.type === 'step' ? [e.loss] : []));

describe('train (stand-in runtime)', () => {
  const base = () => ({ model, data, images, stage: 'pretrain' as const, maxSteps: 8, batchSize: 2, gradAccum: 2, lr: 0.05, seed: 3 });

  test('2N steps equal N steps + resume + N steps, loss for loss', async () => {
    const whole = await run({ ...base(), out: newOut() });
    assert.equal(losses(whole).length, 8);
    const out = newOut();
    const first = await run({ ...base(), out, saveEvery: 4 }, 4);
    assert.equal(losses(first).length, 4);
    assert.ok(existsSync(join(out, 'checkpoint-4', 'trainer_state.json')));
    assert.ok(!existsSync(join(out, 'model.safetensors')), 'the interrupted run wrote no final model');
    const second = await run({ ...base(), out, saveEvery: 4, resume: true });
    const start = second.find((e) => e.type === 'start');
    assert.ok(start?.type === 'start' && start.startStep === 4);
    assert.deepEqual([...losses(first), ...losses(second)], losses(whole));
    // The log holds each step once, in order.
    const log = readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { step: number; loss: number });
    assert.deepEqual(log.map((r) => r.step), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(log.map((r) => r.loss), losses(whole));
    assert.ok(existsSync(join(out, 'loss-curve.png')));
  });

  test("a run started from an earlier run's output keeps its own log", async () => {
    const first = newOut();
    await run({ ...base(), out: first, maxSteps: 3 });
    const out = newOut();
    await run({ ...base(), model: first, out, maxSteps: 2 });
    const log = readFileSync(join(out, 'train-log.jsonl'), 'utf8').trim().split('\n');
    assert.equal(log.length, 2, 'the second run logged its own 2 steps (the first run logged 3)');
  });

  test('checkpoints and the final model load with loadModel and hold the trained weights', async () => {
    const out = newOut();
    const events = await run({ ...base(), out, maxSteps: 3, saveEvery: 2 });
    assert.deepEqual(events.filter((e) => e.type === 'checkpoint').map((e) => e.type === 'checkpoint' && e.step), [2, 3]);
    assert.deepEqual(readdirSync(out).filter((e) => e.startsWith('checkpoint-')), ['checkpoint-3'], 'older checkpoints are removed');
    const name = 'multi_modal_projector.linear_1.weight';
    const trained = openCheckpoint(out);
    const source = openCheckpoint(model);
    const frozen = 'language_model.model.layers.0.mlp.up_proj.weight';
    assert.notDeepEqual(trained.float32(name), source.float32(name));
    assert.deepEqual(trained.float32(frozen), source.float32(frozen), 'pretrain leaves the LLM alone');
    trained.close();
    source.close();
    for (const dir of [out, join(out, 'checkpoint-3')]) {
      const loaded = await loadModel(dir);
      let tokens = 0;
      for await (const event of loaded.generate({ image: join(images, 'red.png'), prompt: 'What colour is this?', maxNewTokens: 2 })) if (event.type === 'token') tokens += 1;
      assert.ok(tokens >= 1);
      await loaded.release();
    }
  });

  test('a save killed half-way leaves a temporary directory that a resume ignores and removes', async () => {
    const out = newOut();
    await run({ ...base(), out, saveEvery: 4 }, 4);
    const partial = join(out, '.tmp-checkpoint-8-99999');
    mkdirSync(partial);
    writeFileSync(join(partial, 'model.safetensors'), 'half');
    const resumed = await run({ ...base(), out, saveEvery: 4, resume: true });
    const start = resumed.find((e) => e.type === 'start');
    assert.ok(start?.type === 'start' && start.startStep === 4);
    assert.ok(!existsSync(partial));
  });

  describe('bad input: one clear error, nothing written', () => {
    async function refuses(options: TrainOptions, ErrorClass: typeof VisdropError, ...mentions: string[]): Promise<void> {
      await assert.rejects(run(options), (error: unknown) => {
        assert.ok(error instanceof ErrorClass, `expected ${ErrorClass.name}, got ${String(error)}`);
        for (const text of mentions) assert.ok((error as Error).message.includes(text), `"${(error as Error).message}" should mention ${text}`);
        assert.ok(!(error as Error).message.includes('\n'));
        return true;
      });
    }
    const writeData = (name: string, samples: unknown) => {
      const file = join(root, name);
      writeFileSync(file, JSON.stringify(samples));
      return file;
    };

    test('an image named but no <image> in the conversation', async () => {
      const file = writeData('no-marker.json', [{ id: 'a1', image: 'red.png', conversations: [{ from: 'human', value: 'Colour?' }, { from: 'gpt', value: 'Red' }] }]);
      const out = newOut();
      await refuses({ ...base(), data: file, out }, DataError, 'sample 0 (id "a1")', 'one <image>', 'found 0');
      assert.ok(!existsSync(out));
    });

    test('<image> in the conversation but no image named', async () => {
      const file = writeData('no-image.json', [{ id: 'b2', conversations: [{ from: 'human', value: '<image>\nColour?' }, { from: 'gpt', value: 'Red' }] }]);
      await refuses({ ...base(), data: file, out: newOut() }, DataError, 'sample 0 (id "b2")', 'no <image>');
    });

    test('a missing image', async () => {
      const file = writeData('missing.json', [{ id: 'c3', image: 'purple.png', conversations: [{ from: 'human', value: '<image>\nColour?' }, { from: 'gpt', value: 'Purple' }] }]);
      await refuses({ ...base(), data: file, out: newOut() }, DataError, 'purple.png', 'no such file');
    });

    test('an empty dataset', async () => {
      await refuses({ ...base(), data: writeData('empty.json', []), out: newOut() }, DataError, 'empty.json', 'at least one sample');
    });

    test('a sample longer than the context is an error naming it, never truncated', async () => {
      await refuses({ ...base(), stage: 'finetune', modelMaxLength: 40, out: newOut() }, DataError, 'sample', 'at most 40 tokens');
    });

    test('an output directory holding something, without --resume', async () => {
      const out = newOut();
      mkdirSync(out);
      writeFileSync(join(out, 'notes.txt'), 'keep me');
      await refuses({ ...base(), out }, OptionError, '--out', 'notes.txt');
      assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'keep me');
    });

    test('a resume from another model, other data or other options', async () => {
      const out = newOut();
      await run({ ...base(), out, saveEvery: 4 }, 4);
      const before = readdirSync(out).sort();
      await refuses({ ...base(), model: otherModel, out, resume: true }, CheckpointError, 'another --model');
      await refuses({ ...base(), data: writeData('other.json', JSON.parse(readFileSync(data, 'utf8')).slice(1)), out, resume: true }, CheckpointError, 'another --data');
      await refuses({ ...base(), lr: 0.01, out, resume: true }, CheckpointError, 'lr: 0.05', 'lr: 0.01');
      assert.deepEqual(readdirSync(out).sort(), before);
      const withTower = newOut();
      await run({ ...base(), train: ['vision', 'projector'], out: withTower, saveEvery: 4 }, 4);
      await refuses({ ...base(), train: ['vision', 'projector'], visionLr: 0.01, out: withTower, resume: true }, CheckpointError, 'visionLr: 0.01');
    });

    test('a resume with nothing to resume from', async () => {
      await refuses({ ...base(), out: newOut(), resume: true }, OptionError, '--resume', 'found none');
    });

    test('bad option values', async () => {
      await refuses({ ...base(), lr: -1, out: newOut() }, OptionError, '--lr');
      await refuses({ ...base(), epochs: 2, out: newOut() }, OptionError, '--epochs / --max-steps');
      await refuses({ ...base(), train: [], out: newOut() }, OptionError, '--train');
      await refuses({ ...base(), warmupRatio: 2, out: newOut() }, OptionError, '--warmup-ratio');
      await refuses({ ...base(), visionLr: 1e-4, out: newOut() }, OptionError, '--vision-lr', 'the vision tower frozen (training projector)');
      await refuses({ ...base(), train: ['vision'], visionLr: 0, out: newOut() }, OptionError, '--vision-lr', 'a number > 0');
    });

    test('the CLI prints one line and exits 1 for a bad flag', () => {
      const result = spawnSync(process.execPath, ['--import', 'tsx', join('src', 'cli', 'main.ts'), 'train', '--model', model, '--data', data, '--out', newOut(), '--batch-size', '0'], { encoding: 'utf8' });
      assert.equal(result.status, 1);
      assert.equal(result.stderr.trim().split('\n').length, 1);
      assert.match(result.stderr, /--batch-size: expected a whole number >= 1, found "0"/);
    });
  });
});
