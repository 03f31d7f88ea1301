// `bench --profile` output: each strategy's prefill broken into its parts (ms and share), the
// attention graph layer by layer, and how one layer's attention grows with the prompt, per kernel.
import { PREFILL_QUERY_BLOCK } from '../models/llama/attention.js';
import type { BenchResult } from './run-bench.js';
import { PROFILE_PARTS, type ProfilePart } from './profile.js';
import { alignedTable } from './text-table.js';

const PART_TITLES: Readonly<Record<ProfilePart, string>> = {
  'attention-input': 'attn input',
  attention: 'attention',
  'attention-output': 'attn output + MLP',
  scores: 'scoring',
  'cache-write': 'cache writes',
  'lm-head': 'lm_head',
  js: 'JS glue',
};

export function profileLines(result: BenchResult): string[] {
  const profiled = result.rows.filter((r) => r.profile);
  if (profiled.length === 0) return [];
  const columns = ['strategy', ...PROFILE_PARTS.map((p) => PART_TITLES[p]), 'prefill ms'];
  const body = profiled.map((r) => [
    r.label,
    ...PROFILE_PARTS.map((part) => `${ms(r.profile!.parts[part])} (${((100 * r.profile!.parts[part]) / r.prefillMs).toFixed(1)}%)`),
    r.prefillMs.toFixed(0),
  ]);
  return [
    `prefill profile, ms (share of the prefill), median of the timed runs: attn input = RMSNorm, q/k/v, rotary; attention = scores, softmax, weighted sum;`,
    `  attn output = o_proj, residual, RMSNorm, MLP; scoring = a strategy's extra graphs (PyramidDrop's next-layer q/k); JS glue = the rest of the prefill (embedding lookup, feeds, applying plans)`,
    ...alignedTable(columns, body),
    '',
    'attention graph per decoder layer, ms:',
    ...profiled.map((r) => `  ${r.label}: ${r.profile!.attentionMsPerLayer.map(ms).join(' ')}`),
    ...scalingLines(result),
  ];
}

/** Milliseconds, a decimal below 100 ms. */
function ms(value: number): string {
  return value.toFixed(Math.abs(value) < 100 ? 1 : 0);
}

/** One layer's attention, graph alone, per kernel and length, with the growth against T². */
function scalingLines(result: BenchResult): string[] {
  const timings = result.attentionScaling ?? [];
  if (timings.length === 0) return [];
  const lengths = [...new Set(timings.map((t) => t.tokens))];
  const kernels = [...new Set(timings.map((t) => t.kernel))];
  const at = (kernel: string, tokens: number) => timings.find((t) => t.kernel === kernel && t.tokens === tokens)!;
  const first = lengths[0]!;
  const body = lengths.map((T) => [
    String(T),
    ...kernels.flatMap((k) => [ms(at(k, T).ms), at(k, T).gflops.toFixed(0), `${(at(k, T).ms / at(k, first).ms).toFixed(1)}x`]),
    `${((T / first) ** 2).toFixed(1)}x`,
  ]);
  const columns = ['tokens', ...kernels.flatMap((k) => [`${k} ms`, `${k} GFLOP/s`, `${k} growth`]), 'T² growth'];
  return [
    '',
    'one layer’s prefill attention, graph alone, the model’s heads, fastest of 3 runs; GFLOP/s of the full T² square;',
    `  gqa-blocks (what prefills run): GroupQueryAttention over query blocks of ${PREFILL_QUERY_BLOCK} rows; gqa: one call; matmul: MatMul/Softmax over all heads, one call`,
    ...alignedTable(columns, body),
  ];
}
