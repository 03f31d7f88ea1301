// The weight-format benchmark as a table: per format, its loads, memory and kernel rate; per format
// and strategy, vision, prefill (against the format's own kernel) and decode (against the time it
// takes to read the decoder's weights once at the measured bandwidth). With peers (`--peers
// llama.cpp`): their rows beside visdrop's, measured in the same command on the same weights.
import type { PeerResult } from '../peers/peer-result.js';
import { alignedTable } from './text-table.js';
import type { FormatBenchResult } from './weight-format-bench.js';

export function formatFormatsTable(results: readonly FormatBenchResult[], peers: readonly PeerResult[] = []): string {
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
  const peerOf = (weights: string) => peers.find((p) => p.visdropWeights === weights);
  const vsPeer = peers.length > 0 ? ['prefill vs peer', 'decode vs peer'] : [];
  const runs = alignedTable(
    ['weights', 'strategy', 'vision ms', 'prefill ms', 'prefill GFLOP/s', 'of kernel', 'speedup', 'predicted', 'measured/predicted', 'decode ms/token', 'read bound ms', 'decode / bound', ...vsPeer],
    results.flatMap((r) => {
      const boundMs = r.decodeBytesPerToken / (r.bandwidthGBs * 1e6);
      const peer = peerOf(r.weights);
      return r.rows.map((row) => [
        r.weights,
        row.label,
        row.visionMs.toFixed(0),
        row.prefillMs.toFixed(0),
        row.prefillGflops.toFixed(1),
        `${((100 * row.prefillGflops) / r.formatMatmulGflops).toFixed(0)}%`,
        `${row.speedup.toFixed(2)}x`,
        `${row.predictedSpeedup.toFixed(2)}x`,
        (row.speedup / row.predictedSpeedup).toFixed(2),
        row.decodeMsPerToken.toFixed(1),
        boundMs.toFixed(1),
        `${(row.decodeMsPerToken / boundMs).toFixed(2)}x`,
        ...(vsPeer.length === 0 ? [] : peer ? [`${(peer.prefillMs / row.prefillMs).toFixed(2)}x`, `${(peer.decodeMsPerToken / row.decodeMsPerToken).toFixed(2)}x`] : ['-', '-']),
      ]);
    }),
  );
  return [
    `model: ${first.model}; ${first.promptTokens}-token prompt (576 image tokens + text); one process per format`,
    `prefill GFLOP/s counts the decoder's full-accounting FLOPs; "of kernel" is against that format's Linear kernel measured in the same process; predicted: 1 / the strategy's full-accounting FLOPs ratio`,
    results.every((r) => r.loadsInNewProcesses)
      ? 'first and cached load: each in a new process (visdrop cache warm), as a user meets them; peak RSS: the largest of those and the runs'
      : 'first and cached load: one after the other in the same process (the second reuses memory the first freed)',
    ...loads,
    '',
    ...runs,
    '',
    ...peerLines(results, peers),
  ].join('\n');
}

/** visdrop's full prefill and decode beside each peer's, loads and memory too. */
function peerLines(results: readonly FormatBenchResult[], peers: readonly PeerResult[]): string[] {
  if (peers.length === 0) return [];
  const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(2);
  const s = (ms: number) => (ms / 1000).toFixed(1);
  // The decoder prefill's FLOPs, from visdrop's `none` row: the peer runs the same decoder on as many tokens.
  const flops = results[0]!.rows[0]!.prefillGflops * results[0]!.rows[0]!.prefillMs * 1e6;
  const visdrop = results.map((r) => {
    const none = r.rows[0]!;
    return [`visdrop ${r.weights}`, none.prefillMs.toFixed(0), none.prefillGflops.toFixed(1), none.decodeMsPerToken.toFixed(1), s(r.firstLoadMs), r.cachedLoadMs === null ? 'not cached' : s(r.cachedLoadMs), gib(r.peakRssBytes)];
  });
  const others = peers.map((p) => [
    `${p.engine.split(' ')[0]} ${p.weights}`,
    p.prefillMs.toFixed(0),
    (flops / (p.prefillMs * 1e6)).toFixed(1),
    p.decodeMsPerToken.toFixed(1),
    s(p.convertMs + p.firstLoadMs),
    s(p.cachedLoadMs),
    gib(p.peakRssBytes),
  ]);
  const first = peers[0]!;
  return [
    `side by side, decoder prefill of ${first.promptTokens} tokens and greedy decode, ${first.threads} threads for the peers, the same weights:`,
    ...alignedTable(['engine', 'prefill ms', 'prefill GFLOP/s', 'decode ms/token', 'first load s', 'cached load s', 'peak RSS GiB'], [...visdrop, ...others]),
    `peers: ${[...new Set(peers.map((p) => p.engine))].join('; ')}; fed ${first.promptTokens} token ids (the decoder alone; visdrop's vision is its own column above), one process per format`,
    ...peers.map((p) => `  ${p.engine.split(' ')[0]} ${p.weights}: ${p.loadNote}`),
    '"prefill vs peer", "decode vs peer": the peer\'s time / visdrop\'s (above 1: visdrop faster)',
    '',
  ];
}
