// `visdrop convert`: a checkpoint's weights in another dtype, with its config, tokenizer and
// processor files (how a trained F32 checkpoint becomes the shipped F16 model).
import type { Command } from 'commander';
import { convertCheckpoint } from '../index.js';
import { parseChoice } from './options.js';
import { runCommand } from './run-command.js';

export function registerConvertCommand(program: Command): void {
  program
    .command('convert')
    .description("write a llava-hf checkpoint's weights in another dtype, with its config, tokenizer and processor files")
    .requiredOption('--model <dir>', 'llava-hf checkpoint directory')
    .requiredOption('--out <dir>', 'output directory (not --model)')
    .option('--dtype <dtype>', 'F32, F16 or BF16 (any case)', parseChoice('--dtype', ['F32', 'F16', 'BF16'] as const), 'F16')
    .action(
      runCommand(async (flags: { model: string; out: string; dtype: 'F32' | 'F16' | 'BF16' }) => {
        const bytes = convertCheckpoint({ modelDir: flags.model, outDir: flags.out, dtype: flags.dtype });
        process.stderr.write(`wrote ${flags.out}: ${flags.dtype} weights, ${(bytes / 1e6).toFixed(1)} MB\n`);
      }),
    );
}
