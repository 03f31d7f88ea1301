// `train()`: LLaVA's training loop on the engine's training runtime, as an async generator of step
// events. Everything that can be wrong with the input (options, data, images, lengths, the output
// directory, a resume) is checked before the first step and before anything is written. Then per
// optimizer step: G micro-batches through `lossAndGradients` (the gradients of each micro-batch's
// mean loss summed, scaled by 1/G in the update, as the Hugging Face Trainer scales each
// micro-batch's loss), AdamW with clipping at the cosine-with-warm-up rate, a line in the JSONL
// log, and every --save-every steps an atomic checkpoint. A resumed run rebuilds the data order
// from the seed, so it continues to the same losses as one that never stopped.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadLlavaConfig, type LlavaArch } from '../config/llava.js';
import { loadPreprocessorConfig, type ImagePreprocessing } from '../config/preprocessor.js';
import { openCheckpoint } from '../checkpoint/index.js';
import { CheckpointError, DataError, OptionError } from '../errors.js';
import { decodeImage, preprocessImage } from '../image/index.js';
import { storedName } from '../models/llava/weight-names.js';
import { llavaTensorList } from '../models/llava/tensor-list.js';
import { TrainingRuntime, type LossAndGradients, type LossOptions, type ParameterTensor, type TrainingBatch, type TrainingRuntimeOptions } from '../runtime/training-runtime.js';
import { loadTokenizer } from '../text/index.js';
import { collate, epochOrder, expandedLength, runLayout, stepMicroBatches, type RunLayout } from './batches.js';
import {
  latestCheckpoint,
  readMoments,
  readTrainerState,
  saveCheckpoint,
  saveFinalModel,
  type Fingerprint,
  type ParameterToSave,
  type StepRecord,
  type TrainerState,
} from './checkpoint-store.js';
import { ConversationTokenizer, type TokenizedSample } from './conversation.js';
import { loadDataset, sampleSubject } from './dataset.js';
import { StepLog, LOG_FILE } from './step-log.js';
import { writeLossCurve, LOSS_CURVE_FILE } from './loss-curve.js';
import { AdamW, LLAVA_ADAMW } from './optimizer.js';
import { resolveOptions, type ResolvedOptions, type TrainOptions } from './options.js';
import { cosineWithWarmup, warmupSteps } from './schedule.js';

export type { TrainOptions };

/** What the loop needs of a training runtime (tests may pass a cheaper one). */
export interface LossRuntime {
  lossAndGradients(batch: TrainingBatch, options: LossOptions): Promise<LossAndGradients>;
  release(): Promise<void>;
}

export type RuntimeFactory = (arch: LlavaArch, parameters: ReadonlyMap<string, ParameterTensor>, settings: TrainingRuntimeOptions) => Promise<LossRuntime>;

export type TrainEvent =
  | {
      readonly type: 'start';
      readonly samples: number;
      readonly layout: RunLayout;
      /** The step the run starts after (0, or the resumed checkpoint's). */
      readonly startStep: number;
      readonly resumedFrom: string | null;
      readonly trainable: LossOptions['trainable'];
      readonly trainableParameters: number;
      /** Samples whose labels LLaVA's arithmetic masked whole (tokenization mismatch). */
      readonly mismatchedSamples: number;
    }
  | ({ readonly type: 'step'; readonly totalSteps: number; readonly tokensPerSecond: number } & StepRecord)
  | { readonly type: 'checkpoint'; readonly step: number; readonly dir: string }
  | { readonly type: 'done'; readonly step: number; readonly out: string; readonly log: string; readonly lossCurve: string; readonly finalLoss: number };

const defaultRuntime: RuntimeFactory = (arch, parameters, settings) => TrainingRuntime.create(arch, parameters, settings);

/** Pixel values kept in memory up to this many bytes, so small datasets decode each image once. */
const PIXEL_CACHE_BYTES = 512 * 2 ** 20;

