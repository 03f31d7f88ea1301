// A sweep's table: one row per setting with its score, FLOPs ratio (full accounting), average kept
// image tokens and measured prefill time, as Markdown and as CSV.
import type { SweepSetting, UnreachableSetting } from './settings.js';

export interface SweepRow {
  readonly setting: SweepSetting;
  readonly n: number;
  readonly score: number;
  readonly flopsRatio: number | null;
  readonly averageImageTokens: number | null;
  readonly prefillMs: number | null;
  readonly answersFile: string;
}

const fixed = (value: number | null, digits: number) => (value === null ? '' : value.toFixed(digits));

function cells(row: SweepRow): string[] {
  const s = row.setting;
  return [
    s.method,
    s.budget === null ? '' : String(s.budget),
    s.setting,
    String(row.n),
    fixed(row.score, 2),
    fixed(row.flopsRatio, 3),
    fixed(s.targetAverage, 1),
    fixed(row.averageImageTokens, 1),
    fixed(row.prefillMs, 1),
  ];
}

/** The table; budgets a method cannot reach on the model are listed under it with the reason. */
export function sweepMarkdown(rows: readonly SweepRow[], scoreName: string, unreachable: readonly UnreachableSetting[] = []): string {
  const header = ['method', 'budget (of 576)', 'setting', 'n', scoreName, 'FLOPs ratio', 'target avg image tokens', 'avg image tokens', 'prefill ms'];
  const lines = [header, header.map(() => '---'), ...rows.map(cells)].map((c) => `| ${c.join(' | ')} |`);
  const notes = unreachable.map((u) => `- not run: ${u.method} at ${u.budget} (${u.reason})`);
  return `${[...lines, ...(notes.length > 0 ? ['', ...notes] : [])].join('\n')}\n`;
}

function csvCell(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function sweepCsv(rows: readonly SweepRow[]): string {
  const header = ['method', 'budget', 'setting', 'n', 'score', 'flops_ratio', 'target_avg_image_tokens', 'avg_image_tokens', 'prefill_ms'];
  return `${[header, ...rows.map(cells)].map((c) => c.map(csvCell).join(',')).join('\n')}\n`;
}
