// GQA testdev-balanced. LLaVA's layout: llava_gqa_testdev_balanced.jsonl at the top,
// data/testdev_balanced_questions.json (id -> {imageId, question, answer, ...}) and data/images/.
// Hugging Face layout (lmms-lab/GQA): instruction files (id, imageId, question, answer) and image
// files (id, image) side by side. Score: exact match of LLaVA's converted prediction (trailing
// periods stripped, lower-cased) against `answer`, as the official eval.py's accuracy.
import { join } from 'node:path';
import { DataError } from '../../errors.js';
import { field, readJson } from '../data/files.js';
import { gqaCorrect } from '../metrics/exact-match.js';
import { imageBytes, parquetFiles, readParquet } from '../data/parquet.js';
import { detectLayout, readLlavaQuestions } from './layout.js';
import { defaultAnswerKey, idPromptKey, mean, percent, SHORT_ANSWER, type EvalQuestion, type EvalTask, type TaskData, type ImageRef } from './types.js';

const QUESTIONS = 'llava_gqa_testdev_balanced.jsonl';

export const gqaTask: EvalTask = {
  name: 'gqa',
  scoreName: 'accuracy (%)',
  maxNewTokens: 128,
  async load(path) {
    const layout = detectLayout(path, 'gqa', QUESTIONS);
    const questions: EvalQuestion<string>[] = [];
    if (layout.kind === 'llava') {
      const llavaQuestions = readLlavaQuestions(join(layout.dir, QUESTIONS));
      const officialFile = join(layout.dir, 'data', 'testdev_balanced_questions.json');
      const official = readJson(officialFile, 'GQA testdev_balanced questions') as Record<string, Record<string, unknown>>;
      for (const q of llavaQuestions) {
        const entry = official[String(q.questionId)];
        if (!entry) throw new DataError({ subject: q.where, expected: `question ${q.questionId} in ${officialFile}`, found: 'none' });
        const truth = field(entry, 'answer', 'string', `${officialFile}: ${q.questionId}`);
        questions.push({ key: idPromptKey(q.questionId, q.text), questionId: q.questionId, prompt: q.text, message: q.text, image: { path: join(layout.dir, 'data', 'images', q.image) }, truth });
      }
    } else {
      const images = new Map<string, ImageRef>();
      const instructions: { row: Record<string, unknown>; where: string }[] = [];
      for (const file of parquetFiles(path)) {
        const table = await readParquet(file);
        if (table.columns.includes('question') && table.columns.includes('answer') && table.columns.includes('imageId')) {
          table.rows.forEach((row, i) => instructions.push({ row, where: `${file} row ${i}` }));
        } else if (table.columns.includes('id') && table.columns.includes('image')) {
          table.rows.forEach((row, i) => images.set(String(field(row, 'id', 'id', `${file} row ${i}`)), { bytes: imageBytes(row.image, `${file} row ${i}`), name: `${file} row ${i}` }));
        } else {
          throw new DataError({ subject: file, expected: 'GQA instructions (id, imageId, question, answer) or images (id, image)', found: `columns ${table.columns.join(', ')}` });
        }
      }
      for (const { row, where } of instructions) {
        const id = field(row, 'id', 'id', where);
        const imageId = String(field(row, 'imageId', 'id', where));
        const image = images.get(imageId);
        if (!image) throw new DataError({ subject: where, expected: `image ${imageId} in the GQA image files`, found: 'none' });
        const prompt = `${field(row, 'question', 'string', where)}\n${SHORT_ANSWER}`;
        questions.push({ key: idPromptKey(id, prompt), questionId: id, prompt, message: prompt, image, truth: field(row, 'answer', 'string', where) });
      }
    }
    const data: TaskData<string> = {
      questions,
      answerKey: defaultAnswerKey,
      questionScore: (q, text) => (gqaCorrect(text, q.truth) ? 1 : 0),
      score(answered) {
        const accuracy = percent(mean(answered.map(({ question, text }) => (gqaCorrect(text, question.truth) ? 1 : 0))));
        return { task: 'gqa', n: answered.length, metrics: { accuracy }, score: accuracy };
      },
    };
    return data as TaskData;
  },
};