export async function* train(options: TrainOptions, createRuntime: RuntimeFactory = defaultRuntime): AsyncGenerator<TrainEvent> {
  const resolved = resolveOptions(options);
  const warn = options.onWarning ?? ((message: string) => process.emitWarning(message));
  const arch = loadLlavaConfig(options.model);
  if (arch.anyres) throw new OptionError({ subject: '--model', expected: 'a LLaVA-1.5 checkpoint (training does not handle anyres yet)', found: arch.modelType });
  if (resolved.modelMaxLength > arch.text.maxPositions) {
    throw new OptionError({ subject: '--model-max-length', expected: `at most the model's ${arch.text.maxPositions} positions`, found: String(resolved.modelMaxLength) });
  }
  options.reduce?.checkModel(arch.text.numLayers);
  const preprocessing: ImagePreprocessing = { ...loadPreprocessorConfig(options.model), ...(resolved.padToSquare ? { padToSquare: true } : {}) };
  const tokenizer = loadTokenizer(options.model);

  const dataset = loadDataset(options.data, options.images);
  const conversations = new ConversationTokenizer(tokenizer, arch.imageTokenId, resolved.template, options.data);
  const examples = dataset.map((sample) => conversations.tokenize(sample));
  const imageTokens = arch.imageTokensPerImage;
  for (const example of examples) {
    const length = expandedLength(example, arch.imageTokenId, imageTokens);
    if (length > resolved.modelMaxLength) {
      throw new DataError({
        subject: sampleSubject(options.data, example.sample.index, example.sample.id),
        expected: `at most ${resolved.modelMaxLength} tokens (--model-max-length; samples are never truncated)`,
        found: `${length} tokens with its ${imageTokens} image tokens`,
      });
    }
  }
  const mismatched = examples.filter((e) => e.mismatch !== null);
  if (mismatched.length > 0) {
    const first = mismatched[0]!;
    warn(
      `${mismatched.length} of ${examples.length} samples have all labels masked (LLaVA's tokenization mismatch), first ${sampleSubject(options.data, first.sample.index, first.sample.id)}: counted ${first.mismatch!.counted} vs ${first.mismatch!.total} tokens`,
    );
  }

  const layout = runLayout(examples.length, resolved.batchSize, resolved.gradAccum, resolved.length);
  const fingerprint: Fingerprint = {
    model: modelFingerprint(options.model),
    data: createHash('sha256').update(readFileSync(options.data)).digest('hex'),
    options: optionFingerprint(resolved, options),
  };
  const resumeFrom = prepareOutput(options.out, options.resume ?? false, fingerprint);

  // Parameters: the source model's, or the resumed checkpoint's; all F32, owned here.
  const weightsDir = resumeFrom?.dir ?? options.model;
  const sourceCheckpoint = openCheckpoint(options.model);
  const parameters = new Map<string, ParameterTensor>();
  const toSave: ParameterToSave[] = [];
  const checkpoint = openCheckpoint(weightsDir);
  try {
    for (const { name, shape } of llavaTensorList(arch)) {
      const data = checkpoint.float32(storedName(checkpoint, name), shape);
      parameters.set(name, { shape, data });
      toSave.push({ name, storedName: storedName(sourceCheckpoint, name), shape, data });
    }
  } finally {
    checkpoint.close();
    sourceCheckpoint.close();
  }
  const optimizer = new AdamW({ ...LLAVA_ADAMW, weightDecay: resolved.weightDecay });
  const history: StepRecord[] = [];
  let startStep = 0;
  if (resumeFrom) {
    for (const [name, moments] of readMoments(resumeFrom.dir)) optimizer.moments.set(name, moments);
    optimizer.steps = resumeFrom.state.step;
    startStep = resumeFrom.state.step;
    history.push(...resumeFrom.state.history);
  }
  mkdirSync(options.out, { recursive: true });
  const log = new StepLog(join(options.out, LOG_FILE), history);

  const runtime = await createRuntime(arch, parameters, {
    ...(options.threads ? { intraOpThreads: options.threads } : {}),
    activations: options.storeActivations ? 'store' : 'recompute',
  });
  const pixels = new PixelCache(preprocessing, options.data);
  const orders = new Map<number, number[]>();
  const orderOf = (epoch: number) => {
    let order = orders.get(epoch);
    if (!order) {
      orders.clear();
      order = epochOrder(resolved.seed, epoch, examples.length);
      orders.set(epoch, order);
    }
    return order;
  };
  const warmup = warmupSteps(layout.totalSteps, resolved.warmupRatio);
  const trainableParameters = [...parameters].filter(([name]) => isTrainable(name, resolved.trainable)).reduce((n, [, p]) => n + p.data.length, 0);
  yield {
    type: 'start',
    samples: examples.length,
    layout,
    startStep,
    resumedFrom: resumeFrom?.dir ?? null,
    trainable: resolved.trainable,
    trainableParameters,
    mismatchedSamples: mismatched.length,
  };

  const lossOptions: LossOptions = { trainable: resolved.trainable, ...(options.reduce ? { boundary: options.reduce.boundary } : {}) };
  const params = new Map([...parameters].map(([name, p]) => [name, p.data] as const));
  try {
    for (let step = startStep; step < layout.totalSteps; step++) {
      const started = performance.now();
      const { epoch, microBatches } = stepMicroBatches(layout, orderOf, step);
      const sums = new Map<string, Float32Array>();
      let lossSum = 0;
      let counted = 0;
      let labelTokens = 0;
      let sequenceTokens = 0;
      for (const indices of microBatches) {
        const rows = indices.map((i) => examples[i]!);
        const batch = collate(rows, await Promise.all(rows.map((row) => pixels.get(row))), arch.imageTokenId, imageTokens, tokenizer.tokenId('<pad>') ?? 0);
        sequenceTokens += batch.attentionMask.reduce((n, m) => n + m, 0);
        const result = await runtime.lossAndGradients(batch, lossOptions);
        // A micro-batch with no labelled token has no loss (Hugging Face's would be NaN): it adds nothing.
        if (result.tokens === 0) continue;
        lossSum += result.loss;
        counted += 1;
        labelTokens += result.tokens;
        for (const [name, grad] of result.grads) {
          const sum = sums.get(name);
          if (!sum) sums.set(name, microBatches.length === 1 ? grad : Float32Array.from(grad));
          else for (let i = 0; i < grad.length; i++) sum[i] = sum[i]! + grad[i]!;
        }
      }
      const schedule = cosineWithWarmup(step, warmup, layout.totalSteps);
      const lr = resolved.lr * schedule;
      const visionLr = resolved.visionLr * schedule;
      const updateStart = performance.now();
      const { gradNorm } = optimizer.step(params, sums, (name) => (isVisionParameter(name) ? visionLr : lr), 1 / microBatches.length);
      const ended = performance.now();
      const record: StepRecord = {
        step: step + 1,
        epoch,
        loss: counted > 0 ? lossSum / counted : Number.NaN,
        lr,
        gradNorm,
        labelTokens,
        sequenceTokens,
        ms: ended - started,
        updateMs: ended - updateStart,
      };
      history.push(record);
      log.append(record);
      yield { type: 'step', ...record, totalSteps: layout.totalSteps, tokensPerSecond: (sequenceTokens * 1000) / record.ms };

      const last = step + 1 === layout.totalSteps;
      if (last || (resolved.saveEvery !== null && (step + 1) % resolved.saveEvery === 0)) {
        const nextEpoch = Math.floor((step + 1) / layout.stepsPerEpoch);
        const state: TrainerState = {
          format: 'visdrop-trainer/1',
          step: step + 1,
          totalSteps: layout.totalSteps,
          fingerprint,
          rng: { seed: resolved.seed, epoch: nextEpoch },
          dataOrder: last ? [] : orderOf(nextEpoch),
          history,
        };
        const dir = saveCheckpoint(options.out, options.model, toSave, optimizer.moments, state);
        yield { type: 'checkpoint', step: step + 1, dir };
      }
    }
  } finally {
    await runtime.release();
    await optimizer.close();
  }
  saveFinalModel(options.out, options.model, toSave);
  const lossCurve = join(options.out, LOSS_CURVE_FILE);
  await writeLossCurve(lossCurve, history);
  yield { type: 'done', step: layout.totalSteps, out: options.out, log: log.path, lossCurve, finalLoss: history.at(-1)?.loss ?? Number.NaN };
}

