// How one layer's prefill attention grows with the tokens: the attention graph alone, each kernel
// (GroupQueryAttention, the default; MatMul/Softmax over all heads at once) at a few prompt lengths,
// on seeded random queries, keys and values of the model's head shape. The fastest of a few runs.
import type { TextArch } from '../config/llava.js';
import { buildAttentionGraph, type PrefillKernel } from '../models/llama/attention.js';
import { floatTensor, GraphSession, type SessionSettings } from '../runtime/session.js';
import { mulberry32 } from '../util/prng.js';

export const SCALING_KERNELS: readonly PrefillKernel[] = ['gqa', 'matmul'];

export interface AttentionTiming {
  readonly tokens: number;
  readonly kernel: PrefillKernel;
  readonly ms: number;
  /** Full-square FLOPs (4·T²·H·Hd, what flops/engine.ts counts) per second, in GFLOP/s. */
  readonly gflops: number;
}

export async function measureAttentionScaling(
  text: TextArch,
  tokenCounts: readonly number[],
  runs: number,
  settings: SessionSettings = {},
): Promise<AttentionTiming[]> {
  const { numHeads: H, numKvHeads: Hk, headDim: Hd } = text;
  const timings: AttentionTiming[] = [];
  for (const kernel of SCALING_KERNELS) {
    const session = await GraphSession.create(buildAttentionGraph(text, { withPast: false, attentionRows: false, kernel }), settings);
    try {
      for (const T of tokenCounts) {
        const next = mulberry32(T);
        // Pre-scaled queries of unit-range entries keep the softmax away from one-hot rows.
        const randoms = (count: number, scale: number) => Float32Array.from({ length: count }, () => scale * (2 * next() - 1));
        const feeds = {
          query: floatTensor(randoms(H * T * Hd, Hd ** -0.5), [Hk, (H / Hk) * T, Hd]),
          key_t: floatTensor(randoms(Hk * Hd * T, 1), [Hk, Hd, T]),
          value: floatTensor(randoms(Hk * T * Hd, 1), [Hk, T, Hd]),
        };
        await session.run(feeds); // warm-up: allocations, first-touch pages
        let ms = Infinity;
        for (let run = 0; run < runs; run++) {
          const start = performance.now();
          await session.run(feeds);
          ms = Math.min(ms, performance.now() - start);
        }
        timings.push({ tokens: T, kernel, ms, gflops: (4 * T * T * H * Hd) / (ms * 1e6) });
      }
    } finally {
      await session.release();
    }
  }
  return timings;
}
