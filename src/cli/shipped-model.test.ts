// visdrop-tiny as shipped (assets/visdrop-tiny, F16) answers questions about held-out scenes of the
// synthetic set it was trained on (seed 0; scenes it never saw): the demo's question, and the colour
// questions of the first held-out scenes, the family it reads off the picture (89% of 119 held-out
// colour questions; README, "visdrop-tiny"). A model that ignores the picture answers them at about
// one in three (the commonest colour, or one of the colours present).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_ANSWER, DEMO_QUESTION, DEMO_SCENE } from './demo-command.js';
import { questionsFor, sceneSplit, shortAnswerPrompt } from '../synth/dataset.js';
import { encodeScenePng, renderScene } from '../synth/render.js';
import { sampleScene } from '../synth/scene.js';
import { SHORT_ANSWER_SUFFIX } from '../synth/questions.js';
import { resolveModelDir } from '../generate/default-model.js';
import { loadModel, type LlavaModel } from '../generate/model.js';

/** Held-out colour questions asked, and how many must come back right. */
const QUESTIONS = 20;
const REQUIRED = 15;

async function answer(model: LlavaModel, image: string | Uint8Array, prompt: string): Promise<string> {
  for await (const event of model.generate({ image, prompt, maxNewTokens: 6 })) if (event.type === 'done') return event.text.trim();
  throw new Error('the generation ended without a done event');
}

describe('the shipped visdrop-tiny', () => {
  let model: LlavaModel;
  before(async () => {
    model = await loadModel(resolveModelDir(), { threads: 1 });
  });
  after(() => model.release());

  test("answers the demo's question about its held-out picture", async () => {
    assert.equal(await answer(model, DEMO_SCENE, `${DEMO_QUESTION}\n${SHORT_ANSWER_SUFFIX}`), DEMO_ANSWER);
  });

  test(`answers at least ${REQUIRED} of the first ${QUESTIONS} held-out colour questions`, async () => {
    const results: string[] = [];
    for (let index = 0; results.length < QUESTIONS; index++) {
      const scene = sampleScene(0, index);
      if (sceneSplit(0, scene.id) !== 'test') continue;
      const png = await encodeScenePng(renderScene(scene, 1));
      for (const question of questionsFor(0, scene).filter((q) => q.family === 'color')) {
        if (results.length === QUESTIONS) break;
        const got = await answer(model, png, shortAnswerPrompt(question));
        results.push(`${got === question.answer ? 'right' : 'WRONG'}: ${question.text} ${got} (${question.answer})`);
      }
    }
    const right = results.filter((r) => r.startsWith('right')).length;
    assert.ok(right >= REQUIRED, `${right} of ${QUESTIONS} right:\n${results.join('\n')}`);
  });
});
