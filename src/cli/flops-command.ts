// `visdrop flops`: FLOPs of one prefill with a reduction strategy against none, counted without
// running anything, as the PyramidDrop or FastV paper counts them or as this engine computes them.
// Prints a small table, or with --json exactly one object {flops, ratio, averageImageTokens,
// imageTokensPerLayer}, plus imageTokens when --image-size gave the count.
import type { Command } from 'commander';
import { ACCOUNTINGS, countFlops, DEFAULT_TEXT_TOKENS, FLOPS_PRESETS, flopsJson, formatFlopsTable, resolveFlopsOptions } from '../flops/index.js';
import { OptionError } from '../index.js';
import { addReduceFlags } from './reduce-flags.js';
import { reducerFromFlags, strategyNames, type ReduceFlags } from '../reduce/registry.js';
import { runCommand } from './run-command.js';

interface FlopsFlags extends ReduceFlags {
  preset?: string;
  model?: string;
  imageTokens?: string;
  imageSize?: string;
  textTokens?: string;
  accounting?: string;
  vision?: boolean;
  json?: boolean;
}

export function registerFlopsCommand(program: Command): void {
  const command = program
    .command('flops')
    .description(
      'count the FLOPs of a prefill with token reduction against none, without running it. ' +
        '--accounting full is what visdrop really computes (every token, attention, the strategy\'s scoring): trust it; ' +
        'pdrop and fastv reproduce the papers\' tables',
    )
    .option('--preset <name>', `model shapes: ${Object.keys(FLOPS_PRESETS).join(', ')}`)
    .option('--model <dir>', 'checkpoint directory whose config.json gives the shapes, instead of --preset')
    // Counts arrive as text and are validated together with the rest (resolveFlopsOptions).
    .option('--image-tokens <N>', 'image tokens entering the decoder (576 for LLaVA-1.5, up to 2928 for LLaVA-NeXT)')
    .option('--image-size <WxH>', "LLaVA-NeXT only, instead of --image-tokens: count them as NeXT's anyres tiling does for an image this size (640x480: 2340)")
    .option('--text-tokens <T>', `other prompt tokens (default ${DEFAULT_TEXT_TOKENS.fastv} for fastv, ${DEFAULT_TEXT_TOKENS.full} for full; pdrop counts none)`)
    .option(
      '--accounting <name>',
      `${ACCOUNTINGS.join(' | ')}: pdrop = PyramidDrop paper (image tokens, FFN x3, total); ` +
        'fastv = FastV paper (all tokens, FFN x2, per-layer average); full = this engine, the one to trust',
    )
    .option('--vision', 'also count the vision tower and projector (--accounting full)')
    .option('--json', 'print one JSON object instead of the table (with --image-size also imageTokens, the count used)');
  addReduceFlags(command).action(runCommand(flopsAction));
}

async function flopsAction(flags: FlopsFlags): Promise<void> {
  const names = strategyNames(flags);
  if (names.length !== 1) throw new OptionError({ subject: '--reduce', expected: 'one strategy', found: flags.reduce ?? '' });
  const resolved = resolveFlopsOptions({
    ...(flags.preset !== undefined ? { preset: flags.preset } : {}),
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    ...(flags.imageTokens !== undefined ? { imageTokens: flags.imageTokens } : {}),
    ...(flags.imageSize !== undefined ? { imageSize: flags.imageSize } : {}),
    ...(flags.textTokens !== undefined ? { textTokens: flags.textTokens } : {}),
    ...(flags.accounting !== undefined ? { accounting: flags.accounting } : {}),
    vision: flags.vision === true,
    reducer: reducerFromFlags(names[0]!, flags),
  });
  const result = countFlops(resolved.input);
  process.stdout.write(flags.json ? `${JSON.stringify(flopsJson(result, resolved))}\n` : formatFlopsTable(resolved, result));
}
