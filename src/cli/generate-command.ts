// `visdrop generate`: streams an answer to stdout and statistics to stderr, or prints one JSON
// object with --json. The flags are a contract other tools rely on (see README).
import { Option, type Command } from 'commander';
import {
  loadModel,
  OptionError,
  resolveModelDir,
  readPixelValues,
  writeSafetensors,
  type GenerateRequest,
  type GenerationEvent,
  type PixelValues,
  type AnyresPixelValues,
  writePixelValues,
} from '../index.js';
import { collect, parseNumber, parseWholeNumber } from './options.js';
import { addReduceFlags } from './reduce-flags.js';
import { reducerFromFlags, strategyNames, type ReduceFlags } from '../reduce/registry.js';
import { loadProgressBar } from './progress.js';
import { q4BlockSizeOption, weightFormatOptions } from './weight-flags.js';
import { runCommand } from './run-command.js';
import { WEIGHT_FORMATS, type WeightFormat } from '../quant/format.js';

interface GenerateFlags extends ReduceFlags {
  model?: string;
  image?: string;
  pixelValues?: string;
  prompt?: string;
  rawPrompt?: string;
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  stop?: string[];
  threads?: number;
  weights: WeightFormat;
  q4BlockSize?: number;
  padToSquare?: boolean;
  json?: boolean;
  dumpLogits?: string;
  dumpPixelValues?: string;
  /** false with --no-cache. */
  cache: boolean;
  cacheDir?: string;
}

export function registerGenerateCommand(program: Command): void {
  const command = program
    .command('generate')
    .description('answer a prompt about an image with a llava-hf checkpoint')
    .option('--model <dir>', 'llava-hf checkpoint directory (default: the bundled visdrop-tiny)')
    .option('--image <file>', 'image file (JPEG, PNG, WebP, ...)')
    .option('--pixel-values <file>', 'safetensors file with pixel_values [1,3,H,W] F32 (LLaVA-NeXT: [1,crops,3,H,W] and image_sizes), instead of --image')
    .option('--prompt <text>', 'question, rendered with the chat template')
    .option('--raw-prompt <text>', 'prompt used verbatim; <image> marks where the image goes')
    .option('--max-new-tokens <n>', 'most tokens to generate', parseWholeNumber('--max-new-tokens', 1))
    .option('--temperature <t>', 'sampling temperature; 0 is greedy', parseNumber('--temperature', (n) => n >= 0, 'a number >= 0'))
    .option('--top-p <p>', 'nucleus sampling mass', parseNumber('--top-p', (n) => n > 0 && n <= 1, 'a number in (0, 1]'))
    .option('--top-k <k>', 'sample among the k most likely tokens', parseWholeNumber('--top-k', 0))
    .option('--seed <s>', 'seed for sampling', parseWholeNumber('--seed', 0))
    .option('--stop <text>', 'stop when this text appears (repeatable)', collect)
    .option('--threads <n>', 'threads per operator', parseWholeNumber('--threads', 1))
    .addOption(
      new Option('--weights <format>', 'Linear weights: f32 as stored, q8 int8 (about 3x faster prefill), q4 4-bit (smallest)')
        .choices(WEIGHT_FORMATS)
        .default('f32'),
    )
    .addOption(q4BlockSizeOption())
    .option('--no-cache', 'build q8/q4 graphs from the checkpoint without reading or writing the converted-model cache')
    .option('--cache-dir <dir>', 'converted-model cache directory (default $VISDROP_CACHE_DIR, else ~/.cache/visdrop)')
    .option('--pad-to-square', "pad the image to a square with the mean colour first (original LLaVA's pad mode)")
    .option('--json', 'print one JSON object instead of streaming text')
    .option('--dump-logits <file>', 'write the last prompt position logits [vocab] as safetensors')
    .option('--dump-pixel-values <file>', 'write the preprocessed pixel_values as safetensors');
  addReduceFlags(command).action(runCommand(generateAction));
}

/** The process's peak resident memory so far (resourceUsage reports KiB). */
function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

