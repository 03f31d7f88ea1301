// DocVQA val (not in LLaVA-1.5's scripts; lmms-eval's docvqa_val). The official layout: val_v1.0.json
// (or val_v1.0_withQT.json) {data: [{questionId, question, image, answers}]} with the images at the
// given paths under the folder; Hugging Face layout (lmms-lab/DocVQA): questionId, question,
// answers, image. Prompt: the question and the short-answer instruction. Score: ANLS x 100.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { field, readJson } from '../data/files.js';
import { anls } from '../metrics/anls.js';
import { detectLayout, embeddedImage, readParquetRows } from './layout.js';
import { defaultAnswerKey, idPromptKey, mean, percent, SHORT_ANSWER, type EvalQuestion, type EvalTask, type TaskData } from './types.js';

const OFFICIAL_FILES = ['val_v1.0_withQT.json', 'val_v1.0.json'];

export const docVqaTask: EvalTask = {
  name: 'docvqa',
  scoreName: 'ANLS (x100)',
  maxNewTokens: 128,
  async load(path) {
    const official = OFFICIAL_FILES.find((f) => existsSync(join(path, f))) ?? OFFICIAL_FILES[1]!;
    const layout = detectLayout(path, 'docvqa', official);
    const questions: EvalQuestion<string[]>[] = [];
    if (layout.kind === 'llava') {
      const file = join(layout.dir, official);
      const data = field(readJson(file, 'DocVQA annotations') as Record<string, unknown>, 'data', 'array', file);
      data.forEach((entry, i) => {
        const where = `${file}: data[${i}]`;
        const record = entry as Record<string, unknown>;
        const id = field(record, 'questionId', 'id', where);
        const prompt = `${field(record, 'question', 'string', where)}\n${SHORT_ANSWER}`;
        questions.push({ key: idPromptKey(id, prompt), questionId: id, prompt, message: prompt, image: { path: join(layout.dir, field(record, 'image', 'string', where)) }, truth: field(record, 'answers', 'strings', where) });
      });
    } else {
      for (const r of await readParquetRows(layout.files, ['questionId', 'question', 'answers', 'image'], 'docvqa')) {
        const id = field(r.row, 'questionId', 'id', r.where);
        const prompt = `${field(r.row, 'question', 'string', r.where)}\n${SHORT_ANSWER}`;
        questions.push({ key: idPromptKey(id, prompt), questionId: id, prompt, message: prompt, image: embeddedImage(r), truth: field(r.row, 'answers', 'strings', r.where) });
      }
    }
    const result: TaskData<string[]> = {
      questions,
      answerKey: defaultAnswerKey,
      questionScore: (q, text) => anls(text, q.truth),
      score(answered) {
        const value = percent(mean(answered.map(({ question, text }) => anls(text, question.truth))));
        return { task: 'docvqa', n: answered.length, metrics: { anls: value }, score: value };
      },
    };
    return result as TaskData;
  },
};
