// `visdrop synth`: writes the synthetic visual question set (images, LLaVA pre-training and
// fine-tuning JSON, the held-out test questions, meta.json), seeded.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { writeSynthDataset } from '../index.js';
import { parseWholeNumber } from './options.js';
import { runCommand } from './run-command.js';

export function registerSynthCommand(program: Command): void {
  program
    .command('synth')
    .description('write a seeded synthetic visual question set in LLaVA formats (pretrain.json, train.json, test.jsonl, images/)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--count <n>', 'scenes (about 1 in 10 goes to the test split)', parseWholeNumber('--count', 1), 3000)
    .option('--seed <s>', 'seed', parseWholeNumber('--seed', 0), 0)
    .option('--tiles <k>', 'draw each shape as a k x k block of copies of itself, 1-4 (a curriculum aid; questions unchanged)', parseWholeNumber('--tiles', 1), 1)
    .action(
      runCommand(async (flags: { out: string; count: number; seed: number; tiles: number }) => {
        const bar = process.stderr.isTTY
          ? new cliProgress.SingleBar({ stream: process.stderr, format: 'synth [{bar}] {value}/{total} scenes | ETA {eta_formatted}', hideCursor: true }, cliProgress.Presets.shades_classic)
          : undefined;
        bar?.start(flags.count, 0);
        const meta = await writeSynthDataset({ outDir: flags.out, count: flags.count, seed: flags.seed, tiles: flags.tiles, onProgress: (done) => bar?.update(done) }).finally(() => bar?.stop());
        const { train, test } = meta.splits;
        const perFamily = Object.entries(test.questionsPerFamily)
          .map(([family, n]) => `${family} ${n}`)
          .join(', ');
        process.stderr.write(
          `wrote ${flags.out}: ${train.scenes} training scenes (${train.pretrainSamples} descriptions, ${train.questions} questions), ` +
            `${test.scenes} test scenes (${test.questions} questions: ${perFamily}), seed ${flags.seed}\n`,
        );
      }),
    );
}
