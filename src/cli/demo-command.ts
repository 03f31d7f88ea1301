// `visdrop demo`: the bundled model, visdrop-tiny, answers a question about the bundled picture, so
// a fresh clone shows the whole path working, offline. The picture is held-out scene 26 of the
// synthetic set with seed 0 (`visdrop synth --seed 0`): visdrop-tiny never saw it in training.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadModel, resolveModelDir, SHORT_ANSWER_SUFFIX } from '../index.js';
import { runCommand } from './run-command.js';

const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEMO_SCENE = join(PACKAGE_ROOT, 'assets', 'demo-scene.png');
export const DEMO_QUESTION = 'What color is the triangle?';
/** The scene's truth, printed beside the model's answer. */
export const DEMO_ANSWER = 'orange';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('answer a question about the bundled picture with the bundled model, visdrop-tiny')
    .action(
      runCommand(async () => {
        const model = await loadModel(resolveModelDir());
        try {
          process.stdout.write(`image: ${DEMO_SCENE}\nUSER: ${DEMO_QUESTION}\nASSISTANT: `);
          let first = true;
          // LLaVA-1.5's short-answer instruction, as visdrop-tiny's questions were trained with it.
          for await (const event of model.generate({ image: DEMO_SCENE, prompt: `${DEMO_QUESTION}\n${SHORT_ANSWER_SUFFIX}`, maxNewTokens: 8 })) {
            if (event.type === 'token' || event.type === 'text') {
              // The space after "ASSISTANT:" is printed already; a tokenizer that leads with one would double it.
              process.stdout.write(first ? event.text.trimStart() : event.text);
              first = false;
            }
            if (event.type === 'done') {
              const t = event.timings;
              process.stdout.write(
                `\n(the picture's answer: ${DEMO_ANSWER})\n` +
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
