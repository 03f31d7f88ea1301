// `visdrop eval` (run a model over a benchmark, resumably), `visdrop eval score` (score an answers
// file without a model) and `visdrop eval sweep` (every method at matched budgets, then a table and
// an accuracy-versus-FLOPs plot). --json prints one object {task, n, metrics, score}.
import { basename, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { countFlops } from '../flops/index.js';
import { loadLlavaConfig, loadModel, OptionError, resolveModelDir, type LlavaModel } from '../index.js';
import { WEIGHT_FORMATS, type WeightFormat } from '../quant/format.js';
import { reducerFromFlags, strategyNames, type ReduceFlags } from '../reduce/registry.js';
import type { TokenReducer } from '../reduce/types.js';
import {
  CONVERSATIONS,
  costSummary,
  DEFAULT_BUDGETS,
  DEFAULT_SWEEP_METHODS,
  evalTask,
  parseConversation,
  readAnswers,
  runEval,
  runSweep,
  scoreAnswers,
  sweepSettings,
  SWEEP_MATCHES,
  SWEEP_METHODS,
  TASK_NAMES,
  type EvalProgress,
  type EvalTask,
  type PrefillCost,
  type RunIdentity,
  type SweepMatch,
  type TaskScore,
} from '../eval/index.js';
import { parseWholeNumber } from './options.js';
import { loadProgressBar } from './progress.js';
import { addReduceFlags } from './reduce-flags.js';
import { q4BlockSizeOption, weightFormatOptions, weightsLabel } from './weight-flags.js';
import { runCommand } from './run-command.js';
import { DataError } from '../errors.js';

interface ModelFlags {
  /** Absent: the bundled visdrop-tiny (resolved first, see `withModel`). */
  model?: string;
  task: string;
  data: string;
  limit?: number;
  maxNewTokens?: number;
  conversation: string;
  /** false with --no-pad-to-square. */
  padToSquare: boolean;
  weights: WeightFormat;
  q4BlockSize?: number;
  cache: boolean;
  cacheDir?: string;
  threads?: number;
  json?: boolean;
}

interface EvalFlags extends ModelFlags, ReduceFlags {
  out?: string;
  resume?: boolean;
}

interface SweepFlags extends ModelFlags {
  reduce?: string;
  budgets?: number[];
  match: SweepMatch;
  outDir?: string;
}

interface ScoreFlags {
  task: string;
  data: string;
  answers: string;
  json?: boolean;
}

function addModelFlags(command: Command): Command {
  return command
    .option('--model <dir>', 'llava-hf checkpoint directory (default: the bundled visdrop-tiny)')
    .requiredOption('--task <name>', `benchmark: ${TASK_NAMES.join(', ')}`)
    .requiredOption('--data <path>', "the benchmark's folder (LLaVA's playground/data/eval/<name> layout) or Hugging Face parquet files")
    .option('--limit <n>', 'only the first n questions', parseWholeNumber('--limit', 1))
    .option('--max-new-tokens <n>', "most tokens per answer (default: the task's LLaVA script's, 128; ScienceQA 1024)", parseWholeNumber('--max-new-tokens', 1))
    .option('--conversation <name>', `prompt: ${CONVERSATIONS.join(' (LLaVA\'s eval scripts, default) | ')} (the checkpoint's template)`, 'vicuna_v1')
    .option('--no-pad-to-square', "resize without padding to a square first (llava-hf's processor); LLaVA's eval pads")
    .addOption(new Option('--weights <format>', 'Linear weights: f32, q8, q4').choices(WEIGHT_FORMATS).default('f32'))
    .addOption(q4BlockSizeOption())
    .option('--no-cache', 'build q8/q4 graphs without the converted-model cache')
    .option('--cache-dir <dir>', 'converted-model cache directory')
    .option('--threads <n>', 'threads per operator', parseWholeNumber('--threads', 1))
    .option('--json', 'print one JSON object {task, n, metrics, score}');
}

export function registerEvalCommand(program: Command): void {
  const evalCommand = program.command('eval').description('evaluate on a benchmark with its published prompts and metrics; `eval score`, `eval sweep`');

  const run = addModelFlags(evalCommand.command('run', { isDefault: true }).description('answer a benchmark\'s questions (resumable) and score them'))
    .option('--out <file>', 'answers file, LLaVA\'s answer JSONL (default: <task>-<model>-<strategy>.jsonl here)')
    .option('--resume', 'continue --out, which must exist (rerunning the same command continues it too)');
  addReduceFlags(run).action(runCommand(evalAction));

  evalCommand
    .command('score')
    .description("score an answers file in LLaVA's answer JSONL, without a model")
    .requiredOption('--task <name>', `benchmark: ${TASK_NAMES.join(', ')}`)
    .requiredOption('--data <path>', "the benchmark's folder or parquet files")
    .requiredOption('--answers <file>', "answers in LLaVA's answer JSONL")
    .option('--json', 'print one JSON object {task, n, metrics, score}')
    .action(runCommand(scoreAction));

  addModelFlags(evalCommand.command('sweep').description('run none and each method at matched token budgets, then write a table and an accuracy-versus-FLOPs plot'))
    .option('--reduce <list>', `methods among ${SWEEP_METHODS.join(',')}`, DEFAULT_SWEEP_METHODS.join(','))
    .option('--budgets <list>', `average image tokens of 576, scaled to the model (default ${DEFAULT_BUDGETS.join(',')})`, (text: string) => text.split(',').map((t) => parseWholeNumber('--budgets', 1)(t.trim())))
    .addOption(new Option('--match <rule>', "FastV's and PyramidDrop's average: the budget scaled to the model, or MustDrop's measured average at it (run after MustDrop)").choices(SWEEP_MATCHES).default('budget'))
    .option('--out-dir <dir>', 'answers, table and plot (default eval-sweep-<task>)')
    .action(runCommand(sweepAction));
}

/** The flags with --model resolved to a directory. */
function withModel<F extends ModelFlags>(flags: F): F & { model: string } {
  return { ...flags, model: resolveModelDir(flags.model) };
}

async function openModel(flags: ModelFlags & { model: string }): Promise<LlavaModel> {
  const progress = loadProgressBar(!flags.json);
  return loadModel(flags.model, {
    ...(flags.threads ? { threads: flags.threads } : {}),
    ...weightFormatOptions(flags),
    ...(flags.padToSquare ? { padToSquare: true } : {}),
    ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    cache: flags.cache ? (flags.cacheDir ? { dir: flags.cacheDir } : {}) : false,
    onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
  }).finally(progress.stop);
}

function baseIdentity(flags: ModelFlags & { model: string }, task: EvalTask): Omit<RunIdentity, 'strategy' | 'options'> {
  return {
    task: task.name,
    model: resolve(flags.model),
    weights: weightsLabel(weightFormatOptions(flags)),
    maxNewTokens: flags.maxNewTokens ?? task.maxNewTokens,
    conversation: parseConversation(flags.conversation),
    padToSquare: flags.padToSquare,
  };
}

/** Full-accounting prefill FLOPs against the same prompt without reduction (as the bench counts them). */
function flopsRatioOf(model: LlavaModel): (cost: PrefillCost) => number | null {
  return ({ promptTokens, imageTokens, imageTokensPerLayer, reducer }) => {
    if (imageTokens === 0) return null;
    // A composition's decoder stage is the second method's; its vision stage does no decoder work.
    const scoring: TokenReducer | null = reducer?.name.includes('+') ? { ...reducer, name: reducer.name.split('+').at(-1)! } : reducer;
    return countFlops({
      text: model.arch.text,
      imageTokens: Math.max(imageTokens, ...imageTokensPerLayer),
      imageTokensPerLayer,
      textTokens: promptTokens - imageTokensPerLayer[0]!,
      accounting: 'full',
      reducer: scoring,
    }).ratio;
  };
}

/** A progress bar with the running score and ETA on a terminal, quiet otherwise. */
function evalProgressBar(enabled: boolean, label: string): { update: (p: EvalProgress, label?: string) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{label} [{bar}] {value}/{total} | score {score}% | ETA {eta_formatted}', hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (p, current = label) => {
      const payload = { label: current, score: p.runningScore.toFixed(1) };
      if (!started) {
        bar.start(p.total, p.done, payload);
        started = true;
      } else {
        bar.setTotal(p.total);
        bar.update(p.done, payload);
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function printScore(score: TaskScore, scoreName: string, json: boolean | undefined, extra: string[] = []): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ task: score.task, n: score.n, metrics: score.metrics, score: score.score })}\n`);
    return;
  }
  process.stdout.write(`${score.task}: ${score.n} questions, ${scoreName} ${score.score.toFixed(2)}\n`);
  for (const [name, value] of Object.entries(score.metrics)) {
    process.stdout.write(`  ${name}: ${typeof value === 'number' ? value.toFixed(2) : JSON.stringify(value)}\n`);
  }
  for (const line of extra) process.stdout.write(`${line}\n`);
}

async function evalAction(given: EvalFlags): Promise<void> {
  const flags = withModel(given);
  const task = evalTask(flags.task);
  const names = strategyNames(flags);
  if (names.length !== 1) throw new OptionError({ subject: '--reduce', expected: 'one strategy (eval sweep compares several)', found: flags.reduce ?? '' });
  const reducer = reducerFromFlags(names[0]!, flags);
  const out = flags.out ?? `${task.name}-${basename(resolve(flags.model))}-${names[0]}.jsonl`;
  if (flags.resume && !existsSync(out)) throw new DataError({ subject: out, expected: 'an answers file to resume (--resume)', found: 'no such file' });
  const data = await task.load(flags.data);
  const model = await openModel(flags);
  const bar = evalProgressBar(!flags.json, task.name);
  try {
    const result = await runEval({
      model,
      task,
      data,
      answersFile: out,
      identity: { ...baseIdentity(flags, task), strategy: names[0]!, options: reducer?.options ?? {} },
      reducer,
      conversation: parseConversation(flags.conversation),
      ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      flopsRatio: flopsRatioOf(model),
      onProgress: (p) => bar.update(p),
    });
    bar.stop();
    const cost = costSummary(result.answers);
    const score = { ...result.score, metrics: { ...result.score.metrics, ...cost } };
    printScore(score, task.scoreName, flags.json, [`answers: ${out} (${result.resumed} resumed, ${result.generated} generated)`]);
  } finally {
    bar.stop();
    await model.release();
  }
}

async function scoreAction(flags: ScoreFlags): Promise<void> {
  const task = evalTask(flags.task);
  const data = await task.load(flags.data);
  if (!existsSync(flags.answers)) throw new DataError({ subject: flags.answers, expected: "an answers file in LLaVA's answer JSONL", found: 'no such file' });
  const score = scoreAnswers(task.name, data, readAnswers(flags.answers).answers, flags.answers);
  printScore(score, task.scoreName, flags.json);
}

async function sweepAction(given: SweepFlags): Promise<void> {
  const flags = withModel(given);
  const task = evalTask(flags.task);
  const methods = ['none', ...(flags.reduce ?? '').split(',').map((m) => m.trim()).filter((m) => m !== 'none' && m !== '')];
  // Settings and data are checked before the (slow) model load.
  const arch = loadLlavaConfig(flags.model);
  const plan = sweepSettings(methods, flags.budgets ?? DEFAULT_BUDGETS, arch.text.numLayers, arch.imageTokensPerImage, flags.match);
  for (const u of plan.unreachable) process.stderr.write(`not run: ${u.reason}\n`);
  const data = await task.load(flags.data);
  const model = await openModel(flags);
  const outDir = flags.outDir ?? `eval-sweep-${task.name}`;
  const bar = evalProgressBar(!flags.json, task.name);
  try {
    const result = await runSweep({
      model,
      task,
      data,
      plan,
      outDir,
      identity: baseIdentity(flags, task),
      conversation: parseConversation(flags.conversation),
      ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      flopsRatio: flopsRatioOf(model),
      onProgress: (setting, index, total, p) => bar.update(p, `${setting.label} (${index + 1}/${total})`),
    });
    bar.stop();
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({
          task: task.name,
          rows: result.rows.map((r) => ({ method: r.setting.method, budget: r.setting.budget, setting: r.setting.setting, flags: r.setting.flags, n: r.n, score: r.score, flopsRatio: r.flopsRatio, targetAverageImageTokens: r.setting.targetAverage, averageImageTokens: r.averageImageTokens, prefillMs: r.prefillMs, answers: r.answersFile })),
          unreachable: result.unreachable,
          files: result.files,
        })}\n`,
      );
    } else {
      process.stdout.write(readFileSync(result.files.markdown, 'utf8'));
      process.stdout.write(`table: ${result.files.markdown}, ${result.files.csv}; plot: ${result.files.svg}, ${result.files.png}\n`);
    }
  } finally {
    bar.stop();
    await model.release();
  }
}
