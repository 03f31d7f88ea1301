// visdrop-tiny as shipped (assets/visdrop-tiny, F16) answers questions about held-out scenes of the
// synthetic set it was trained on (seed 0; scenes it never saw): the demo's question, and every
// question of the first held-out scenes, all families (86% of 1000 held-out questions; README,
// "visdrop-tiny"). A model that ignores the picture scores the question prior, ~37%.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_ANSWER, DEMO_QUESTION, DEMO_SCENE } from './demo-command.js';
import { questionsFor, sceneSplit, shortAnswerPrompt } from '../synth/dataset.js';
import { encodeScenePng, renderScene } from '../synth/render.js';
import { sampleScene } from '../synth/scene.js';
import { SHORT_ANSWER_SUFFIX } from '../synth/questions.js';
import { resolveModelDir } from '../generate/default-model.js';
import { loadModel, type LlavaModel } from '../generate/model.js';

/**
 * Held-out questions asked (the first held-out scenes' questions of every family), and how many must
 * come back right: the shipped model answers 35, the question prior about 15.
 */
const QUESTIONS = 40;
const REQUIRED = 27;

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

  test(`answers at least ${REQUIRED} of the first ${QUESTIONS} held-out questions`, async () => {
    const results: string[] = [];
    for (let index = 0; results.length < QUESTIONS; index++) {
      const scene = sampleScene(0, index);
      if (sceneSplit(0, scene.id) !== 'test') continue;
      const png = await encodeScenePng(renderScene(scene, 1));
      for (const question of questionsFor(0, scene)) {
        if (results.length === QUESTIONS) break;
        const got = await answer(model, png, shortAnswerPrompt(question));
        results.push(`${got === question.answer ? 'right' : 'WRONG'}: [${question.family}] ${question.text} ${got} (${question.answer})`);
      }
    }
    const right = results.filter((r) => r.startsWith('right')).length;
    assert.ok(right >= REQUIRED, `${right} of ${QUESTIONS} right:\n${results.join('\n')}`);
  });
});
