// The tasks `visdrop eval --task` takes, by name.
import { OptionError } from '../../errors.js';
import { chartQaTask } from './chartqa.js';
import { docVqaTask } from './docvqa.js';
import { gqaTask } from './gqa.js';
import { mmeTask } from './mme.js';
import { popeTask } from './pope.js';
import { scienceQaTask } from './scienceqa.js';
import { synthTask } from './synth.js';
import { textVqaTasks } from './textvqa.js';
import type { EvalTask } from './types.js';
import { vqav2Task } from './vqav2.js';

export const EVAL_TASKS: readonly EvalTask[] = [...textVqaTasks, gqaTask, popeTask, mmeTask, scienceQaTask, vqav2Task, docVqaTask, chartQaTask, synthTask];
export const TASK_NAMES: readonly string[] = EVAL_TASKS.map((t) => t.name);

export function evalTask(name: string): EvalTask {
  const task = EVAL_TASKS.find((t) => t.name === name);
  if (!task) throw new OptionError({ subject: '--task', expected: `one of ${TASK_NAMES.join(', ')}`, found: JSON.stringify(name) });
  return task;
}
