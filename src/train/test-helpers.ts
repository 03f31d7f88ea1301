// Fixtures for the trainer's tests: a small LLaVA checkpoint, a generated dataset of coloured
// squares with one-word answers (LLaVA's format, images written with sharp), and a cheap
// stand-in runtime whose loss depends on the parameters and on the batch, for loop tests that
// need no graphs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { LlavaArch } from '../config/llava.js';
import type { LossAndGradients, LossOptions, ParameterTensor, TrainingBatch } from '../runtime/training-runtime.js';
import { makeTinyCheckpoint, type TinyShape } from '../tools/make-tiny.js';
import type { LossRuntime } from './train.js';
import { isTrainable } from './train.js';

/** 2x2 patches of 14 pixels: 4 image tokens; narrow layers. */
export const SMALL_SHAPE: Partial<TinyShape> = {
  imageSize: 28,
  patchSize: 14,
  visionHidden: 32,
  visionLayers: 2,
  visionHeads: 2,
  textHidden: 64,
  textLayers: 2,
  textHeads: 2,
  textKvHeads: 2,
};

/** Narrower still, for a few hundred real training steps in seconds. */
export const TRAINING_SHAPE: Partial<TinyShape> = { ...SMALL_SHAPE, textHidden: 32, visionHidden: 16, visionHeads: 1 };

export async function makeSmallModel(dir: string, seed = 1, shape: Partial<TinyShape> = SMALL_SHAPE): Promise<LlavaArch> {
  return makeTinyCheckpoint({ outDir: dir, seed, shape });
}

export const COLOURS: ReadonlyArray<readonly [string, readonly [number, number, number]]> = [
  ['Red', [220, 30, 30]],
  ['Green', [30, 180, 40]],
  ['Blue', [30, 60, 220]],
  ['Yellow', [235, 220, 40]],
];

/** Writes one solid square per colour into `dir/images` and `dir/data.json` asking for its colour. */
export async function makeColourData(dir: string, questions = ['What colour is this?']): Promise<{ data: string; images: string }> {
  const images = join(dir, 'images');
  mkdirSync(images, { recursive: true });
  const samples: unknown[] = [];
  for (const [name, rgb] of COLOURS) {
    const file = `${name.toLowerCase()}.png`;
    await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toFile(join(images, file));
    questions.forEach((question, q) => {
      samples.push({ id: `${name}-${q}`, image: file, conversations: [{ from: 'human', value: `<image>\n${question}` }, { from: 'gpt', value: name }] });
    });
  }
  const data = join(dir, 'data.json');
  writeFileSync(data, JSON.stringify(samples, null, 1));
  return { data, images };
}

/**
 * loss = mean over trainable tensors of mean((p - t)^2), t a target drawn from the batch's labels,
 * so the losses depend on the data order, the optimizer state and the schedule.
 */
export function quadraticRuntime(parameters: ReadonlyMap<string, ParameterTensor>): LossRuntime & { calls: number } {
  const runtime = {
    calls: 0,
    async lossAndGradients(batch: TrainingBatch, options: LossOptions): Promise<LossAndGradients> {
      runtime.calls += 1;
      let labelSum = 0;
      let tokens = 0;
      for (const label of batch.labels) {
        if (label === -100) continue;
        labelSum += label;
        tokens += 1;
      }
      const target = ((labelSum % 97) - 48) / 100;
      const names = [...parameters.keys()].filter((name) => isTrainable(name, options.trainable));
      let loss = 0;
      const grads = new Map<string, Float32Array>();
      for (const name of names) {
        const p = parameters.get(name)!.data;
        const grad = new Float32Array(p.length);
        let sum = 0;
        for (let i = 0; i < p.length; i++) {
          const d = p[i]! - target;
          sum += d * d;
          grad[i] = (2 * d) / (p.length * names.length);
        }
        loss += sum / p.length / names.length;
        grads.set(name, grad);
      }
      return { loss, tokens, grads };
    },
    async release() {},
  };
  return runtime;
}
