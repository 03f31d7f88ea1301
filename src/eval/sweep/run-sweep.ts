// Runs every setting of a sweep on one loaded model, each into its own answers file in the output
// folder (so a stopped sweep resumes where it stopped), then writes the table (sweep.md, sweep.csv)
// and the plot (sweep.svg, sweep.png). Settings matched to MustDrop run last, at the average its
// run at the same budget measured.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reducerFromFlags } from '../../reduce/registry.js';
import { costSummary } from '../cost-summary.js';
import { runEval, type EvalProgress, type RunEvalOptions } from '../run-eval.js';
import type { RunIdentity } from '../answers-file.js';
import { sweepSvg, writeSweepPng } from './plot.js';
import { sweepCsv, sweepMarkdown, type SweepRow } from './report.js';
import { matchedSetting, type SweepPlan, type SweepSetting, type UnreachableSetting } from './settings.js';

export interface RunSweepOptions extends Omit<RunEvalOptions, 'answersFile' | 'identity' | 'reducer' | 'onProgress'> {
  /** The settings; the method-budget pairs it cannot reach are listed under the table. */
  readonly plan: SweepPlan;
  readonly outDir: string;
  /** The identity fields every setting shares; strategy and options come from each setting. */
  readonly identity: Omit<RunIdentity, 'strategy' | 'options'>;
  /** `total` counts the deferred settings too, whether or not they turn out reachable. */
  readonly onProgress?: (setting: SweepSetting, index: number, total: number, progress: EvalProgress) => void;
}

export interface SweepResult {
  readonly rows: readonly SweepRow[];
  /** The plan's unreachable pairs and the deferred ones MustDrop's averages put out of reach. */
  readonly unreachable: readonly UnreachableSetting[];
  readonly files: { readonly markdown: string; readonly csv: string; readonly svg: string; readonly png: string };
}

export async function runSweep(options: RunSweepOptions): Promise<SweepResult> {
  mkdirSync(options.outDir, { recursive: true });
  const { plan } = options;
  const total = plan.settings.length + plan.deferred.length;
  const rows: SweepRow[] = [];
  const unreachable: UnreachableSetting[] = [...plan.unreachable];
  const run = async (setting: SweepSetting) => {
    const index = rows.length;
    const reducer = reducerFromFlags(setting.method, { ...setting.flags, reduce: setting.method });
    const answersFile = join(options.outDir, `${options.task.name}-${setting.label}.jsonl`);
    const result = await runEval({
      ...options,
      answersFile,
      reducer,
      identity: { ...options.identity, strategy: setting.method, options: reducer?.options ?? {} },
      onProgress: (p) => options.onProgress?.(setting, index, total, p),
    });
    rows.push({ setting, n: result.score.n, score: result.score.score, ...costSummary(result.answers), answersFile });
  };
  for (const setting of plan.settings) await run(setting);
  for (const deferred of plan.deferred) {
    const mustdrop = rows.find((r) => r.setting.method === 'mustdrop' && r.setting.budget === deferred.budget);
    if (mustdrop?.averageImageTokens == null) {
      unreachable.push({ ...deferred, reason: `MustDrop has no measured average at ${deferred.budget} to match` });
      continue;
    }
    const setting = matchedSetting(deferred, mustdrop.averageImageTokens, plan);
    if ('reason' in setting) unreachable.push(setting);
    else await run(setting);
  }
  const files = {
    markdown: join(options.outDir, 'sweep.md'),
    csv: join(options.outDir, 'sweep.csv'),
    svg: join(options.outDir, 'sweep.svg'),
    png: join(options.outDir, 'sweep.png'),
  };
  writeFileSync(files.markdown, sweepMarkdown(rows, options.task.scoreName, unreachable));
  writeFileSync(files.csv, sweepCsv(rows));
  const svg = sweepSvg(rows, `${options.task.name}: score against prefill FLOPs`, options.task.scoreName);
  writeFileSync(files.svg, svg);
  await writeSweepPng(svg, files.png);
  return { rows, unreachable, files };
}
