// What every task gives the runner and the scorer: its questions as LLaVA's scripts would ask them
// (the prompt recorded in the answers file, the user message, the image) with their ground truth,
// how an answer line finds its question, a per-question score for the running figure, and the
// task's metrics over a set of answers.
import type { AnswerLine } from '../answers-file.js';

/** An image on disk, or embedded bytes (parquet), with a name for messages. */
export type ImageRef = { readonly path: string } | { readonly bytes: Uint8Array; readonly name: string };

export interface EvalQuestion<T = unknown> {
  /** Unique within the task's set; answerKey maps an answer line to it. */
  readonly key: string;
  /** Written as the answer's question_id, as LLaVA's scripts write it. */
  readonly questionId: string | number;
  /** Written as the answer's prompt (LLaVA's `cur_prompt`). */
  readonly prompt: string;
  /** The user message after the image marker. */
  readonly message: string;
  readonly image: ImageRef;
  readonly truth: T;
}

export interface TaskScore {
  readonly task: string;
  readonly n: number;
  readonly metrics: Readonly<Record<string, unknown>>;
  /** The headline figure as the papers print it. */
  readonly score: number;
}

export interface TaskData<T = unknown> {
  readonly questions: readonly EvalQuestion<T>[];
  /** The key of the question an answer line answers. */
  answerKey(answer: Pick<AnswerLine, 'question_id' | 'prompt'>): string;
  /** The question's score in [0, 1] for the running figure (accuracy-like). */
  questionScore(question: EvalQuestion<T>, text: string): number;
  score(answered: readonly { question: EvalQuestion<T>; text: string }[]): TaskScore;
}

export interface EvalTask {
  readonly name: string;
  /** What `score` is, for help and tables: "accuracy (%)", "F1 (%)", ... */
  readonly scoreName: string;
  /** LLaVA's scripts' max_new_tokens for the task. */
  readonly maxNewTokens: number;
  load(path: string): Promise<TaskData>;
}

export const SHORT_ANSWER = 'Answer the question using a single word or phrase.';
export const LETTER_ANSWER = "Answer with the option's letter from the given choices directly.";

/** The default answer key: question_id and prompt (MME and TextVQA ask several questions per id). */
export function idPromptKey(questionId: string | number, prompt: string): string {
  return `${questionId}\u0000${prompt}`;
}

export function defaultAnswerKey(answer: Pick<AnswerLine, 'question_id' | 'prompt'>): string {
  return idPromptKey(answer.question_id, answer.prompt);
}

export const percent = (fraction: number) => 100 * fraction;
export const mean = (values: readonly number[]) => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);
