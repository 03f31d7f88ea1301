// `visdrop make-tiny`: writes a seeded random-weight LLaVA-1.5 checkpoint in the llava-hf layout.
import { Option, type Command } from 'commander';
import { makeTinyCheckpoint } from '../index.js';
import { parseWholeNumber } from './options.js';
import { runCommand } from './run-command.js';

export function registerMakeTinyCommand(program: Command): void {
  program
    .command('make-tiny')
    .description('write a small seeded random-weight LLaVA-1.5 checkpoint (llava-hf layout, real LLaMA tokenizer)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--seed <n>', 'weights seed', parseWholeNumber('--seed', 0), 0)
    .option('--text-layers <n>', 'decoder layers', parseWholeNumber('--text-layers', 1))
    .option('--vision-layers <n>', 'CLIP layers', parseWholeNumber('--vision-layers', 2))
    .option('--kv-heads <n>', 'decoder key/value heads (grouped-query attention when fewer than heads)', parseWholeNumber('--kv-heads', 1))
    .addOption(new Option('--dtype <dtype>', 'weight dtype on disk').choices(['F32', 'F16', 'BF16']).default('F32'))
    .addOption(new Option('--arch <arch>', 'LLaVA-1.5 or LLaVA-NeXT (anyres)').choices(['llava', 'llava-next']).default('llava'))
    .action(
      runCommand(async (flags: { out: string; seed: number; textLayers?: number; visionLayers?: number; kvHeads?: number; dtype: 'F32' | 'F16' | 'BF16'; arch: 'llava' | 'llava-next' }) => {
        const arch = await makeTinyCheckpoint({
          outDir: flags.out,
          seed: flags.seed,
          dtype: flags.dtype,
          arch: flags.arch,
          shape: {
            ...(flags.textLayers ? { textLayers: flags.textLayers } : {}),
            ...(flags.visionLayers ? { visionLayers: flags.visionLayers } : {}),
            ...(flags.kvHeads ? { textKvHeads: flags.kvHeads } : {}),
          },
        });
        process.stderr.write(
          `wrote ${flags.out}: ${arch.modelType}, CLIP ${arch.vision.numLayers} layers x ${arch.vision.hiddenSize}, ` +
            `decoder ${arch.text.numLayers} layers x ${arch.text.hiddenSize}, ${arch.imageTokensPerImage} image tokens${arch.anyres ? ' per crop' : ''}, seed ${flags.seed}\n`,
        );
      }),
    );
}
