// VQAv2 val, scored locally. LLaVA's layout: llava_vqav2_mscoco_val2014.jsonl, the official
// v2_mscoco_val2014_annotations.json (question_id -> 10 answers, answer and question types) and
// val2014/. Hugging Face layout (lmms-lab/VQAv2, validation): question_id, question, answers
// ({answer, ...} x 10), answer_type, image. Score: the official evaluation (its normaliser, applied
// when the 10 answers differ) of the prediction after LLaVA's submission converter
// (scripts/convert_vqav2_for_submission.py runs the EvalAI processor on it first), overall and per
// answer type; the EvalAI normaliser's figure beside it.
import { join } from 'node:path';
import { DataError } from '../../errors.js';
import { field, readJson } from '../data/files.js';
import { evalAiNormalise } from '../metrics/vqa-normalize.js';
import { vqaSoftAccuracy } from '../metrics/vqa-accuracy.js';
import { detectLayout, embeddedImage, readLlavaQuestions, readParquetRows } from './layout.js';
import { defaultAnswerKey, idPromptKey, mean, percent, SHORT_ANSWER, type EvalQuestion, type EvalTask, type TaskData } from './types.js';

const QUESTIONS = 'llava_vqav2_mscoco_val2014.jsonl';
const ANNOTATIONS = 'v2_mscoco_val2014_annotations.json';

interface VqaTruth {
  readonly answers: string[];
  readonly answerType: string;
}

function answerList(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) throw new DataError({ subject: `${where}: answers`, expected: 'a list of {answer}', found: typeof value });
  return value.map((a, i) => field(a as Record<string, unknown>, 'answer', 'string', `${where}: answers[${i}]`));
}

/** The official evaluation of LLaVA's converted answer. */
export function vqav2Accuracy(text: string, answers: readonly string[]): number {
  return vqaSoftAccuracy(evalAiNormalise(text), answers, 'official');
}

export const vqav2Task: EvalTask = {
  name: 'vqav2',
  scoreName: 'VQA accuracy, official evaluation (%)',
  maxNewTokens: 128,
  async load(path) {
    const layout = detectLayout(path, 'vqav2', QUESTIONS);
    const questions: EvalQuestion<VqaTruth>[] = [];
    if (layout.kind === 'llava') {
      const file = join(layout.dir, ANNOTATIONS);
      const annotations = field(readJson(file, 'VQAv2 annotations') as Record<string, unknown>, 'annotations', 'array', file);
      const truths = new Map<string, VqaTruth>();
      annotations.forEach((a, i) => {
        const where = `${file}: annotations[${i}]`;
        const record = a as Record<string, unknown>;
        truths.set(String(field(record, 'question_id', 'id', where)), { answers: answerList(record.answers, where), answerType: field(record, 'answer_type', 'string', where) });
      });
      for (const q of readLlavaQuestions(join(layout.dir, QUESTIONS))) {
        const truth = truths.get(String(q.questionId));
        if (!truth) throw new DataError({ subject: q.where, expected: `question ${q.questionId} in ${ANNOTATIONS}`, found: 'none' });
        questions.push({ key: idPromptKey(q.questionId, q.text), questionId: q.questionId, prompt: q.text, message: q.text, image: { path: join(layout.dir, 'val2014', q.image) }, truth });
      }
    } else {
      for (const r of await readParquetRows(layout.files, ['question_id', 'question', 'answers', 'image'], 'vqav2')) {
        const id = field(r.row, 'question_id', 'id', r.where);
        const prompt = `${field(r.row, 'question', 'string', r.where)}\n${SHORT_ANSWER}`;
        const answerType = typeof r.row.answer_type === 'string' ? r.row.answer_type : 'all';
        questions.push({ key: idPromptKey(id, prompt), questionId: id, prompt, message: prompt, image: embeddedImage(r), truth: { answers: answerList(r.row.answers, r.where), answerType } });
      }
    }
    const data: TaskData<VqaTruth> = {
      questions,
      answerKey: defaultAnswerKey,
      questionScore: (q, text) => vqav2Accuracy(text, q.truth.answers),
      score(answered) {
        const scored = answered.map(({ question, text }) => ({ type: question.truth.answerType, official: vqav2Accuracy(text, question.truth.answers), evalai: vqaSoftAccuracy(text, question.truth.answers, 'evalai') }));
        const types = [...new Set(scored.map((s) => s.type))].sort();
        const perAnswerType = Object.fromEntries(types.map((t) => [t, percent(mean(scored.filter((s) => s.type === t).map((s) => s.official)))]));
        const accuracy = percent(mean(scored.map((s) => s.official)));
        return {
          task: 'vqav2',
          n: answered.length,
          metrics: { accuracy, normaliser: 'official (after the EvalAI answer processor, as LLaVA submits)', perAnswerType, accuracyEvalAiNormaliser: percent(mean(scored.map((s) => s.evalai))) },
          score: accuracy,
        };
      },
    };
    return data as TaskData;
  },
};
