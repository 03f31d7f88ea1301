// Runs every setting of a sweep on one loaded model, each into its own answers file in the output
// folder (so a stopped sweep resumes where it stopped), then writes the table (sweep.md, sweep.csv)
// and the plot (sweep.svg, sweep.png).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reducerFromFlags } from '../../reduce/registry.js';
import { costSummary } from '../cost-summary.js';
import { runEval, type EvalProgress, type RunEvalOptions } from '../run-eval.js';
import type { RunIdentity } from '../answers-file.js';
import { sweepSvg, writeSweepPng } from './plot.js';
import { sweepCsv, sweepMarkdown, type SweepRow } from './report.js';
import type { SweepSetting, UnreachableSetting } from './settings.js';

export interface RunSweepOptions extends Omit<RunEvalOptions, 'answersFile' | 'identity' | 'reducer' | 'onProgress'> {
  readonly settings: readonly SweepSetting[];
  /** Method-budget pairs the model cannot reach: not run, listed under the table. */
  readonly unreachable?: readonly UnreachableSetting[];
  readonly outDir: string;
  /** The identity fields every setting shares; strategy and options come from each setting. */
  readonly identity: Omit<RunIdentity, 'strategy' | 'options'>;
  readonly onProgress?: (setting: SweepSetting, index: number, progress: EvalProgress) => void;
}

export interface SweepResult {
  readonly rows: readonly SweepRow[];
  readonly files: { readonly markdown: string; readonly csv: string; readonly svg: string; readonly png: string };
}

export async function runSweep(options: RunSweepOptions): Promise<SweepResult> {
  mkdirSync(options.outDir, { recursive: true });
  const rows: SweepRow[] = [];
  for (const [index, setting] of options.settings.entries()) {
    const reducer = reducerFromFlags(setting.method, { ...setting.flags, reduce: setting.method });
    const answersFile = join(options.outDir, `${options.task.name}-${setting.label}.jsonl`);
    const result = await runEval({
      ...options,
      answersFile,
      reducer,
      identity: { ...options.identity, strategy: setting.method, options: reducer?.options ?? {} },
      onProgress: (p) => options.onProgress?.(setting, index, p),
    });
    rows.push({ setting, n: result.score.n, score: result.score.score, ...costSummary(result.answers), answersFile });
  }
  const files = {
    markdown: join(options.outDir, 'sweep.md'),
    csv: join(options.outDir, 'sweep.csv'),
    svg: join(options.outDir, 'sweep.svg'),
    png: join(options.outDir, 'sweep.png'),
  };
  writeFileSync(files.markdown, sweepMarkdown(rows, options.task.scoreName, options.unreachable));
  writeFileSync(files.csv, sweepCsv(rows));
  const svg = sweepSvg(rows, `${options.task.name}: score against prefill FLOPs`, options.task.scoreName);
  writeFileSync(files.svg, svg);
  await writeSweepPng(svg, files.png);
  return { rows, files };
}
