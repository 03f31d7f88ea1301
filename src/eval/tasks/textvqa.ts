// TextVQA val (0.5.1), with the OCR-token prompt LLaVA-1.5's 58.2 uses (`textvqa`) or without it
// (`textvqa-no-ocr`, lmms-eval's default). LLaVA's layout: llava_textvqa_val_v051_ocr.jsonl (its
// question_id holds the image id), TextVQA_0.5.1_val.json, train_images/. Answers are matched to
// annotations by (image id, lower-cased question) as llava/eval/eval_textvqa.py does, and scored
// with VQA soft accuracy under the EvalAI/MMF normaliser (m4c_evaluator.py); the official
// normaliser's figure is reported beside it.
import { join } from 'node:path';
import { DataError } from '../../errors.js';
import { field, readJson } from '../data/files.js';
import { vqaSoftAccuracy } from '../metrics/vqa-accuracy.js';
import { detectLayout, embeddedImage, readLlavaQuestions, readParquetRows } from './layout.js';
import { mean, percent, SHORT_ANSWER, type EvalQuestion, type EvalTask, type TaskData } from './types.js';

const QUESTIONS = 'llava_textvqa_val_v051_ocr.jsonl';
const ANNOTATIONS = 'TextVQA_0.5.1_val.json';
const OCR_PREFIX = 'Reference OCR token: ';

/** eval_textvqa.py's prompt_processor: the question line of a LLaVA TextVQA prompt, lower-cased. */
export function textVqaQuestion(prompt: string): string {
  const lines = prompt.split('\n');
  if (prompt.startsWith('OCR tokens: ')) {
    const match = /Question: (.*?) Short answer:/s.exec(prompt);
    return (match ? match[1]! : prompt).toLowerCase();
  }
  if (prompt.includes(OCR_PREFIX) && lines.length === 3) return lines[prompt.startsWith(OCR_PREFIX.trimEnd()) ? 1 : 0]!.toLowerCase();
  if (lines.length === 2) return lines[0]!.toLowerCase();
  throw new DataError({ subject: 'TextVQA prompt', expected: "LLaVA's form: question, optional OCR line, answer instruction", found: JSON.stringify(prompt) });
}

/** The prompt without its OCR-token line. */
function withoutOcr(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.startsWith(OCR_PREFIX))
    .join('\n');
}

const key = (imageId: string | number, question: string) => `${imageId}\u0000${question}`;

function textVqaTask(ocr: boolean): EvalTask {
  const name = ocr ? 'textvqa' : 'textvqa-no-ocr';
  return {
    name,
    scoreName: 'VQA accuracy, EvalAI normaliser (%)',
    maxNewTokens: 128,
    async load(path) {
      const layout = detectLayout(path, name, QUESTIONS);
      const questions: EvalQuestion<string[]>[] = [];
      if (layout.kind === 'llava') {
        const annotationsFile = join(layout.dir, ANNOTATIONS);
        const data = field(readJson(annotationsFile, 'TextVQA annotations') as Record<string, unknown>, 'data', 'array', annotationsFile);
        const answers = new Map<string, string[]>();
        data.forEach((entry, i) => {
          const where = `${annotationsFile}: data[${i}]`;
          const a = entry as Record<string, unknown>;
          answers.set(key(field(a, 'image_id', 'id', where), field(a, 'question', 'string', where).toLowerCase()), field(a, 'answers', 'strings', where));
        });
        for (const q of readLlavaQuestions(join(layout.dir, QUESTIONS))) {
          const prompt = ocr ? q.text : withoutOcr(q.text);
          const k = key(q.questionId, textVqaQuestion(prompt));
          const truth = answers.get(k);
          if (!truth) throw new DataError({ subject: q.where, expected: `an annotation in ${ANNOTATIONS} for its image id and question`, found: 'none' });
          questions.push({ key: k, questionId: q.questionId, prompt, message: prompt, image: { path: join(layout.dir, 'train_images', q.image) }, truth });
        }
      } else {
        for (const r of await readParquetRows(layout.files, ['image_id', 'question', 'answers', 'image'], name)) {
          const imageId = field(r.row, 'image_id', 'id', r.where);
          const question = field(r.row, 'question', 'string', r.where);
          const ocrLine = ocr ? `\n${OCR_PREFIX}${field(r.row, 'ocr_tokens', 'strings', r.where).join(', ')}` : '';
          const prompt = `${question}${ocrLine}\n${SHORT_ANSWER}`;
          // question_id holds the image id, as in LLaVA's question file, so both layouts' answers score alike.
          questions.push({ key: key(imageId, question.toLowerCase()), questionId: imageId, prompt, message: prompt, image: embeddedImage(r), truth: field(r.row, 'answers', 'strings', r.where) });
        }
      }
      const data: TaskData<string[]> = {
        questions,
        answerKey: (answer) => key(answer.question_id, textVqaQuestion(answer.prompt)),
        questionScore: (q, text) => vqaSoftAccuracy(text, q.truth, 'evalai'),
        score(answered) {
          const accuracy = percent(mean(answered.map(({ question, text }) => vqaSoftAccuracy(text, question.truth, 'evalai'))));
          const accuracyOfficial = percent(mean(answered.map(({ question, text }) => vqaSoftAccuracy(text, question.truth, 'official'))));
          return { task: name, n: answered.length, metrics: { accuracy, normaliser: 'evalai', accuracyOfficialNormaliser: accuracyOfficial, ocrTokens: ocr }, score: accuracy };
        },
      };
      return data as TaskData;
    },
  };
}

export const textVqaTasks: readonly EvalTask[] = [textVqaTask(true), textVqaTask(false)];
