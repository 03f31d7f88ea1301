// The evaluation harness: benchmarks in their published layouts, LLaVA's prompts and answer files,
// the benchmarks' own metrics, resumable runs and accuracy-versus-FLOPs sweeps.
export { AnswerWriter, readAnswers, type AnswerLine, type RunIdentity, type VisdropExtras } from './answers-file.js';
export { CONVERSATIONS, parseConversation, vicunaV1Prompt, type Conversation } from './conversation.js';
export { costSummary, type CostSummary } from './cost-summary.js';
export { runEval, type EvalProgress, type EvalRunResult, type PrefillCost, type RunEvalOptions } from './run-eval.js';
export { matchAnswers, scoreAnswers } from './score-answers.js';
export { EVAL_TASKS, TASK_NAMES, evalTask } from './tasks/index.js';
export type { EvalQuestion, EvalTask, TaskData, TaskScore } from './tasks/types.js';
export { DEFAULT_BUDGETS, DEFAULT_SWEEP_METHODS, matchedSetting, SWEEP_MATCHES, SWEEP_METHODS, sweepSettings, type DeferredSetting, type SweepMatch, type SweepPlan, type SweepSetting, type UnreachableSetting } from './sweep/settings.js';
export { runSweep, type SweepResult } from './sweep/run-sweep.js';
export type { SweepRow } from './sweep/report.js';
