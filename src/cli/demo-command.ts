// `visdrop demo`: the bundled model (visdrop-tiny, trained here) answers questions about the bundled
// picture, a held-out scene of the synthetic set it never saw in training, first with every image
// token and then with PyramidDrop at the model's quarter depths. Offline, on a fresh clone.
import { join } from 'node:path';
import type { Command } from 'commander';
import { defaultModelDir, loadModel, pyramidDrop, resolveModelDir, type LlavaModel, type TokenReducer } from '../index.js';
import { runCommand } from './run-command.js';

const DEMO_SCENE = join(defaultModelDir(), '..', 'demo-scene.png');
const SHORT_ANSWER = '\nAnswer the question using a single word or phrase.';

/** Questions about the bundled scene (test split of `visdrop synth --seed 0`, scene-000022) with their answers. */
const QUESTIONS: readonly { readonly question: string; readonly answer: string }[] = [
  { question: 'What color is the circle on the right?', answer: 'yellow' },
  { question: 'How many circles are there?', answer: '2' },
  { question: 'What shape is the yellow object?', answer: 'circle' },
];

interface Answer {
  readonly text: string;
  readonly imageTokens: readonly number[];
  readonly prefillMs: number;
}

async function answer(model: LlavaModel, question: string, reduce: TokenReducer | null): Promise<Answer> {
  let imageTokens: readonly number[] = [];
  for await (const event of model.generate({ image: DEMO_SCENE, prompt: question + SHORT_ANSWER, maxNewTokens: 8, ...(reduce ? { reduce } : {}) })) {
    if (event.type === 'prefill' && event.reduction) imageTokens = [event.reduction.imageTokensPerLayer[0]!, ...event.reduction.stages.map((s) => s.order.length)];
    if (event.type === 'done') return { text: event.text.trim(), imageTokens, prefillMs: event.timings.prefillMs };
  }
  throw new Error('generation ended without a done event');
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('answer questions about the bundled picture with the bundled model, with and without PyramidDrop')
    .action(
      runCommand(async () => {
        const dir = resolveModelDir();
        const model = await loadModel(dir);
        try {
          const depth = model.arch.text.numLayers;
          const layers = [1, 2, 3].map((q) => Math.round((q * depth) / 4));
          const pdrop = pyramidDrop({ layers, lambda: 0.5 });
          process.stdout.write(`model: ${dir} (loaded in ${model.loadMs.toFixed(0)} ms)\nimage: ${DEMO_SCENE}\n`);
          let right = 0;
          for (const { question, answer: expected } of QUESTIONS) {
            const full = await answer(model, question, null);
            const dropped = await answer(model, question, pdrop);
            const ok = full.text.toLowerCase() === expected;
            right += ok ? 1 : 0;
            process.stdout.write(
              `\nUSER: ${question}\nASSISTANT: ${full.text}   (expected "${expected}": ${ok ? 'right' : 'wrong'}; prefill ${full.prefillMs.toFixed(1)} ms)\n` +
                `with PyramidDrop after layers ${layers.join(',')} (image tokens ${dropped.imageTokens.join(' -> ')}): ${dropped.text}   (prefill ${dropped.prefillMs.toFixed(1)} ms)\n`,
            );
          }
          process.stdout.write(`\n${right} of ${QUESTIONS.length} answered right without reduction\n`);
        } finally {
          await model.release();
        }
      }),
    );
}
