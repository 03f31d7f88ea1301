// Logits drift of a quantised runtime against an f32 one on the same weights: every prompt runs
// through all decoder layers and the lm_head in both, and every position's next-token logits are
// compared (largest absolute difference, and how often the top-1 token agrees).
import type { LlavaRuntime } from '../runtime/llava-runtime.js';
import { KvCache } from '../runtime/kv-cache.js';
import { argmax } from './sampling.js';
import { mulberry32 } from '../util/prng.js';

export interface LogitsDrift {
  /** max |logit - f32 logit| over every position of every prompt. */
  readonly maxAbs: number;
  /** Largest |f32 logit|, for scale. */
  readonly maxReference: number;
  /** Share of positions whose top-1 token matches f32's. */
  readonly top1Agreement: number;
  readonly positions: number;
}

/** `count` prompts of `length` token ids in [0, vocab), from `seed`. */
export function randomPrompts(count: number, length: number, vocab: number, seed: number): number[][] {
  const next = mulberry32(seed);
  return Array.from({ length: count }, () => Array.from({ length }, () => Math.floor(next() * vocab)));
}

async function promptLogits(runtime: LlavaRuntime, ids: readonly number[]): Promise<Float32Array> {
  const t = runtime.arch.text;
  const cache = new KvCache(t.numLayers, t.numKvHeads, t.headDim);
  const state = { hidden: runtime.embedTokens(ids), positions: ids.map((_, i) => i) };
  const { state: out } = await runtime.decoderLayers(0, t.numLayers, state, cache);
  return runtime.logits(out.hidden, ids.length);
}

export async function logitsDrift(reference: LlavaRuntime, quantised: LlavaRuntime, prompts: readonly (readonly number[])[]): Promise<LogitsDrift> {
  const V = reference.arch.text.vocabSize;
  let maxAbs = 0;
  let maxReference = 0;
  let agree = 0;
  let positions = 0;
  for (const ids of prompts) {
    const expected = await promptLogits(reference, ids);
    const actual = await promptLogits(quantised, ids);
    for (let i = 0; i < expected.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(actual[i]! - expected[i]!));
      maxReference = Math.max(maxReference, Math.abs(expected[i]!));
    }
    for (let row = 0; row < ids.length; row++) {
      const slice = (logits: Float32Array) => logits.subarray(row * V, (row + 1) * V);
      if (argmax(slice(expected)) === argmax(slice(actual))) agree++;
      positions++;
    }
  }
  return { maxAbs, maxReference, top1Agreement: agree / positions, positions };
}
