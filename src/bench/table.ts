// How a benchmark result is shown: a plain, aligned text table with header lines naming the machine's
// roofline and what was run, and the one JSON object `visdrop bench --json` prints (a contract:
// {rooflineGflops, bandwidthGBs, preset, layers, rows: [{strategy, visionMs, prefillMs,
// decodeMsPerToken, prefillGflops}]}).
import type { BenchResult } from './run-bench.js';

export interface BenchJson {
  readonly rooflineGflops: number;
  readonly bandwidthGBs: number;
  readonly preset: string;
  readonly layers: number;
  readonly rows: readonly {
    readonly strategy: string;
    readonly visionMs: number;
    readonly prefillMs: number;
    readonly decodeMsPerToken: number;
    readonly prefillGflops: number;
  }[];
}

export function benchJson(result: BenchResult): BenchJson {
  return {
    rooflineGflops: result.roofline.matmulGflops,
    bandwidthGBs: result.roofline.bandwidthGBs,
    preset: result.preset,
    layers: result.layers,
    rows: result.rows.map((r) => ({
      strategy: r.strategy,
      visionMs: r.visionMs,
      prefillMs: r.prefillMs,
      decodeMsPerToken: r.decodeMsPerToken,
      prefillGflops: r.prefillGflops,
    })),
  };
}

const COLUMNS = [
  'strategy',
  'vision ms',
  'prefill ms',
  'prefill GFLOP/s',
  '% of roofline',
  'decode ms/token',
  'bound ms/token',
  'x bound',
] as const;

export function formatBenchTable(result: BenchResult): string {
  const { roofline: rl } = result;
  const header = [
    `visdrop bench: ${result.preset}`,
    `machine: ${result.machine.cores} cores, 1-minute load average ${result.machine.loadAverage.toFixed(2)} at start`,
    `machine roofline: f32 MatMul ${rl.matmulGflops.toFixed(1)} GFLOP/s, memory read ${rl.bandwidthGBs.toFixed(1)} GB/s`,
    `decoder layers: ${result.layers} of ${result.totalLayers}; vision layers: ${result.visionLayers} of ${result.totalVisionLayers}`,
    `tokens: ${result.promptTokens} prompt (${result.imageTokens} image + ${result.textTokens} text), ${result.decodeTokens} decode step${result.decodeTokens === 1 ? '' : 's'} timed per run`,
    `runs: median of ${result.runs} after 1 warm-up`,
    `load: ${(result.loadMs / 1000).toFixed(1)} s; weights ${gb(result.weightBytes)} GB (decode reads ${gb(result.decodeBytesPerToken)} GB/token); peak RSS ${gb(result.peakRssBytes)} GB`,
  ];
  const body = result.rows.map((r) => [
    r.strategy,
    r.visionMs.toFixed(0),
    r.prefillMs.toFixed(0),
    r.prefillGflops.toFixed(1),
    `${(100 * r.rooflineFraction).toFixed(0)}%`,
    r.decodeMsPerToken.toFixed(1),
    r.boundMsPerToken.toFixed(1),
    r.boundRatio.toFixed(2),
  ]);
  const footer = result.rows.map(
    (r) => `vision (${r.strategy}): ${r.visionGflops.toFixed(1)} GFLOP/s, ${(100 * r.visionGflops / rl.matmulGflops).toFixed(0)}% of roofline`,
  );
  return [...header, '', ...alignedTable([...COLUMNS], body), '', ...footer, ''].join('\n');
}

/** Rows of cells padded to their column's width: the first column left-aligned, numbers right-aligned. */
function alignedTable(columns: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ');
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  return [line(columns), rule, ...rows.map(line)];
}

function gb(bytes: number): string {
  return (bytes / 1e9).toFixed(2);
}
