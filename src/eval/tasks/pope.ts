// POPE on COCO val2014, categories random/popular/adversarial. LLaVA's layout: llava_pope_test.jsonl
// (question_id, image, text, category), coco/coco_pope_<category>.json (one {question_id, image,
// text, label} a line) and val2014/. As llava/eval/eval_pope.py pairs them: a category's questions
// in file order with its label file's lines in order (images checked to agree). Hugging Face layout
// (lmms-lab/POPE): question_id, question, answer, category, image. Per category accuracy,
// precision, recall, F1 and yes-ratio (share of predicted yes); score = mean F1 over the categories.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../../errors.js';
import { field, readJsonl } from '../data/files.js';
import { binaryMetrics, parsePopeAnswer, type YesNo } from '../metrics/pope.js';
import { detectLayout, embeddedImage, readLlavaQuestions, readParquetRows } from './layout.js';
import { defaultAnswerKey, idPromptKey, mean, percent, SHORT_ANSWER, type EvalQuestion, type EvalTask, type TaskData } from './types.js';

const QUESTIONS = 'llava_pope_test.jsonl';
export const POPE_CATEGORIES = ['random', 'popular', 'adversarial'] as const;

interface PopeTruth {
  readonly label: YesNo;
  readonly category: string;
}

function label(value: unknown, where: string): YesNo {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (text !== 'yes' && text !== 'no') throw new DataError({ subject: `${where}: label`, expected: '"yes" or "no"', found: JSON.stringify(value) });
  return text;
}

export const popeTask: EvalTask = {
  name: 'pope',
  scoreName: 'F1, mean over categories (%)',
  maxNewTokens: 128,
  async load(path) {
    const layout = detectLayout(path, 'pope', QUESTIONS);
    const questions: EvalQuestion<PopeTruth>[] = [];
    if (layout.kind === 'llava') {
      const all = readLlavaQuestions(join(layout.dir, QUESTIONS));
      for (const category of POPE_CATEGORIES) {
        const labelFile = join(layout.dir, 'coco', `coco_pope_${category}.json`);
        const mine = all.filter((q) => q.record.category === category);
        if (mine.length === 0 && !existsSync(labelFile)) continue;
        const labels = readJsonl(labelFile, 'POPE labels');
        if (labels.length !== mine.length) {
          throw new DataError({ subject: labelFile, expected: `${mine.length} labels, one per ${category} question of ${QUESTIONS}`, found: `${labels.length}` });
        }
        mine.forEach((q, i) => {
          const where = `${labelFile}:${i + 1}`;
          const labelImage = field(labels[i]!, 'image', 'string', where);
          if (labelImage !== q.image) throw new DataError({ subject: where, expected: `image ${q.image} (the ${i + 1}th ${category} question's)`, found: labelImage });
          questions.push({
            key: idPromptKey(q.questionId, q.text),
            questionId: q.questionId,
            prompt: q.text,
            message: q.text,
            image: { path: join(layout.dir, 'val2014', q.image) },
            truth: { label: label(labels[i]!.label, where), category },
          });
        });
      }
      const stray = all.find((q) => !(POPE_CATEGORIES as readonly unknown[]).includes(q.record.category));
      if (stray) throw new DataError({ subject: `${stray.where}: category`, expected: POPE_CATEGORIES.join(', '), found: JSON.stringify(stray.record.category) });
    } else {
      for (const r of await readParquetRows(layout.files, ['question_id', 'question', 'answer', 'category', 'image'], 'pope')) {
        const id = field(r.row, 'question_id', 'id', r.where);
        const prompt = `${field(r.row, 'question', 'string', r.where)}\n${SHORT_ANSWER}`;
        questions.push({ key: idPromptKey(id, prompt), questionId: id, prompt, message: prompt, image: embeddedImage(r), truth: { label: label(r.row.answer, r.where), category: field(r.row, 'category', 'string', r.where) } });
      }
    }
    const data: TaskData<PopeTruth> = {
      questions,
      answerKey: defaultAnswerKey,
      questionScore: (q, text) => (parsePopeAnswer(text) === q.truth.label ? 1 : 0),
      score(answered) {
        const categories = [...new Set(answered.map((a) => a.question.truth.category))];
        const perCategory = Object.fromEntries(
          categories.map((category) => {
            const m = binaryMetrics(answered.filter((a) => a.question.truth.category === category).map((a) => ({ predicted: parsePopeAnswer(a.text), label: a.question.truth.label })));
            return [category, { n: m.n, accuracy: percent(m.accuracy), precision: percent(m.precision), recall: percent(m.recall), f1: percent(m.f1), yesRatio: percent(m.yesRatio), tp: m.tp, fp: m.fp, tn: m.tn, fn: m.fn }];
          }),
        );
        const f1 = mean(Object.values(perCategory).map((m) => m.f1));
        const accuracy = mean(Object.values(perCategory).map((m) => m.accuracy));
        return { task: 'pope', n: answered.length, metrics: { f1, accuracy, perCategory, parsing: 'llava' }, score: f1 };
      },
    };
    return data as TaskData;
  },
};