async function generateAction(flags: GenerateFlags): Promise<void> {
  if (flags.image !== undefined && flags.pixelValues !== undefined) {
    throw new OptionError({ subject: '--image / --pixel-values', expected: 'at most one of them', found: 'both' });
  }
  if ((flags.prompt === undefined) === (flags.rawPrompt === undefined)) {
    throw new OptionError({ subject: '--prompt / --raw-prompt', expected: 'exactly one of them', found: flags.prompt === undefined ? 'neither' : 'both' });
  }
  const names = strategyNames(flags);
  if (names.length !== 1) throw new OptionError({ subject: '--reduce', expected: 'one strategy', found: flags.reduce ?? '' });
  const reduce = reducerFromFlags(names[0]!, flags);
  const progress = loadProgressBar(!flags.json);
  const model = await loadModel(resolveModelDir(flags.model), {
    ...(flags.threads ? { threads: flags.threads } : {}),
    ...weightFormatOptions(flags),
    ...(flags.padToSquare ? { padToSquare: true } : {}),
    ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    cache: flags.cache ? (flags.cacheDir ? { dir: flags.cacheDir } : {}) : false,
    onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
  }).finally(progress.stop);
  try {
    let pixelValues: PixelValues | AnyresPixelValues | undefined;
    if (flags.pixelValues !== undefined) pixelValues = readPixelValues(flags.pixelValues);
    else if (flags.image !== undefined) pixelValues = await model.pixelValues(flags.image);
    if (flags.dumpPixelValues && pixelValues) {
      writePixelValues(flags.dumpPixelValues, pixelValues);
    }
    const request: GenerateRequest = {
      ...(pixelValues ? { pixelValues } : {}),
      ...(flags.prompt !== undefined ? { prompt: flags.prompt } : {}),
      ...(flags.rawPrompt !== undefined ? { rawPrompt: flags.rawPrompt } : {}),
      ...(flags.maxNewTokens !== undefined ? { maxNewTokens: flags.maxNewTokens } : {}),
      ...(flags.temperature !== undefined ? { temperature: flags.temperature } : {}),
      ...(flags.topP !== undefined ? { topP: flags.topP } : {}),
      ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
      ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
      ...(flags.stop ? { stop: flags.stop } : {}),
      reduce,
    };
    let prefill: Extract<GenerationEvent, { type: 'prefill' }> | undefined;
    for await (const event of model.generate(request)) {
      if (event.type === 'prefill') {
        prefill = event;
        if (flags.dumpLogits) writeSafetensors(flags.dumpLogits, [{ name: 'logits', dtype: 'F32', shape: [event.logits.length], data: event.logits }]);
      } else if (event.type === 'token' || event.type === 'text') {
        if (!flags.json) process.stdout.write(event.text);
      } else if (flags.json) {
        const timings = { loadMs: model.loadMs, ...event.timings };
        const load = { weights: flags.weights, cachedGraphs: model.cachedGraphs, peakRssBytes: peakRssBytes() };
        process.stdout.write(
          `${JSON.stringify({
            inputIds: prefill?.inputIds,
            imageTokenRange: prefill?.imageTokenRange,
            tokens: event.tokens,
            text: event.text,
            stopReason: event.reason,
            timings,
            load,
            ...(prefill?.reduction ? { reduction: prefill.reduction } : {}),
          })}\n`,
        );
      } else {
        const t = event.timings;
        const reduction = prefill?.reduction;
        const kept = reduction ? ` | ${reduction.strategy}: image tokens ${[reduction.imageTokensPerLayer[0], ...reduction.stages.filter((s) => s.afterLayer !== undefined).map((s) => s.order.length)].join(' -> ')}` : '';
        process.stdout.write('\n');
        process.stderr.write(
          `[${event.tokens.length} tokens, ${event.reason}] load ${model.loadMs.toFixed(0)} ms${model.cachedGraphs ? ' (cached)' : ''} | ` +
            `peak RSS ${(peakRssBytes() / 2 ** 30).toFixed(2)} GiB | vision ${t.visionMs.toFixed(1)} ms | ` +
            `prefill ${t.prefillMs.toFixed(1)} ms (${prefill?.promptTokens} tokens) | decode ${t.decodeMsPerToken.toFixed(1)} ms/token${kept}\n`,
        );
      }
    }
  } finally {
    await model.release();
  }
}
