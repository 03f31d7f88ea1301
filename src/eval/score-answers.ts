// Pairs an answers file's lines with a task's questions (by the task's answer key) and scores them:
// `visdrop eval score`, and the end of every run. A line that answers no question of the task, or
// that a run of another task wrote, is one DataError naming the file and line.
import { DataError } from '../errors.js';
import type { AnswerLine } from './answers-file.js';
import type { EvalQuestion, TaskData, TaskScore } from './tasks/types.js';

export interface Answered {
  readonly question: EvalQuestion;
  readonly text: string;
}

/** The answered questions, in the task's question order (a question answered twice: the later line). */
export function matchAnswers(task: string, data: TaskData, answers: readonly AnswerLine[], file: string): Answered[] {
  const byKey = new Map(data.questions.map((q) => [q.key, q]));
  const texts = new Map<string, string>();
  answers.forEach((answer, i) => {
    const where = `${file}: answer ${i + 1}`;
    const madeFor = answer.visdrop?.run?.task;
    if (madeFor !== undefined && madeFor !== task) {
      throw new DataError({ subject: where, expected: `an answer to a ${task} question`, found: `an answers file of a ${madeFor} run` });
    }
    let key: string | undefined;
    try {
      key = data.answerKey(answer);
    } catch {
      key = undefined;
    }
    if (key === undefined || !byKey.has(key)) {
      throw new DataError({
        subject: where,
        expected: `an answer to a ${task} question of the data given`,
        found: `question_id ${JSON.stringify(answer.question_id)} with prompt ${JSON.stringify(answer.prompt.slice(0, 60))}`,
        hint: 'an answers file of another task or data set?',
      });
    }
    texts.set(key, answer.text);
  });
  return data.questions.flatMap((question) => {
    const text = texts.get(question.key);
    return text === undefined ? [] : [{ question, text }];
  });
}

export function scoreAnswers(task: string, data: TaskData, answers: readonly AnswerLine[], file: string): TaskScore {
  return data.score(matchAnswers(task, data, answers, file));
}
