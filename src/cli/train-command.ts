// `visdrop train`: LLaVA's two training stages on a llava-hf checkpoint and LLaVA-format data, with
// a progress bar (loss, tokens/s, ETA) on stderr, the step log and checkpoints in --out, and the
// final model there too. --reduce pdrop trains with PyramidDrop (the usual --pdrop-* flags).
import type { Command } from 'commander';
import { OptionError, pyramidDropTraining, train, STAGES, TRAINABLE_PARTS, type TrainablePart, type TrainOptions } from '../index.js';
import { reducerFromFlags, strategyNames, type ReduceFlags } from '../reduce/registry.js';
import { parseChoice, parseNumber, parseWholeNumber } from './options.js';
import { trainProgressBar } from './progress.js';
import { addReduceFlags } from './reduce-flags.js';
import { runCommand } from './run-command.js';

interface TrainFlags extends ReduceFlags {
  model: string;
  data: string;
  images?: string;
  out: string;
  stage?: (typeof STAGES)[number];
  train?: TrainablePart[];
  epochs?: number;
  maxSteps?: number;
  batchSize?: number;
  gradAccum?: number;
  lr?: number;
  warmupRatio?: number;
  weightDecay?: number;
  visionLr?: number;
  seed?: number;
  saveEvery?: number;
  resume?: boolean;
  modelMaxLength?: number;
  padToSquare?: boolean;
  threads?: number;
  storeActivations?: boolean;
  quiet?: boolean;
}

function partList(text: string): TrainablePart[] {
  const parse = parseChoice('--train', TRAINABLE_PARTS);
  return text.split(',').map((part) => parse(part));
}

export function registerTrainCommand(program: Command): void {
  const command = program
    .command('train')
    .description("train a llava-hf checkpoint on LLaVA-format data (LLaVA's pretrain or finetune stage)")
    .requiredOption('--model <dir>', 'llava-hf checkpoint to start from')
    .requiredOption('--data <file>', 'LLaVA-format JSON list of {id, image, conversations}')
    .option('--images <dir>', 'folder the samples\' image paths are relative to')
    .requiredOption('--out <dir>', 'output directory: checkpoints, the final model, train-log.jsonl, loss-curve.png')
    .option('--stage <stage>', 'pretrain (projector, plain template, lr 1e-3) or finetune (projector + LLM, vicuna_v1, lr 2e-5; default)', parseChoice('--stage', STAGES))
    .option('--train <parts>', 'parts to train instead of the stage\'s: any of vision,projector,llm', partList)
    .option('--epochs <n>', 'epochs (default 1)', parseWholeNumber('--epochs', 1))
    .option('--max-steps <n>', 'optimizer steps instead of whole epochs', parseWholeNumber('--max-steps', 1))
    .option('--batch-size <b>', 'samples per micro-batch (default 1)', parseWholeNumber('--batch-size', 1))
    .option('--grad-accum <g>', 'micro-batches per optimizer step (default 1)', parseWholeNumber('--grad-accum', 1))
    .option('--lr <lr>', 'peak learning rate (default: the stage\'s)', parseNumber('--lr', (n) => n > 0, 'a number > 0'))
    .option('--warmup-ratio <r>', 'share of the steps warming up (default 0.03)', parseNumber('--warmup-ratio', (n) => n >= 0 && n <= 1, 'a number in [0, 1]'))
    .option('--vision-lr <lr>', "peak learning rate of the vision tower (LLaVA-NeXT's mm_vision_tower_lr; default --lr)", parseNumber('--vision-lr', (n) => n > 0, 'a number > 0'))
    .option('--weight-decay <w>', 'AdamW weight decay, not on biases and norms (default 0)', parseNumber('--weight-decay', (n) => n >= 0, 'a number >= 0'))
    .option('--seed <s>', 'data-order seed (default 0)', parseWholeNumber('--seed', 0))
    .option('--save-every <n>', 'save a checkpoint every n steps (always after the last)', parseWholeNumber('--save-every', 1))
    .option('--resume', 'continue from the newest checkpoint in --out (same model, data and options)')
    .option('--model-max-length <n>', 'longest sample in tokens, image included (default 2048); longer is an error', parseWholeNumber('--model-max-length', 2))
    .option('--pad-to-square', "pad images to a square with the mean colour first (LLaVA-1.5 fine-tuning's image_aspect_ratio pad)")
    .option('--threads <n>', 'threads per operator', parseWholeNumber('--threads', 1))
    .option('--store-activations', "keep each layer's intermediate values for its backward instead of recomputing its forward there: faster on wide layers, slower on narrow ones, more memory")
    .option('--quiet', 'no progress output');
  addReduceFlags(command).action(runCommand(trainAction));
}

