// `visdrop show`: draws which image patches a token-reduction strategy keeps at each stage, over
// the preprocessed crop the model sees (PyramidDrop's figure 5). It runs one prefill (one new
// token) to get the strategy's record of kept tokens, then writes a PNG.
import { accessSync, constants, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { GraphError, ImageError, loadModel, OptionError, type LlavaModel, type PixelValues, type ReductionRecord, type TokenReducer } from '../index.js';
import { drawStages, type StagePanel } from '../show/draw-stages.js';
import { pixelValuesToRgb } from '../show/preprocessed-rgb.js';
import { addReduceFlags, reducerFromFlags, strategyNames, type ReduceFlags } from './reduce-flags.js';
import { loadProgressBar } from './progress.js';
import { parseWholeNumber } from './options.js';
import { runCommand } from './run-command.js';

interface ShowFlags extends ReduceFlags {
  model: string;
  image: string;
  prompt: string;
  out: string;
  threads?: number;
  padToSquare?: boolean;
}

export function registerShowCommand(program: Command): void {
  const command = program
    .command('show')
    .description("draw the image patches a reduction strategy keeps at each stage, over the model's preprocessed crop")
    .requiredOption('--model <dir>', 'llava-hf checkpoint directory')
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

/** Title line: the strategy and its options, arrays comma-joined. */
function describeStrategy(reduction: ReductionRecord): string {
  const options = Object.entries(reduction.options).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(',') : String(value)}`);
  return `${reduction.strategy}: ${options.join(', ')}`;
}

/**
 * One panel for all image tokens, then one per stage. The image tokens are the gridSize^2 patches
 * in raster order, except that with the `full` feature selection CLIP's class token comes first;
 * it is no patch, so kept indices shift by one onto the grid.
 */
function panelsFor(model: LlavaModel, reduction: ReductionRecord): StagePanel[] {
  const { imageTokensPerImage: tokens, selectStrategy } = model.arch;
  const classTokens = selectStrategy === 'full' ? 1 : 0;
  return [
    { keptPatches: null, caption: `all ${tokens} image tokens` },
    ...reduction.stages.map((stage) => {
      const kept = stage.keptImageTokens.length;
      const layers = `${stage.afterLayer} layer${stage.afterLayer === 1 ? '' : 's'}`;
      return {
        keptPatches: stage.keptImageTokens.filter((t) => t >= classTokens).map((t) => t - classTokens),
        caption: `after ${layers}: ${kept} kept (${((100 * kept) / tokens).toFixed(1).replace(/\.0$/, '')}%)`,
      };
    }),
  ];
}

/** The crop the model sees and what the strategy kept, from one prefill. */
async function runPrefill(model: LlavaModel, flags: ShowFlags, reduce: TokenReducer | null): Promise<{ pixels: PixelValues; reduction: ReductionRecord }> {
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
    throw new OptionError({ subject: '--reduce', expected: 'a strategy to show (fastv or pdrop)', found: flags.reduce ?? 'nothing' });
  }
  const reduce = reducerFromFlags(names[0]!, flags);
  checkPaths(flags.image, flags.out);
  const progress = loadProgressBar(true);
  const model = await loadModel(flags.model, {
    ...(flags.threads ? { threads: flags.threads } : {}),
    ...(flags.padToSquare ? { padToSquare: true } : {}),
    ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
  }).finally(progress.stop);
  const { pixels, reduction } = await runPrefill(model, flags, reduce).finally(() => model.release());
  const png = await drawStages({
    image: pixelValuesToRgb(pixels, model.preprocessing),
    gridSize: model.arch.vision.gridSize,
    title: describeStrategy(reduction),
    panels: panelsFor(model, reduction),
  });
  try {
    writeFileSync(flags.out, png);
  } catch (error) {
    throw new OptionError({ subject: '--out', expected: 'a writable file', found: `${flags.out} (${(error as NodeJS.ErrnoException).code})` });
  }
  const counts = [model.arch.imageTokensPerImage, ...reduction.stages.map((s) => s.keptImageTokens.length)];
  process.stderr.write(`wrote ${flags.out}: ${reduction.strategy}, image tokens ${counts.join(' -> ')}\n`);
}
