// The run's data order and its micro-batches: each epoch a seeded shuffle of the samples
// (Fisher-Yates, seed and epoch alone decide it, so a resumed run rebuilds the same order), cut
// into micro-batches of B samples (the last may be smaller); an optimizer step takes G consecutive
// micro-batches (an epoch's last step takes what is left). A micro-batch becomes a TrainingBatch:
// the image marker expanded into the image's N tokens (labels -100 there), rows right-padded to
// the longest with an attention mask.
import { mulberry32 } from '../util/prng.js';
import type { TrainingBatch } from '../runtime/training-runtime.js';
import { IGNORE_INDEX, type TokenizedSample } from './conversation.js';

/** Sample indices of epoch `epoch` in training order. */
export function epochOrder(seed: number, epoch: number, samples: number): number[] {
  const random = mulberry32((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
  const order = Array.from({ length: samples }, (_, i) => i);
  for (let i = samples - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

export interface RunLayout {
  readonly samples: number;
  readonly batchSize: number;
  readonly gradAccum: number;
  readonly microBatchesPerEpoch: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly epochs: number;
}

/** Steps and epochs of a run: `epochs` whole epochs, or `maxSteps` steps (as many epochs as they take). */
export function runLayout(samples: number, batchSize: number, gradAccum: number, length: { epochs: number } | { maxSteps: number }): RunLayout {
  const microBatchesPerEpoch = Math.ceil(samples / batchSize);
  const stepsPerEpoch = Math.ceil(microBatchesPerEpoch / gradAccum);
  const totalSteps = 'maxSteps' in length ? length.maxSteps : length.epochs * stepsPerEpoch;
  const epochs = Math.ceil(totalSteps / stepsPerEpoch);
  return { samples, batchSize, gradAccum, microBatchesPerEpoch, stepsPerEpoch, totalSteps, epochs };
}

/** The micro-batches (sample indices each) of optimizer step `step` (0-based, over the whole run). */
export function stepMicroBatches(layout: RunLayout, order: (epoch: number) => readonly number[], step: number): { epoch: number; microBatches: number[][] } {
  const epoch = Math.floor(step / layout.stepsPerEpoch);
  const within = step - epoch * layout.stepsPerEpoch;
  const samples = order(epoch);
  const microBatches: number[][] = [];
  const first = within * layout.gradAccum;
  const last = Math.min(first + layout.gradAccum, layout.microBatchesPerEpoch);
  for (let m = first; m < last; m++) microBatches.push(samples.slice(m * layout.batchSize, (m + 1) * layout.batchSize));
  return { epoch, microBatches };
}

/** Length of a sample once its image marker stands for `imageTokens` tokens. */
export function expandedLength(sample: TokenizedSample, imageTokenId: number, imageTokens: number): number {
  const markers = sample.inputIds.reduce((n, id) => n + (id === imageTokenId ? 1 : 0), 0);
  return sample.inputIds.length + markers * (imageTokens - 1);
}

/**
 * One micro-batch as the training runtime takes it. `pixels[i]` holds the [3, S, S] pixel values of
 * row i (null for a text-only row).
 */
export function collate(
  rows: readonly TokenizedSample[],
  pixels: readonly (Float32Array | null)[],
  imageTokenId: number,
  imageTokens: number,
  padId: number,
): TrainingBatch {
  const expanded = rows.map((row) => {
    const ids: number[] = [];
    const labels: number[] = [];
    row.inputIds.forEach((id, i) => {
      const copies = id === imageTokenId ? imageTokens : 1;
      for (let c = 0; c < copies; c++) {
        ids.push(id);
        labels.push(id === imageTokenId ? IGNORE_INDEX : row.labels[i]!);
      }
    });
    return { ids, labels };
  });
  const length = Math.max(...expanded.map((row) => row.ids.length));
  const B = rows.length;
  const inputIds = new Int32Array(B * length).fill(padId);
  const labels = new Int32Array(B * length).fill(IGNORE_INDEX);
  const attentionMask = new Uint8Array(B * length);
  expanded.forEach((row, b) => {
    inputIds.set(row.ids, b * length);
    labels.set(row.labels, b * length);
    attentionMask.fill(1, b * length, b * length + row.ids.length);
  });
  const images = pixels.filter((p): p is Float32Array => p !== null);
  const size = images[0]?.length ?? 0;
  const pixelValues = new Float32Array(images.length * size);
  images.forEach((p, i) => pixelValues.set(p, i * size));
  return { batch: B, length, inputIds, labels, attentionMask, pixelValues, hasImage: pixels.map((p) => p !== null) };
}
