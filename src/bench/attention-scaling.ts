// How one layer's prefill attention grows with the tokens: the attention graph alone at a few prompt
// lengths, on seeded random queries, keys and values of the model's head shape, the fastest of a few
// runs, for what prefills run (GroupQueryAttention in query blocks) and the alternatives it beat:
// GroupQueryAttention in one call, and MatMul/Softmax over all heads at once in one call.
import type { TextArch } from '../config/llava.js';
import { buildPrefillAttentionGraph, queryBlocks, type PrefillKernel } from '../models/llama/attention.js';
import { floatTensor, GraphSession, int64Tensor, type SessionSettings } from '../runtime/session.js';
import { mulberry32 } from '../util/prng.js';

export type ScalingVariant = 'gqa-blocks' | 'gqa' | 'matmul';
export const SCALING_VARIANTS: readonly ScalingVariant[] = ['gqa-blocks', 'gqa', 'matmul'];

export interface AttentionTiming {
  readonly tokens: number;
  /** `gqa-blocks` is what prefills run (runtime/llava-runtime.ts prefillAttention). */
  readonly kernel: ScalingVariant;
  readonly ms: number;
  /** Full-square FLOPs (4·T²·H·Hd, one yardstick for every variant) per second, in GFLOP/s. */
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
  for (const variant of SCALING_VARIANTS) {
    const kernel: PrefillKernel = variant === 'matmul' ? 'matmul' : 'gqa';
    const session = await GraphSession.create(buildPrefillAttentionGraph(text, kernel), settings);
    try {
      for (const T of tokenCounts) {
        const next = mulberry32(T);
        // Pre-scaled queries of unit-range entries keep the softmax away from one-hot rows.
        const randoms = (count: number, scale: number) => Float32Array.from({ length: count }, () => scale * (2 * next() - 1));
        const inputs = {
          query: floatTensor(randoms(H * T * Hd, Hd ** -0.5), [Hk, (H / Hk) * T, Hd]),
          key_t: floatTensor(randoms(Hk * Hd * T, 1), [Hk, Hd, T]),
          value: floatTensor(randoms(Hk * T * Hd, 1), [Hk, T, Hd]),
        };
        const blocks = variant === 'gqa-blocks' ? queryBlocks(T) : [[0, T] as [number, number]];
        const layer = async () => {
          for (const block of blocks) await session.run({ ...inputs, block: int64Tensor(block) });
        };
        await layer(); // warm-up: allocations, first-touch pages
        let ms = Infinity;
        for (let run = 0; run < runs; run++) {
          const start = performance.now();
          await layer();
          ms = Math.min(ms, performance.now() - start);
        }
        timings.push({ tokens: T, kernel: variant, ms, gflops: (4 * T * T * H * Hd) / (ms * 1e6) });
      }
    } finally {
      await session.release();
    }
  }
  return timings;
}
