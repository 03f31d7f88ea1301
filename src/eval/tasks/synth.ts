// visdrop's generated set: DIR/test.jsonl, one question a line {question_id, image, text, answer,
// category}, images in DIR/images/. The text is the whole user message (it already asks for a
// single word or phrase). Exact match after the official VQA normaliser against the one answer,
// overall and per category; score = overall accuracy in %.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../../errors.js';
import { field } from '../data/files.js';
import { synthCorrect } from '../metrics/exact-match.js';
import { readLlavaQuestions } from './layout.js';
import { defaultAnswerKey, idPromptKey, mean, percent, type EvalQuestion, type EvalTask, type TaskData } from './types.js';

interface SynthTruth {
  readonly answer: string;
  readonly category: string;
}

export const synthTask: EvalTask = {
  name: 'synth',
  scoreName: 'accuracy (%)',
  maxNewTokens: 128,
  async load(dir) {
    const file = join(dir, 'test.jsonl');
    if (!existsSync(file)) throw new DataError({ subject: dir, expected: 'the synth set: test.jsonl and images/', found: 'no test.jsonl' });
    const questions: EvalQuestion<SynthTruth>[] = readLlavaQuestions(file).map((q) => ({
      key: idPromptKey(q.questionId, q.text),
      questionId: q.questionId,
      prompt: q.text,
      message: q.text,
      image: { path: join(dir, 'images', q.image) },
      truth: { answer: field(q.record, 'answer', 'string', q.where), category: field(q.record, 'category', 'string', q.where) },
    }));
    const data: TaskData<SynthTruth> = {
      questions,
      answerKey: defaultAnswerKey,
      questionScore: (q, text) => (synthCorrect(text, q.truth.answer) ? 1 : 0),
      score(answered) {
        const scores = answered.map(({ question, text }) => ({ category: question.truth.category, correct: data.questionScore(question, text) }));
        const categories = [...new Set(scores.map((s) => s.category))].sort();
        const perCategory = Object.fromEntries(
          categories.map((c) => {
            const list = scores.filter((s) => s.category === c);
            return [c, { n: list.length, accuracy: percent(mean(list.map((s) => s.correct))) }];
          }),
        );
        const accuracy = percent(mean(scores.map((s) => s.correct)));
        return { task: 'synth', n: answered.length, metrics: { accuracy, perCategory, normaliser: 'official' }, score: accuracy };
      },
    };
    return data as TaskData;
  },
};
