// ScienceQA-IMG: the test questions with an image. LLaVA's layout: llava_test_CQM-A.json (a JSON
// list of {id, image, conversations}), problems.json (id -> {choices, answer, ...}), pid_splits.json
// and images/test/. The prompt is model_vqa_science.py's with --single-pred-prompt: the first turn
// without its image marker, then the letter instruction; the recorded prompt starts "<image>\n" as
// LLaVA's does. Hugging Face layout (lmms-lab/ScienceQA, ScienceQA-IMG): question, choices, answer,
// hint, image, the prompt built as "Context: {hint}\n{question}\nA. ...\nB. ...". Letters parsed as
// llava/eval/eval_science_qa.py does; score = IMG accuracy in %.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataError } from '../../errors.js';
import { field, readJson } from '../data/files.js';
import { SCIENCEQA_OPTIONS, scienceQaChoice } from '../metrics/scienceqa.js';
import { detectLayout, embeddedImage, readParquetRows } from './layout.js';
import { defaultAnswerKey, idPromptKey, LETTER_ANSWER, mean, percent, type EvalQuestion, type EvalTask, type TaskData } from './types.js';

const QUESTIONS = 'llava_test_CQM-A.json';

interface ScienceQaTruth {
  readonly answer: number;
  readonly choices: number;
}

export const scienceQaTask: EvalTask = {
  name: 'scienceqa-img',
  scoreName: 'IMG accuracy (%)',
  // model_vqa_science.py's max_new_tokens.
  maxNewTokens: 1024,
  async load(path) {
    const layout = detectLayout(path, 'scienceqa-img', QUESTIONS);
    const questions: EvalQuestion<ScienceQaTruth>[] = [];
    const add = (id: string | number, firstTurn: string, image: EvalQuestion['image'], truth: ScienceQaTruth) => {
      const message = `${firstTurn.replace('<image>', '').trim()}\n${LETTER_ANSWER}`;
      const prompt = `<image>\n${message}`;
      questions.push({ key: idPromptKey(id, prompt), questionId: id, prompt, message, image, truth });
    };
    if (layout.kind === 'llava') {
      const file = join(layout.dir, QUESTIONS);
      const entries = readJson(file, "LLaVA's ScienceQA question list");
      if (!Array.isArray(entries)) throw new DataError({ subject: file, expected: 'a JSON list of {id, image, conversations}', found: typeof entries });
      const problemsFile = join(layout.dir, 'problems.json');
      const problems = readJson(problemsFile, 'ScienceQA problems') as Record<string, Record<string, unknown>>;
      const splitsFile = join(layout.dir, 'pid_splits.json');
      const test = new Set(field(readJson(splitsFile, 'ScienceQA splits') as Record<string, unknown>, 'test', 'array', splitsFile).map(String));
      const imageDir = join(layout.dir, 'images', 'test');
      entries.forEach((entry: Record<string, unknown>, i) => {
        const where = `${file}[${i}]`;
        if (entry.image === undefined || entry.image === null) return; // not an IMG question
        const id = field(entry, 'id', 'id', where);
        const conversations = field(entry, 'conversations', 'array', where);
        const first = conversations[0] as Record<string, unknown> | undefined;
        if (!first) throw new DataError({ subject: `${where}: conversations`, expected: 'a first turn', found: 'none' });
        const problem = problems[String(id)];
        if (!problem || !test.has(String(id))) throw new DataError({ subject: where, expected: `problem ${id} in ${problemsFile} and the test split`, found: problem ? 'not in the test split' : 'no such problem' });
        const image = field(entry, 'image', 'string', where);
        const direct = join(imageDir, image);
        const path = existsSync(direct) ? direct : join(imageDir, String(id), basename(image));
        const choices = field(problem, 'choices', 'strings', `${problemsFile}: ${id}`);
        add(id, field(first, 'value', 'string', `${where}: conversations[0]`), { path: existsSync(path) ? path : direct }, { answer: field(problem, 'answer', 'number', `${problemsFile}: ${id}`), choices: choices.length });
      });
    } else {
      for (const r of await readParquetRows(layout.files, ['question', 'choices', 'answer', 'image'], 'scienceqa-img')) {
        if (r.row.image === null || r.row.image === undefined) continue;
        const choices = field(r.row, 'choices', 'strings', r.where);
        const hint = typeof r.row.hint === 'string' && r.row.hint !== '' ? `Context: ${r.row.hint}\n` : '';
        const options = choices.map((c, i) => `${SCIENCEQA_OPTIONS[i] ?? '?'}. ${c}`).join('\n');
        add(r.index, `${hint}${field(r.row, 'question', 'string', r.where)}\n${options}`, embeddedImage(r), { answer: field(r.row, 'answer', 'number', r.where), choices: choices.length });
      }
    }
    const correct = (q: EvalQuestion<ScienceQaTruth>, text: string) => (scienceQaChoice(text, q.truth.choices) === q.truth.answer ? 1 : 0);
    const data: TaskData<ScienceQaTruth> = {
      questions,
      answerKey: defaultAnswerKey,
      questionScore: correct,
      score(answered) {
        const accuracy = percent(mean(answered.map(({ question, text }) => correct(question, text))));
        return { task: 'scienceqa-img', n: answered.length, metrics: { imgAccuracy: accuracy, parsing: 'llava' }, score: accuracy };
      },
    };
    return data as TaskData;
  },
};
