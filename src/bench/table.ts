// How a benchmark result is shown: a plain, aligned text table with header lines naming the machine's
// roofline, what was run and which layer lists were scaled, one row per strategy, and the one JSON
// object `visdrop bench --json` prints (a contract: BenchJson below).
import type { AttentionTiming } from './attention-scaling.js';
import type { BenchImage } from './options.js';
import { profileLines } from './profile-table.js';
import { DISTURBED_SHARE, type BenchResult, type BenchRow } from './run-bench.js';
import { alignedTable } from './text-table.js';

export interface BenchJson {
  readonly rooflineGflops: number;
  readonly bandwidthGBs: number;
  readonly preset: string;
  readonly layers: number;
  /** LLaVA-NeXT only: the anyres image fed. */
  readonly image?: BenchImage;
  /** With --profile: one layer's attention graph alone, per kernel and prompt length. */
  readonly attentionScaling?: readonly AttentionTiming[];
  /** `none` first; the timings are medians, speedups are of the prefill against `none`'s. */
  readonly rows: readonly Pick<
    BenchRow,
    | 'strategy'
    | 'label'
    | 'options'
    | 'visionMs'
    | 'prefillMs'
    | 'decodeMsPerToken'
    | 'prefillGflops'
    | 'speedup'
    | 'predictedSpeedup'
    | 'imageTokensPerLayer'
    | 'averageImageTokens'
    | 'averageImageTokensAfterPruning'
    | 'othersCpuShare'
    | 'profile'
  >[];
}

export function benchJson(result: BenchResult): BenchJson {
  return {
    rooflineGflops: result.roofline.matmulGflops,
    bandwidthGBs: result.roofline.bandwidthGBs,
    preset: result.preset,
    layers: result.layers,
    ...(result.image ? { image: result.image } : {}),
    ...(result.attentionScaling ? { attentionScaling: result.attentionScaling } : {}),
    rows: result.rows.map((r) => ({
      strategy: r.strategy,
      label: r.label,
      options: r.options,
      visionMs: r.visionMs,
      prefillMs: r.prefillMs,
      decodeMsPerToken: r.decodeMsPerToken,
      prefillGflops: r.prefillGflops,
      speedup: r.speedup,
      predictedSpeedup: r.predictedSpeedup,
      imageTokensPerLayer: r.imageTokensPerLayer,
      averageImageTokens: r.averageImageTokens,
      ...(r.averageImageTokensAfterPruning !== undefined ? { averageImageTokensAfterPruning: r.averageImageTokensAfterPruning } : {}),
      othersCpuShare: r.othersCpuShare,
      ...(r.profile ? { profile: r.profile } : {}),
    })),
  };
}

const COLUMNS = [
  'strategy',
  'vision ms',
  'prefill ms',
  'speedup',
  'FLOPs ratio',
  'predicted',
  'measured/predicted',
  'image tokens per stage',
  'prefill GFLOP/s',
  'decode ms/token',
  'others’ CPU',
] as const;

export function formatBenchTable(result: BenchResult): string {
  const { roofline: rl } = result;
  const header = [
    `visdrop bench: ${result.preset}`,
    `machine: ${result.machine.cores} cores, 1-minute load average ${result.machine.loadAverage.toFixed(2)} at start`,
    `machine roofline: f32 MatMul ${rl.matmulGflops.toFixed(1)} GFLOP/s, memory read ${rl.bandwidthGBs.toFixed(1)} GB/s`,
    `decoder layers: ${result.layers} of ${result.totalLayers}; vision layers: ${result.visionLayers} of ${result.totalVisionLayers}`,
    ...imageLines(result),
    ...layerListLines(result),
    `tokens: ${result.promptTokens} prompt (${result.imageTokens} image + ${result.textTokens} text), ${result.decodeTokens} decode step${result.decodeTokens === 1 ? '' : 's'} timed per run`,
    `runs: median of ${result.runs} after 1 warm-up, every strategy once per round, same image and prompt`,
    `load: ${(result.loadMs / 1000).toFixed(1)} s; weights ${gb(result.weightBytes)} GB (decode reads ${gb(result.decodeBytesPerToken)} GB/token); peak RSS ${gb(result.peakRssBytes)} GB`,
    ...contentionLines(result),
  ];
  const body = result.rows.map((r) => [
    r.label,
    r.visionMs.toFixed(0),
    r.prefillMs.toFixed(0),
    `${r.speedup.toFixed(2)}x`,
    r.flopsRatio.toFixed(3),
    `${r.predictedSpeedup.toFixed(2)}x`,
    (r.speedup / r.predictedSpeedup).toFixed(2),
    r.stageCounts.join('→'),
    r.prefillGflops.toFixed(1),
    r.decodeMsPerToken.toFixed(1),
    pct(r.othersCpuShare),
  ]);
  const profile = profileLines(result);
  return [...header, '', ...alignedTable([...COLUMNS], body), '', ...footer(result), ...(profile.length > 0 ? ['', ...profile] : []), ''].join('\n');
}

