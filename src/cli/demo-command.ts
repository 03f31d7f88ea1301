// `visdrop demo`: makes the tiny seeded checkpoint (once, in a cache folder) and answers a question
// about the bundled picture, so a fresh clone shows the whole path working, offline. The weights
// are random, so the answer is random words; the timings are real.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadModel, makeTinyCheckpoint } from '../index.js';
import { runCommand } from './run-command.js';

const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEMO_IMAGE = join(PACKAGE_ROOT, 'assets', 'demo.jpg');
const DEMO_MODEL = join(PACKAGE_ROOT, '.visdrop-cache', 'tiny-llava-seed0');
const QUESTION = 'What is in the picture?';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('answer a question about the bundled picture with a tiny random-weight LLaVA')
    .action(
      runCommand(async () => {
        if (!existsSync(join(DEMO_MODEL, 'config.json'))) {
          process.stderr.write(`making the tiny checkpoint in ${DEMO_MODEL} ...\n`);
          await makeTinyCheckpoint({ outDir: DEMO_MODEL, seed: 0 });
        }
        const model = await loadModel(DEMO_MODEL);
        try {
          process.stdout.write(`image: ${DEMO_IMAGE}\nUSER: ${QUESTION}\nASSISTANT:`);
          for await (const event of model.generate({ image: DEMO_IMAGE, prompt: QUESTION, maxNewTokens: 24 })) {
            if (event.type === 'token' || event.type === 'text') process.stdout.write(event.text);
            if (event.type === 'done') {
              const t = event.timings;
              process.stdout.write('\n');
              process.stdout.write(
                `(${event.tokens.length} tokens, stop: ${event.reason}; random weights, so the words are random)\n` +
                  `load ${model.loadMs.toFixed(0)} ms | vision ${t.visionMs.toFixed(1)} ms | prefill ${t.prefillMs.toFixed(1)} ms | ` +
                  `decode ${t.decodeMsPerToken.toFixed(2)} ms/token\n`,
              );
            }
          }
        } finally {
          await model.release();
        }
      }),
    );
}
