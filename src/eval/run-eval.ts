// Runs a model over a task's questions, greedy, one answer at a time, each appended and flushed to
// the answers file before the next starts. Questions already answered in that file by a run with
// the same identity (model, weights, strategy and options, prompt settings) are skipped; a file
// written by any other run is refused before anything is generated.
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { DataError } from '../errors.js';
import type { LlavaModel } from '../generate/model.js';
import type { ReductionRecord } from '../generate/prefill.js';
import type { TokenReducer } from '../reduce/types.js';
import { AnswerWriter, identityKey, readAnswers, type AnswerLine, type RunIdentity } from './answers-file.js';
import { promptFields, type Conversation } from './conversation.js';
import { matchAnswers } from './score-answers.js';
import type { EvalQuestion, EvalTask, TaskData, TaskScore } from './tasks/types.js';

/** What a prefill cost, for the FLOPs ratio (counted by the caller: src/flops sits below eval). */
export interface PrefillCost {
  readonly promptTokens: number;
  /** Image tokens before any reduction. */
  readonly imageTokens: number;
  readonly imageTokensPerLayer: readonly number[];
  readonly reducer: TokenReducer | null;
}

export interface EvalProgress {
  readonly done: number;
  readonly total: number;
  /** Mean per-question score so far, in % (accuracy-like; the task's own metric comes at the end). */
  readonly runningScore: number;
  /** Answers found in the file and skipped. */
  readonly resumed: number;
}

export interface RunEvalOptions {
  readonly model: LlavaModel;
  readonly task: EvalTask;
  readonly data: TaskData;
  readonly answersFile: string;
  readonly identity: RunIdentity;
  readonly reducer: TokenReducer | null;
  readonly conversation: Conversation;
  readonly limit?: number;
  readonly flopsRatio?: (cost: PrefillCost) => number | null;
  readonly onProgress?: (progress: EvalProgress) => void;
}

export interface EvalRunResult {
  readonly score: TaskScore;
  readonly resumed: number;
  readonly generated: number;
  /** The answers of the questions run (this run's and resumed ones). */
  readonly answers: readonly AnswerLine[];
}

/** Refuses answers another run wrote, naming the first setting that differs. */
function checkSameRun(answers: readonly AnswerLine[], identity: RunIdentity, file: string): void {
  const wanted = identityKey(identity);
  answers.forEach((answer, i) => {
    const run = answer.visdrop?.run;
    if (run && identityKey(run) === wanted) return;
    const differing = run
      ? (Object.keys(identity) as (keyof RunIdentity)[]).filter((k) => JSON.stringify(run[k]) !== JSON.stringify(identity[k]))
      : [];
    throw new DataError({
      subject: `${file}: answer ${i + 1}`,
      expected: 'an answer of this same run (model, weights, strategy and options, prompt settings), to resume',
      found: run ? `one made with other ${differing.join(', ')}: ${differing.map((k) => `${k}=${JSON.stringify(run[k])}`).join(', ')}` : 'an answer without visdrop run settings (made elsewhere)',
      hint: 'give another --out, or score that file with `visdrop eval score`',
    });
  });
}

function checkImages(questions: readonly EvalQuestion[]): void {
  for (const q of questions) {
    if ('path' in q.image && !existsSync(q.image.path)) {
      throw new DataError({ subject: q.image.path, expected: `the image of question ${JSON.stringify(q.questionId)}`, found: 'no such file' });
    }
  }
}

/** Image tokens per stage: before any reduction, after the vision stage (if any), after each decoder stage. */
function keptPerStage(imageTokens: number, reduction: ReductionRecord | null): number[] {
  if (!reduction) return [imageTokens];
  const first = reduction.imageTokensPerLayer[0] ?? imageTokens;
  return [...(reduction.vision ? [imageTokens, first] : [first]), ...reduction.stages.map((s) => s.keptImageTokens.length)];
}

export async function runEval(options: RunEvalOptions): Promise<EvalRunResult> {
  const { task, data, answersFile, identity } = options;
  const selected = options.limit !== undefined ? data.questions.slice(0, options.limit) : data.questions;
  const existing = readAnswers(answersFile);
  checkSameRun(existing.answers, identity, answersFile);
  const previous = matchAnswers(task.name, data, existing.answers, answersFile);
  const answeredKeys = new Set(previous.map((a) => a.question.key));
  const todo = selected.filter((q) => !answeredKeys.has(q.key));
  checkImages(todo);

  const selectedKeys = new Set(selected.map((q) => q.key));
  const scores = previous.filter((a) => selectedKeys.has(a.question.key)).map((a) => data.questionScore(a.question, a.text));
  const resumed = scores.length;
  const report = () =>
    options.onProgress?.({ done: scores.length, total: selected.length, runningScore: scores.length ? (100 * scores.reduce((a, b) => a + b, 0)) / scores.length : 0, resumed });
  report();

  const writer = new AnswerWriter(answersFile, existing);
  const written: AnswerLine[] = [];
  try {
    for (const question of todo) {
      const answer = await answerQuestion(options, question);
      writer.append(answer);
      written.push(answer);
      scores.push(data.questionScore(question, answer.text));
      report();
    }
  } finally {
    writer.close();
  }
  const all = [...existing.answers, ...written];
  const answered = matchAnswers(task.name, data, all, answersFile).filter((a) => selectedKeys.has(a.question.key));
  return { score: data.score(answered), resumed, generated: written.length, answers: all.filter((a) => selectedKeys.has(data.answerKey(a))) };
}

async function answerQuestion(options: RunEvalOptions, question: EvalQuestion): Promise<AnswerLine> {
  const { model, identity, reducer } = options;
  const start = performance.now();
  const image = 'path' in question.image ? question.image.path : question.image.bytes;
  let imageTokens = 0;
  let promptTokens = 0;
  let reduction: ReductionRecord | null = null;
  for await (const event of model.generate({ image, ...promptFields(options.conversation, question.message), maxNewTokens: identity.maxNewTokens, reduce: reducer })) {
    if (event.type === 'prefill') {
      promptTokens = event.promptTokens;
      reduction = event.reduction;
      const range = event.imageTokenRange;
      const seen = range ? range[1] - range[0] : 0;
      // A vision stage (MustDrop's merge) shrinks the span before the decoder; count what it started from.
      imageTokens = reduction?.vision ? reduction.vision.imageTokenOrder.reduce((n, patches) => n + patches.length, 0) : seen;
    } else if (event.type === 'done') {
      const perLayer = reduction?.imageTokensPerLayer ?? Array<number>(model.arch.text.numLayers).fill(imageTokens);
      return {
        question_id: question.questionId,
        prompt: question.prompt,
        text: event.text.trim(),
        answer_id: randomUUID(),
        model_id: basename(identity.model),
        metadata: {},
        visdrop: {
          run: identity,
          keptImageTokens: keptPerStage(imageTokens, reduction),
          imageTokensPerLayer: perLayer,
          flopsRatio: options.flopsRatio?.({ promptTokens, imageTokens, imageTokensPerLayer: perLayer, reducer }) ?? null,
          promptTokens,
          generatedTokens: event.tokens.length,
          timings: { ...event.timings, totalMs: performance.now() - start },
        },
      };
    }
  }
  throw new DataError({ subject: `question ${JSON.stringify(question.questionId)}`, expected: 'a finished generation', found: 'none' });
}