/** LLaVA-NeXT: the image, its tiles and crops, and what MustDrop's flat-crop mode sees instead. */
function imageLines(result: BenchResult): string[] {
  const image = result.image;
  if (!image) return [];
  const tiles = `${image.tileRows}x${image.tileCols} tiles`;
  const lines = [
    `image: ${image.width}x${image.height} (LLaVA-NeXT anyres): base + ${tiles} = ${image.crops} crops through the tower, ${image.tokens} image tokens (unpadded grid, a newline per row)`,
  ];
  if (result.rows.some((r) => r.strategy.startsWith('mustdrop'))) {
    lines.push('mustdrop: its code’s NeXT mode, crops concatenated flat (no unpadding, no newlines), each merged on its own grid');
  }
  return lines;
}

/** What other processes took from the machine while it was timed, with a warning when it matters. */
function contentionLines(result: BenchResult): string[] {
  const { roofline, worstRun, repeatedRuns } = result.contention;
  const lines = [
    `others (other processes, hypervisor steal): ${pct(roofline)} of the CPU during the roofline, ` +
      `up to ${pct(worstRun)} during a kept timed vision and prefill (column others’ CPU: each row's median); ` +
      `${repeatedRuns} run${repeatedRuns === 1 ? '' : 's'} repeated as others took more than ${pct(DISTURBED_SHARE)}`,
  ];
  if (Math.max(roofline, worstRun) > DISTURBED_SHARE) {
    lines.push('warning: other work disturbed the timings; rerun on a quiet machine before trusting the speedups');
  }
  return lines;
}

/** Which layer lists ran, and whether the bench scaled them to the cut decoder. */
function layerListLines(result: BenchResult): string[] {
  if (result.scaledLists.length === 0) return [];
  const { layers: n, totalLayers: total } = result;
  const lists = result.scaledLists.map((s) => `${s.flag} ${s.from.join(',')} → ${s.to.join(',')}`).join('; ');
  return [`layer lists scaled to ${n} of ${total} layers, round(l·${n}/${total}), as no list was given: ${lists}`];
}

/** How the baseline uses the machine, what the columns mean, and MustDrop's data-dependent counts. */
function footer(result: BenchResult): string[] {
  const rl = result.roofline;
  const none = result.rows[0]!;
  const visionGflops = result.visionFlops / (none.visionMs * 1e6);
  const boundMsPerToken = result.decodeBytesPerToken / (rl.bandwidthGBs * 1e6);
  const lines = [
    `none: prefill ${pct(none.prefillGflops / rl.matmulGflops)} of the MatMul roofline; vision ${visionGflops.toFixed(1)} GFLOP/s (${pct(visionGflops / rl.matmulGflops)}); ` +
      `decode ${none.decodeMsPerToken.toFixed(1)} ms/token = ${(none.decodeMsPerToken / boundMsPerToken).toFixed(2)}x the ${boundMsPerToken.toFixed(1)} ms/token it takes to read the weights once`,
    'speedup: none’s median prefill / the strategy’s; predicted: 1 / FLOPs ratio, the full accounting (every token, the attention’s query blocks against the keys up to their last row, lm_head row, the strategy’s scoring) over the kept counts, vision excluded',
  ];
  const mustdrop = result.rows.filter((r) => r.averageImageTokensAfterPruning !== undefined);
  if (mustdrop.length > 0) {
    lines.push(
      'mustdrop: its kept counts depend on the image and the weights; these are for random weights and a random image, and will differ on trained weights',
      ...mustdrop.map(
        (r) =>
          `  ${r.label}: average image tokens per layer ${r.averageImageTokensAfterPruning!.toFixed(1)} counted after each pruning layer (the paper's convention), ` +
          `${r.averageImageTokens.toFixed(1)} actually processed`,
      ),
    );
  }
  return lines;
}

function pct(fraction: number): string {
  return `${(100 * fraction).toFixed(0)}%`;
}

function gb(bytes: number): string {
  return (bytes / 1e9).toFixed(2);
}