async function trainAction(flags: TrainFlags): Promise<void> {
  const names = strategyNames(flags);
  if (names.length !== 1 || (names[0] !== 'none' && names[0] !== 'pdrop')) {
    throw new OptionError({ subject: '--reduce', expected: 'none or pdrop while training', found: JSON.stringify(flags.reduce) });
  }
  // Validates the pdrop flags (and refuses other strategies' flags) as generate does.
  reducerFromFlags(names[0], flags);
  const reduce =
    names[0] === 'pdrop'
      ? pyramidDropTraining({
          ...(flags.pdropLayers ? { layers: flags.pdropLayers } : {}),
          ...(flags.pdropRatios ? { ratios: flags.pdropRatios } : {}),
          ...(flags.pdropLambda !== undefined ? { lambda: flags.pdropLambda } : {}),
        })
      : null;
  const options: TrainOptions = {
    model: flags.model,
    data: flags.data,
    out: flags.out,
    reduce,
    ...(flags.images !== undefined ? { images: flags.images } : {}),
    ...(flags.stage !== undefined ? { stage: flags.stage } : {}),
    ...(flags.train !== undefined ? { train: flags.train } : {}),
    ...(flags.epochs !== undefined ? { epochs: flags.epochs } : {}),
    ...(flags.maxSteps !== undefined ? { maxSteps: flags.maxSteps } : {}),
    ...(flags.batchSize !== undefined ? { batchSize: flags.batchSize } : {}),
    ...(flags.gradAccum !== undefined ? { gradAccum: flags.gradAccum } : {}),
    ...(flags.lr !== undefined ? { lr: flags.lr } : {}),
    ...(flags.warmupRatio !== undefined ? { warmupRatio: flags.warmupRatio } : {}),
    ...(flags.weightDecay !== undefined ? { weightDecay: flags.weightDecay } : {}),
    ...(flags.visionLr !== undefined ? { visionLr: flags.visionLr } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    ...(flags.saveEvery !== undefined ? { saveEvery: flags.saveEvery } : {}),
    ...(flags.resume ? { resume: true } : {}),
    ...(flags.modelMaxLength !== undefined ? { modelMaxLength: flags.modelMaxLength } : {}),
    ...(flags.padToSquare ? { padToSquare: true } : {}),
    ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
    ...(flags.storeActivations ? { storeActivations: true } : {}),
    onWarning: (message) => process.stderr.write(`visdrop: warning: ${message}\n`),
  };
  const bar = trainProgressBar(!flags.quiet);
  try {
    for await (const event of train(options)) {
      if (event.type === 'start') {
        const parts = Object.entries(event.trainable).filter(([, on]) => on).map(([part]) => part);
        process.stderr.write(
          `training ${parts.join(' + ')} (${(event.trainableParameters / 1e6).toFixed(2)}M parameters) on ${event.samples} samples: ` +
            `${event.layout.totalSteps} steps, ${event.layout.epochs} epoch(s)` +
            `${event.resumedFrom ? `, resuming after step ${event.startStep} from ${event.resumedFrom}` : ''}\n`,
        );
      } else if (event.type === 'step') {
        bar.update(event.step, event.totalSteps, event.loss, event.tokensPerSecond);
      } else if (event.type === 'done') {
        bar.stop();
        process.stderr.write(`done: final loss ${event.finalLoss.toFixed(4)}; model in ${event.out}, log ${event.log}, curve ${event.lossCurve}\n`);
      }
    }
  } finally {
    bar.stop();
  }
}
