// What `train()` takes, checked and resolved to LLaVA's defaults: stage pretrain trains the
// projector at lr 1e-3 on the `plain` template, finetune the projector and the LLM at 2e-5 on
// `vicuna_v1`; one epoch, warm-up ratio 0.03, no weight decay, model_max_length 2048 (LLaVA's
// scripts). Every bad value is an OptionError naming its flag.
import { OptionError } from '../errors.js';
import type { TrainableParts } from '../runtime/training-runtime.js';
import type { TrainingReducer } from '../reduce/pyramid-drop-train.js';
import type { TemplateName } from './conversation.js';

export const STAGES = ['pretrain', 'finetune'] as const;
export type Stage = (typeof STAGES)[number];
export const TRAINABLE_PARTS = ['vision', 'projector', 'llm'] as const;
export type TrainablePart = (typeof TRAINABLE_PARTS)[number];

export interface TrainOptions {
  /** The llava-hf checkpoint to start from. */
  readonly model: string;
  /** A LLaVA-format JSON list of samples. */
  readonly data: string;
  /** Folder the samples' `image` paths are relative to (needed when any sample names an image). */
  readonly images?: string;
  /** Output directory: checkpoints, the final model, the step log and the loss curve. */
  readonly out: string;
  readonly stage?: Stage;
  /** Parts to train instead of the stage's. */
  readonly train?: readonly TrainablePart[];
  readonly epochs?: number;
  /** Steps to run instead of whole epochs. */
  readonly maxSteps?: number;
  /** Samples per micro-batch. */
  readonly batchSize?: number;
  /** Micro-batches per optimizer step. */
  readonly gradAccum?: number;
  readonly lr?: number;
  /** Peak learning rate of the vision tower's parameters (LLaVA-NeXT's `mm_vision_tower_lr`); default `lr`. */
  readonly visionLr?: number;
  readonly warmupRatio?: number;
  readonly weightDecay?: number;
  readonly seed?: number;
  /** Save a checkpoint every N steps (and always after the last). */
  readonly saveEvery?: number;
  /** Continue from the newest checkpoint in `out`. */
  readonly resume?: boolean;
  /** Longest sample, in tokens with the image expanded; a longer one is an error. */
  readonly modelMaxLength?: number;
  /** Pad images to a square with the mean colour first (LLaVA-1.5 fine-tuning's `image_aspect_ratio pad`). */
  readonly padToSquare?: boolean;
  /** Token dropping inside the LLM during training, e.g. pyramidDropTraining(). */
  readonly reduce?: TrainingReducer | null;
  readonly threads?: number;
  /**
   * Keep each layer's intermediate values for its backward instead of recomputing its forward
   * there (TrainingRuntimeOptions.activations): faster on wide layers, slower on narrow ones, more
   * memory. Same losses either way.
   */
  readonly storeActivations?: boolean;
  readonly onWarning?: (message: string) => void;
}

export interface ResolvedOptions {
  readonly stage: Stage;
  readonly template: TemplateName;
  readonly trainable: TrainableParts;
  readonly length: { epochs: number } | { maxSteps: number };
  readonly batchSize: number;
  readonly gradAccum: number;
  readonly lr: number;
  readonly visionLr: number;
  readonly warmupRatio: number;
  readonly weightDecay: number;
  readonly seed: number;
  readonly saveEvery: number | null;
  readonly modelMaxLength: number;
  readonly padToSquare: boolean;
}

export const DEFAULT_LR: Record<Stage, number> = { pretrain: 1e-3, finetune: 2e-5 };
export const DEFAULT_MODEL_MAX_LENGTH = 2048;

function check(flag: string, valid: boolean, expected: string, value: unknown): void {
  if (!valid) throw new OptionError({ subject: flag, expected, found: JSON.stringify(value) });
}

const wholeAtLeast = (flag: string, value: number | undefined, min: number) =>
  value === undefined || check(flag, Number.isInteger(value) && value >= min, `a whole number >= ${min}`, value);

export function resolveOptions(options: TrainOptions): ResolvedOptions {
  const stage = options.stage ?? 'finetune';
  check('--stage', (STAGES as readonly string[]).includes(stage), `one of ${STAGES.join(', ')}`, stage);
  let trainable: TrainableParts = stage === 'pretrain' ? { vision: false, projector: true, llm: false } : { vision: false, projector: true, llm: true };
  if (options.train !== undefined) {
    const parts = options.train;
    for (const part of parts) check('--train', (TRAINABLE_PARTS as readonly string[]).includes(part), `parts among ${TRAINABLE_PARTS.join(', ')}`, part);
    check('--train', parts.length > 0, `at least one of ${TRAINABLE_PARTS.join(', ')}`, parts.join(','));
    trainable = { vision: parts.includes('vision'), projector: parts.includes('projector'), llm: parts.includes('llm') };
  }
  if (options.epochs !== undefined && options.maxSteps !== undefined) {
    throw new OptionError({ subject: '--epochs / --max-steps', expected: 'one of them', found: 'both' });
  }
  wholeAtLeast('--epochs', options.epochs, 1);
  wholeAtLeast('--max-steps', options.maxSteps, 1);
  wholeAtLeast('--batch-size', options.batchSize, 1);
  wholeAtLeast('--grad-accum', options.gradAccum, 1);
  wholeAtLeast('--seed', options.seed, 0);
  wholeAtLeast('--save-every', options.saveEvery, 1);
  wholeAtLeast('--model-max-length', options.modelMaxLength, 2);
  const lr = options.lr ?? DEFAULT_LR[stage];
  check('--lr', Number.isFinite(lr) && lr > 0, 'a number > 0', options.lr);
  const visionLr = options.visionLr ?? lr;
  check('--vision-lr', Number.isFinite(visionLr) && visionLr > 0, 'a number > 0', options.visionLr);
  // A rate for a frozen tower would be silently unused.
  if (options.visionLr !== undefined && !trainable.vision) {
    const parts = Object.entries(trainable).filter(([, on]) => on).map(([part]) => part).join(',');
    throw new OptionError({ subject: '--vision-lr', expected: '--train including vision', found: `the vision tower frozen (training ${parts})` });
  }
  const warmupRatio = options.warmupRatio ?? 0.03;
  check('--warmup-ratio', Number.isFinite(warmupRatio) && warmupRatio >= 0 && warmupRatio <= 1, 'a number in [0, 1]', options.warmupRatio);
  const weightDecay = options.weightDecay ?? 0;
  check('--weight-decay', Number.isFinite(weightDecay) && weightDecay >= 0, 'a number >= 0', options.weightDecay);
  return {
    stage,
    template: stage === 'pretrain' ? 'plain' : 'vicuna_v1',
    trainable,
    length: options.maxSteps !== undefined ? { maxSteps: options.maxSteps } : { epochs: options.epochs ?? 1 },
    batchSize: options.batchSize ?? 1,
    gradAccum: options.gradAccum ?? 1,
    lr,
    visionLr,
    warmupRatio,
    weightDecay,
    seed: options.seed ?? 0,
    saveEvery: options.saveEvery ?? null,
    modelMaxLength: options.modelMaxLength ?? DEFAULT_MODEL_MAX_LENGTH,
    padToSquare: options.padToSquare ?? false,
  };
}
