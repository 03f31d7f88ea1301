// `visdrop show`: draws which image patches a token-reduction strategy keeps at each stage, over
// the preprocessed crop the model sees (PyramidDrop's figure 5), or on LLaVA-NeXT over its base
// image beside the reassembled tiles; for a strategy with a vision stage (MustDrop) also the merge,
// with merged windows outlined and key tokens marked. It runs one prefill (one new token) to get
// the strategy's record of what it merged and kept, then writes a PNG.
import { accessSync, constants, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { GraphError, ImageError, loadModel, OptionError, resolveModelDir, type AnyresPixelValues, type LlavaModel, type PixelValues, type ReductionRecord, type TokenReducer } from '../index.js';
import { keptPatchesPicture } from '../show/kept-patches-picture.js';
import { addReduceFlags } from './reduce-flags.js';
import { reducerFromFlags, STRATEGY_NAMES, strategyNames, type ReduceFlags } from '../reduce/registry.js';
import { loadProgressBar } from './progress.js';
import { parseWholeNumber } from './options.js';
import { runCommand } from './run-command.js';

interface ShowFlags extends ReduceFlags {
  model?: string;
  image: string;
  prompt: string;
  out: string;
  threads?: number;
  padToSquare?: boolean;
}

export function registerShowCommand(program: Command): void {
  const command = program
    .command('show')
    .description("draw the image patches a reduction strategy keeps at each stage, over the model's preprocessed crop (LLaVA-NeXT: its base image and tiles)")
    .option('--model <dir>', 'llava-hf checkpoint directory (default: the bundled visdrop-tiny)')
    .requiredOption('--image <file>', 'image file (JPEG, PNG, WebP, ...)')
    .requiredOption('--prompt <text>', 'question the strategy ranks image tokens for')
    .requiredOption('--out <file.png>', 'PNG file to write')
    .option('--threads <n>', 'threads per operator', parseWholeNumber('--threads', 1))
    .option('--pad-to-square', "pad the image to a square with the mean colour first (original LLaVA's pad mode)");
  addReduceFlags(command).action(runCommand(showAction));
}

/** Refuses an unreadable --image and an --out the PNG cannot go to, before minutes of loading. */
function checkPaths(image: string, out: string): void {
  try {
    accessSync(image, constants.R_OK);
  } catch (error) {
    throw new ImageError({ subject: image, expected: 'a readable image file', found: (error as NodeJS.ErrnoException).code ?? String(error) });
  }
  if (extname(out).toLowerCase() !== '.png') {
    throw new OptionError({ subject: '--out', expected: 'a file name ending in .png', found: JSON.stringify(out) });
  }
  try {
    accessSync(dirname(resolve(out)), constants.W_OK);
  } catch (error) {
    throw new OptionError({ subject: '--out', expected: 'a path in a writable directory', found: `${out} (${(error as NodeJS.ErrnoException).code})` });
  }
}

/** "576 -> 384 (24 windows merged, 31 key tokens) -> 37 -> ...": the merge, if any, then each stage. */
function tokenCounts(reduction: ReductionRecord, imageTokens: number): string {
  const { vision } = reduction;
  // LLaVA-NeXT's crops each merge windows of their own.
  const windows = vision?.mergedWindowsPerCrop?.flat().length ?? vision?.mergedWindows.length;
  const merge = vision ? [`${reduction.imageTokensPerLayer[0]} (${windows} windows merged, ${vision.keySet.length} key tokens)`] : [];
  // MustDrop's vision stage is the merge above; another method's (VisionZip's) is counted as a stage.
  const stages = reduction.stages.filter((s) => s.afterLayer !== undefined || !vision);
  return [String(imageTokens), ...merge, ...stages.map((s) => String(s.order.length))].join(' -> ');
}

/** The crops the model sees and what the strategy kept, from one prefill. */
async function runPrefill(model: LlavaModel, flags: ShowFlags, reduce: TokenReducer | null): Promise<{ pixels: PixelValues | AnyresPixelValues; reduction: ReductionRecord }> {
  const pixels = await model.pixelValues(flags.image);
  let reduction: ReductionRecord | null = null;
  for await (const event of model.generate({ pixelValues: pixels, prompt: flags.prompt, maxNewTokens: 1, reduce })) {
    if (event.type === 'prefill') reduction = event.reduction;
  }
  if (reduction === null) throw new GraphError({ subject: 'show: prefill', expected: 'a reduction record', found: 'none' });
  return { pixels, reduction };
}

async function showAction(flags: ShowFlags): Promise<void> {
  const names = strategyNames(flags);
  if (names.length !== 1 || names[0] === 'none') {
    const showable = STRATEGY_NAMES.filter((name) => name !== 'none');
    throw new OptionError({ subject: '--reduce', expected: `a strategy to show (${showable.join(', ')})`, found: flags.reduce ?? 'nothing' });
  }
  const reduce = reducerFromFlags(names[0]!, flags);
  checkPaths(flags.image, flags.out);
  const progress = loadProgressBar(true);
  const model = await loadModel(resolveModelDir(flags.model), {
    ...(flags.threads ? { threads: flags.threads } : {}),
    ...(flags.padToSquare ? { padToSquare: true } : {}),
    ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
  }).finally(progress.stop);
  const { pixels, reduction } = await runPrefill(model, flags, reduce).finally(() => model.release());
  const { grid, png } = await keptPatchesPicture(model, pixels, reduction);
  try {
    writeFileSync(flags.out, png);
  } catch (error) {
    throw new OptionError({ subject: '--out', expected: 'a writable file', found: `${flags.out} (${(error as NodeJS.ErrnoException).code})` });
  }
  process.stderr.write(`wrote ${flags.out}: ${reduction.strategy}, image tokens ${tokenCounts(reduction, grid.imageTokens)}\n`);
}
