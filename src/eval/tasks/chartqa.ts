// ChartQA test (lmms-eval's chartqa). Official layout: test/test_human.json and
// test/test_augmented.json ([{imgname, query, label}]) with test/png/; Hugging Face layout
// (lmms-lab/ChartQA): type (human_test / augmented_test), question, answer, image. Prompt:
// lmms-eval's, the question then "Answer the question with a single word.". Score: relaxed
// accuracy in %, overall and per split.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../../errors.js';
import { field, readJson } from '../data/files.js';
import { relaxedCorrect } from '../metrics/relaxed.js';
import { detectLayout, embeddedImage, readParquetRows } from './layout.js';
import { defaultAnswerKey, idPromptKey, mean, percent, type EvalQuestion, type EvalTask, type TaskData } from './types.js';

const INSTRUCTION = 'Answer the question with a single word.';
const SPLITS = [
  ['human_test', 'test_human.json'],
  ['augmented_test', 'test_augmented.json'],
] as const;

interface ChartTruth {
  readonly answer: string;
  readonly split: string;
}

export const chartQaTask: EvalTask = {
  name: 'chartqa',
  scoreName: 'relaxed accuracy (%)',
  maxNewTokens: 128,
  async load(path) {
    const layout = detectLayout(path, 'chartqa', join('test', 'test_human.json'));
    const questions: EvalQuestion<ChartTruth>[] = [];
    const add = (id: string | number, question: string, image: EvalQuestion['image'], truth: ChartTruth) => {
      const prompt = `${question}\n${INSTRUCTION}`;
      questions.push({ key: idPromptKey(id, prompt), questionId: id, prompt, message: prompt, image, truth });
    };
    if (layout.kind === 'llava') {
      for (const [split, name] of SPLITS) {
        const file = join(layout.dir, 'test', name);
        if (!existsSync(file)) continue;
        const entries = readJson(file, 'ChartQA questions');
        if (!Array.isArray(entries)) throw new DataError({ subject: file, expected: 'a JSON list of {imgname, query, label}', found: typeof entries });
        entries.forEach((entry: Record<string, unknown>, i) => {
          const where = `${file}[${i}]`;
          add(`${split}/${i}`, field(entry, 'query', 'string', where), { path: join(layout.dir, 'test', 'png', field(entry, 'imgname', 'string', where)) }, { answer: field(entry, 'label', 'string', where), split });
        });
      }
    } else {
      for (const r of await readParquetRows(layout.files, ['type', 'question', 'answer', 'image'], 'chartqa')) {
        add(r.index, field(r.row, 'question', 'string', r.where), embeddedImage(r), { answer: field(r.row, 'answer', 'string', r.where), split: field(r.row, 'type', 'string', r.where) });
      }
    }
    const correct = (q: EvalQuestion<ChartTruth>, text: string) => (relaxedCorrect(text, q.truth.answer) ? 1 : 0);
    const data: TaskData<ChartTruth> = {
      questions,
      answerKey: defaultAnswerKey,
      questionScore: correct,
      score(answered) {
        const splits = [...new Set(answered.map((a) => a.question.truth.split))].sort();
        const perSplit = Object.fromEntries(splits.map((s) => [s, percent(mean(answered.filter((a) => a.question.truth.split === s).map((a) => correct(a.question, a.text))))]));
        const accuracy = percent(mean(answered.map((a) => correct(a.question, a.text))));
        return { task: 'chartqa', n: answered.length, metrics: { relaxedAccuracy: accuracy, perSplit }, score: accuracy };
      },
    };
    return data as TaskData;
  },
};
