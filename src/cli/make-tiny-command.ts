// `visdrop make-tiny`: writes a seeded random-weight LLaVA checkpoint in the llava-hf layout, tiny
// or (with --preset) at a benchmark preset's full size.
import { Option, type Command } from 'commander';
import { PRESETS } from '../config/presets.js';
import { makeTinyCheckpoint, VISDROP_TINY_PRESET, writeVisdropTinyInit, type LlavaArch } from '../index.js';
import { parseChoice, parseWholeNumber } from './options.js';
import { runCommand } from './run-command.js';

export function registerMakeTinyCommand(program: Command): void {
  program
    .command('make-tiny')
    .description('write a seeded random-weight LLaVA checkpoint (llava-hf layout, real LLaMA tokenizer): tiny, or a preset at full size')
    .requiredOption('--out <dir>', 'output directory')
    .option('--seed <n>', 'weights seed', parseWholeNumber('--seed', 0), 0)
    .option('--text-layers <n>', 'decoder layers', parseWholeNumber('--text-layers', 1))
    .option('--vision-layers <n>', 'CLIP layers', parseWholeNumber('--vision-layers', 2))
    .option('--kv-heads <n>', 'decoder key/value heads (grouped-query attention when fewer than heads)', parseWholeNumber('--kv-heads', 1))
    .option('--dtype <dtype>', 'weight dtype on disk: F32, F16 or BF16 (any case)', parseChoice('--dtype', ['F32', 'F16', 'BF16'] as const), 'F32')
    .addOption(new Option('--arch <arch>', 'LLaVA-1.5 or LLaVA-NeXT (anyres)').choices(['llava', 'llava-next']).default('llava'))
    .addOption(
      new Option('--preset <name>', `${VISDROP_TINY_PRESET}: the shipped model's initial checkpoint (HF initialisation, synth tokenizer); others: a benchmark preset at full size, sharded like llava-hf (5 GB files); the shape flags do not apply`)
        .choices([VISDROP_TINY_PRESET, ...Object.keys(PRESETS)])
        .conflicts(['textLayers', 'visionLayers', 'kvHeads', 'arch']),
    )
    .action(
      runCommand(async (flags: { out: string; seed: number; textLayers?: number; visionLayers?: number; kvHeads?: number; dtype: 'F32' | 'F16' | 'BF16'; arch: 'llava' | 'llava-next'; preset?: string }) => {
        const arch: LlavaArch =
          flags.preset === VISDROP_TINY_PRESET
            ? writeVisdropTinyInit({ outDir: flags.out, seed: flags.seed, dtype: flags.dtype })
            : await makeTinyCheckpoint({
                outDir: flags.out,
                seed: flags.seed,
                dtype: flags.dtype,
                arch: flags.arch,
                ...(flags.preset ? { preset: flags.preset } : {}),
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