/** The vision tower's parameters, by their llava-hf names (their own learning rate, --vision-lr). */
function isVisionParameter(name: string): boolean {
  return name.startsWith('vision_tower.');
}

/** Which part a parameter belongs to, by its llava-hf name. */
export function isTrainable(name: string, trainable: LossOptions['trainable']): boolean {
  if (isVisionParameter(name)) return trainable.vision;
  if (name.startsWith('multi_modal_projector.') || name === 'image_newline') return trainable.projector;
  return trainable.llm;
}

/**
 * The source model as a resume checks it: config.json, and each weight file's size and 16 slices
 * of 64 KiB spread over it (hashing a 7B's 14 GB whole would take minutes; two models of the same
 * shape still differ in every slice).
 */
function modelFingerprint(dir: string): string {
  const hash = createHash('sha256').update(readFileSync(join(dir, 'config.json')));
  const checkpoint = openCheckpoint(dir);
  try {
    for (const file of checkpoint.fileNames()) {
      const path = join(dir, file);
      const size = statSync(path).size;
      hash.update(`${file}:${size}\n`);
      const fd = openSync(path, 'r');
      try {
        const slice = Buffer.alloc(Math.min(SLICE_BYTES, size));
        for (let k = 0; k < SLICES; k++) {
          const bytes = readSync(fd, slice, 0, slice.length, Math.floor(((size - slice.length) * k) / (SLICES - 1)));
          hash.update(slice.subarray(0, bytes));
        }
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    checkpoint.close();
  }
  return hash.digest('hex');
}

const SLICES = 16;
const SLICE_BYTES = 64 * 1024;

/** Every option that changes the losses; a resume must give the same. */
function optionFingerprint(resolved: ResolvedOptions, options: TrainOptions): Record<string, unknown> {
  // visionLr only when it differs from lr, so runs saved before it existed still resume.
  const { saveEvery: _saveEvery, visionLr, ...rest } = resolved;
  return { ...rest, ...(visionLr !== rest.lr ? { visionLr } : {}), reduce: options.reduce ? { name: options.reduce.name, ...options.reduce.options } : null };
}

/**
 * Checks the output directory: new or empty for a fresh run (nothing is written over), a complete
 * checkpoint of the same model, data and options for a resume.
 */
function prepareOutput(out: string, resume: boolean, fingerprint: Fingerprint): { dir: string; state: TrainerState } | null {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new OptionError({ subject: '--out', expected: 'a directory', found: `${JSON.stringify(out)}, a file` });
  if (!resume) {
    const entries = existsSync(out) ? readdirSync(out) : [];
    if (entries.length > 0) {
      throw new OptionError({
        subject: '--out',
        expected: 'a new or empty directory (or --resume to continue a run there)',
        found: `${JSON.stringify(out)} holding ${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}`,
      });
    }
    return null;
  }
  const latest = latestCheckpoint(out);
  if (!latest) throw new OptionError({ subject: '--resume', expected: `a checkpoint-N directory in ${JSON.stringify(out)}`, found: 'none' });
  const state = readTrainerState(latest.dir);
  const saved = state.fingerprint;
  if (saved.model !== fingerprint.model) {
    throw new CheckpointError({ subject: `--resume from ${latest.dir}`, expected: 'the model it was trained from', found: 'another --model (config or weight files differ)' });
  }
  if (saved.data !== fingerprint.data) {
    throw new CheckpointError({ subject: `--resume from ${latest.dir}`, expected: 'the data it was trained on', found: 'another --data file (its contents differ)' });
  }
  const savedOptions = JSON.stringify(saved.options);
  const options = JSON.stringify(fingerprint.options);
  if (savedOptions !== options) {
    const differing = Object.keys({ ...saved.options, ...fingerprint.options }).filter(
      (key) => JSON.stringify(saved.options[key]) !== JSON.stringify(fingerprint.options[key]),
    );
    const key = differing[0] ?? 'options';
    throw new CheckpointError({
      subject: `--resume from ${latest.dir}`,
      expected: `the options it was trained with (${key}: ${JSON.stringify(saved.options[key])})`,
      found: `${key}: ${JSON.stringify(fingerprint.options[key])}`,
    });
  }
  return { dir: latest.dir, state };
}

/** Decodes and preprocesses sample images as inference does, keeping them while they fit the budget. */
class PixelCache {
  private readonly cache = new Map<string, Float32Array>();
  private bytes = 0;

  constructor(
    private readonly preprocessing: ImagePreprocessing,
    private readonly dataFile: string,
  ) {}

  async get(example: TokenizedSample): Promise<Float32Array | null> {
    const path = example.sample.image;
    if (path === null) return null;
    const cached = this.cache.get(path);
    if (cached) return cached;
    let data: Float32Array;
    try {
      data = preprocessImage(await decodeImage(path), this.preprocessing).data;
    } catch (cause) {
      throw new DataError({
        subject: `${sampleSubject(this.dataFile, example.sample.index, example.sample.id)}: image ${JSON.stringify(path)}`,
        expected: 'an image file sharp can decode',
        found: (cause as Error).message,
        cause,
      });
    }
    if (this.bytes + data.byteLength <= PIXEL_CACHE_BYTES) {
      this.cache.set(path, data);
      this.bytes += data.byteLength;
    }
    return data;
  }
}
