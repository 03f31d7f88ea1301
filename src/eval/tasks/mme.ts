// MME, 14 yes/no subtasks. LLaVA's layout: llava_mme.jsonl (question_id "<subtask>/<image file>",
// image, text ending in the short-answer instruction, category) and MME_Benchmark_release_version/
// with each subtask's images and its ground-truth .txt files (`question<TAB>answer`, beside the
// images or in questions_answers_YN/). A question finds its ground truth as LLaVA's
// convert_answer_to_mme.py does: the instruction removed and " Please answer yes or no." restored.
// Hugging Face layout (lmms-lab/MME): question_id, question, answer, category, image; the prompt
// is built as LLaVA's (and lmms-eval's): "Please answer yes or no." replaced by the instruction.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataError } from '../../errors.js';
import { field } from '../data/files.js';
import { MME_SUBTASKS, mmeScores, parseMmeAnswer } from '../metrics/mme.js';
import { detectLayout, embeddedImage, readLlavaQuestions, readParquetRows } from './layout.js';
import { defaultAnswerKey, idPromptKey, SHORT_ANSWER, type EvalQuestion, type EvalTask, type TaskData } from './types.js';

const QUESTIONS = 'llava_mme.jsonl';
const RELEASE = 'MME_Benchmark_release_version';
const YES_OR_NO = 'Please answer yes or no.';

interface MmeTruth {
  readonly answer: 'yes' | 'no';
  readonly subtask: string;
  readonly image: string;
}

/** (subtask, .txt file, question) -> answer, from the official release's ground-truth files. */
function officialAnswers(release: string): Map<string, string> {
  if (!existsSync(release)) throw new DataError({ subject: release, expected: "MME's official release folder (images and ground-truth .txt files)", found: 'none' });
  const answers = new Map<string, string>();
  for (const subtask of readdirSync(release)) {
    const dir = join(release, subtask);
    if (!statSync(dir).isDirectory()) continue;
    const qaDir = existsSync(join(dir, 'images')) ? join(dir, 'questions_answers_YN') : dir;
    for (const file of readdirSync(qaDir).filter((f) => f.endsWith('.txt'))) {
      readFileSync(join(qaDir, file), 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .forEach((line, i) => {
          const parts = line.trim().split('\t');
          if (parts.length !== 2) throw new DataError({ subject: `${join(qaDir, file)}:${i + 1}`, expected: 'question<TAB>answer', found: JSON.stringify(line) });
          answers.set(`${subtask}\u0000${file}\u0000${parts[0]}`, parts[1]!);
        });
    }
  }
  return answers;
}

function yesNo(value: string, where: string): 'yes' | 'no' {
  const answer = value.trim().toLowerCase();
  if (answer !== 'yes' && answer !== 'no') throw new DataError({ subject: where, expected: 'a ground truth of "Yes" or "No"', found: JSON.stringify(value) });
  return answer;
}

export const mmeTask: EvalTask = {
  name: 'mme',
  scoreName: 'Perception score (max 2000)',
  maxNewTokens: 128,
  async load(path) {
    const layout = detectLayout(path, 'mme', QUESTIONS);
    const questions: EvalQuestion<MmeTruth>[] = [];
    if (layout.kind === 'llava') {
      const release = join(layout.dir, RELEASE);
      const official = officialAnswers(release);
      for (const q of readLlavaQuestions(join(layout.dir, QUESTIONS))) {
        const id = String(q.questionId);
        const subtask = id.split('/')[0]!;
        const file = `${basename(id).split('.')[0]}.txt`;
        let question = q.text.replace(SHORT_ANSWER, '').trim();
        if (!question.includes(YES_OR_NO)) {
          question = `${question} ${YES_OR_NO}`;
          if (!official.has(`${subtask}\u0000${file}\u0000${question}`)) question = question.replace(` ${YES_OR_NO}`, `  ${YES_OR_NO}`);
        }
        const answer = official.get(`${subtask}\u0000${file}\u0000${question}`);
        if (answer === undefined) throw new DataError({ subject: q.where, expected: `its ground truth in ${release}/${subtask} (${file}: ${JSON.stringify(question)})`, found: 'none' });
        questions.push({ key: idPromptKey(q.questionId, q.text), questionId: q.questionId, prompt: q.text, message: q.text, image: { path: join(release, q.image) }, truth: { answer: yesNo(answer, q.where), subtask, image: id } });
      }
    } else {
      for (const r of await readParquetRows(layout.files, ['question_id', 'question', 'answer', 'category', 'image'], 'mme')) {
        const id = field(r.row, 'question_id', 'id', r.where);
        const subtask = field(r.row, 'category', 'string', r.where);
        const prompt = `${field(r.row, 'question', 'string', r.where).replace(YES_OR_NO, '').trim()}\n${SHORT_ANSWER}`;
        questions.push({ key: idPromptKey(id, prompt), questionId: id, prompt, message: prompt, image: embeddedImage(r), truth: { answer: yesNo(field(r.row, 'answer', 'string', r.where), r.where), subtask, image: String(id) } });
      }
    }
    const unknown = questions.find((q) => !MME_SUBTASKS.includes(q.truth.subtask));
    if (unknown) throw new DataError({ subject: `MME question ${unknown.questionId}`, expected: `a subtask among ${MME_SUBTASKS.join(', ')}`, found: JSON.stringify(unknown.truth.subtask) });
    const data: TaskData<MmeTruth> = {
      questions,
      answerKey: defaultAnswerKey,
      questionScore: (q, text) => (parseMmeAnswer(text) === q.truth.answer ? 1 : 0),
      score(answered) {
        const scores = mmeScores(answered.map(({ question, text }) => ({ subtask: question.truth.subtask, image: question.truth.image, correct: parseMmeAnswer(text) === question.truth.answer })));
        const subtasks = Object.fromEntries(Object.entries(scores.subtasks).map(([k, v]) => [k, { ...v, acc: 100 * v.acc, accPlus: 100 * v.accPlus }]));
        return {
          task: 'mme',
          n: answered.length,
          metrics: { perception: scores.perception, cognition: scores.cognition, total: scores.perception + scores.cognition, subtasks },
          score: scores.perception,
        };
      },
    };
    return data as TaskData;
  },
};
