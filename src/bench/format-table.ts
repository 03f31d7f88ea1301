// The weight-format benchmark as a table: per format, its loads, memory and kernel rate; per format
// and strategy, vision, prefill (against the format's own kernel) and decode (against the time it
// takes to read the decoder's weights once at the measured bandwidth).
import { alignedTable } from './text-table.js';
import type { FormatBenchResult } from './weight-format-bench.js';

/**
 * llama.cpp's q4_0 prefill on this machine, from the issue that asked for this bench: its MatMul on
 * the 7B's [616 x 4096] x [4096 x 4096] with 2 threads. Not re-measured here (no llama.cpp build).
 */
export const LLAMA_CPP_Q4_0_GFLOPS = 245;

export function formatFormatsTable(results: readonly FormatBenchResult[]): string {
  const first = results[0];
  if (!first) return '';
  const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(2);
  const loads = alignedTable(
    ['weights', 'first load s', 'cached load s', 'cached / first', 'peak RSS GiB', 'weights GB', 'kernel GFLOP/s', 'memory GB/s'],
    results.map((r) => [
      r.weights,
      (r.firstLoadMs / 1000).toFixed(1),
      r.cachedLoadMs === null ? 'not cached' : (r.cachedLoadMs / 1000).toFixed(1),
      r.cachedLoadMs === null ? '-' : `${((100 * r.cachedLoadMs) / r.firstLoadMs).toFixed(0)}%`,
      gib(r.peakRssBytes),
      (r.weightBytes / 1e9).toFixed(2),
      r.formatMatmulGflops.toFixed(1),
      r.bandwidthGBs.toFixed(1),
    ]),
  );
  const runs = alignedTable(
    ['weights', 'strategy', 'vision ms', 'prefill ms', 'prefill GFLOP/s', 'of kernel', 'vs llama.cpp q4_0', 'speedup', 'decode ms/token', 'read bound ms', 'decode / bound'],
    results.flatMap((r) => {
      const boundMs = r.decodeBytesPerToken / (r.bandwidthGBs * 1e6);
      return r.rows.map((row) => [
        r.weights,
        row.label,
        row.visionMs.toFixed(0),
        row.prefillMs.toFixed(0),
        row.prefillGflops.toFixed(1),
        `${((100 * row.prefillGflops) / r.formatMatmulGflops).toFixed(0)}%`,
        `${(row.prefillGflops / LLAMA_CPP_Q4_0_GFLOPS).toFixed(2)}x`,
        `${row.speedup.toFixed(2)}x`,
        row.decodeMsPerToken.toFixed(1),
        boundMs.toFixed(1),
        `${(row.decodeMsPerToken / boundMs).toFixed(2)}x`,
      ]);
    }),
  );
  return [
    `model: ${first.model}; ${first.promptTokens}-token prompt (576 image tokens + text); one process per format`,
    `prefill GFLOP/s counts the decoder's full-accounting FLOPs; "of kernel" is against that format's Linear kernel measured in the same process;`,
    `llama.cpp q4_0 reference: ${LLAMA_CPP_Q4_0_GFLOPS} GFLOP/s ([616 x 4096] x [4096 x 4096], 2 threads, measured on this machine when the issue was filed)`,
    ...loads,
    '',
    ...runs,
    '',
  ].join('\n');
}
