// Parity of DART, DivPrune, VisionZip and SparseVLM with their authors' code, on a tiny seeded model.
// This file holds the model, the prompt and the two settings of each method; `runParityCase` runs
// visdrop on them, and run directly (`node --import tsx src/tools/reduction-parity.ts DIR`) it writes
// what the by-hand scripts of tools/python/ (dart_divprune_parity.py, visionzip_sparsevlm_parity.py)
// feed to their torch re-implementations of the authors' code: every weight (vision tower, projector,
// decoder), the pixel values, the prompt's input embeddings as visdrop builds them (text rows and the
// projected image tokens) and the cases. Each script writes its family's goldens
// (test-fixtures/parity/<family>.json), which src/reduce/reduction-parity.test.ts compares visdrop with.
// Legend: T prompt tokens, D decoder hidden.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { normalizeLlavaConfig } from '../config/llava.js';
import { writeSafetensors } from '../checkpoint/write.js';
import type { GenerationEvent } from '../generate/events.js';
import { expandImageMarker, generate, type GenerationInput } from '../generate/loop.js';
import { encodeImage } from '../generate/vision.js';
import { llavaTensorList } from '../models/llava/tensor-list.js';
import { randomTensor, randomWeights } from '../models/random-weights.js';
import { reducerFromFlags, type ReduceFlags, type StrategyName } from '../reduce/registry.js';
import { LlavaRuntime } from '../runtime/llava-runtime.js';
import { mulberry32 } from '../util/prng.js';

/** 64 image tokens (a 56-pixel image of 7-pixel patches); a 4-layer decoder of 4 heads over 2 kv heads (repeat_kv matters), vocabulary 64. */
export const PARITY_ARCH = normalizeLlavaConfig({
  model_type: 'llava',
  image_token_index: 60,
  vision_config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, image_size: 56, patch_size: 7 },
  text_config: { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 64 },
});

export const PARITY_SEED = 15;

/** Two system tokens, the image, six text tokens after it (DART's text pivots come from these). */
export const PARITY_INPUT: GenerationInput = {
  inputIds: [1, 7, 60, 13, 15, 17, 19, 21, 23],
  pixelValues: (() => {
    const next = mulberry32(PARITY_SEED);
    return { data: Float32Array.from({ length: 3 * 56 * 56 }, () => next() * 4 - 2), shape: [1, 3, 56, 56] as [1, 3, number, number] };
  })(),
};

/** Enough decode steps for SparseVLM's per-layer cache-length positions to show in the tokens. */
export const PARITY_NEW_TOKENS = 8;

/** The golden file a case belongs to, and the script that writes it. */
export type ParityFamily = 'dart-divprune' | 'visionzip-sparsevlm';

export interface ParityCase {
  readonly family: ParityFamily;
  readonly name: string;
  readonly reduce: StrategyName;
  readonly flags: ReduceFlags;
}

/**
 * Two settings of each method: DART with a maximum and with the ratio branch; DivPrune's default ratio
 * and another; VisionZip's 64- and 128-token settings scaled from 576 to the 64 patches here (54/10 and
 * 108/20 x 64/576, truncated); SparseVLM's presets 192 (on two pruning layers, so the second stage
 * re-ranks and re-merges the first one's merged token) and 64 (the default layer list, of which only
 * layer 3 fits the 4-layer decoder), recycling on; and two SparseVLM settings for its corners: stages
 * that keep everything (rank = N after the first), and two clusters whose centres tie in score (their
 * densities are mutual nearest neighbours' and the noise cannot part them in float32), numbered in
 * torch.topk's order of ties.
 */
export const PARITY_CASES: readonly ParityCase[] = [
  { family: 'dart-divprune', name: 'dart layer 2, 4+4 pivots, M 32', reduce: 'dart', flags: { dartLayer: 2, dartPivotImage: 4, dartPivotText: 4, dartMaxTokens: 32 } },
  { family: 'dart-divprune', name: 'dart layer 1, 3+2 pivots, ratio 0.6', reduce: 'dart', flags: { dartLayer: 1, dartPivotImage: 3, dartPivotText: 2, dartMaxTokens: null, dartRatio: 0.6 } },
  { family: 'dart-divprune', name: 'divprune ratio 0.098', reduce: 'divprune', flags: {} },
  { family: 'dart-divprune', name: 'divprune ratio 0.3', reduce: 'divprune', flags: { divpruneRatio: 0.3 } },
  { family: 'visionzip-sparsevlm', name: 'visionzip 6+1 (64 of 576)', reduce: 'visionzip', flags: { visionzipDominant: 6, visionzipContextual: 1 } },
  { family: 'visionzip-sparsevlm', name: 'visionzip 12+2 (128 of 576)', reduce: 'visionzip', flags: { visionzipDominant: 12, visionzipContextual: 2 } },
  { family: 'visionzip-sparsevlm', name: 'sparsevlm preset 192, layers 1,3', reduce: 'sparsevlm', flags: { sparsevlmPreset: 192, sparsevlmLayers: [1, 3] } },
  { family: 'visionzip-sparsevlm', name: 'sparsevlm preset 64, default layers', reduce: 'sparsevlm', flags: { sparsevlmPreset: 64 } },
  { family: 'visionzip-sparsevlm', name: 'sparsevlm scale 0.4, layers 1,2,3 (no-op stages)', reduce: 'sparsevlm', flags: { sparsevlmScale: 0.4, sparsevlmBias: 0, sparsevlmLayers: [1, 2, 3] } },
  { family: 'visionzip-sparsevlm', name: 'sparsevlm scale 5.5, layers 1,2,3, seed 3 (tied centres)', reduce: 'sparsevlm', flags: { sparsevlmScale: 5.5, sparsevlmBias: 0, sparsevlmLayers: [1, 2, 3], sparsevlmSeed: 3 } },
];

/** A stage as the parity goldens state it; the goldens hold the fields their method defines (DART's and DivPrune's no `created`/`order`). */
export interface ParityStage {
  readonly where?: 'vision';
  readonly afterLayer?: number;
  readonly keptImageTokens: readonly number[];
  /** Each built token's original members, ascending, in the order the decoder sees the tokens. */
  readonly created: readonly (readonly number[])[];
  readonly order: readonly (number | string)[];
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface ParityResult {
  readonly stages: readonly ParityStage[];
  /** Last prompt position's logits [V]. */
  readonly logits: readonly number[];
  /** Greedy tokens. */
  readonly tokens: readonly number[];
  /** The logits [V] each greedy token after the first was chosen from (the decode steps). */
  readonly decodeLogits: readonly (readonly number[])[];
}

export function createParityRuntime(): Promise<LlavaRuntime> {
  return LlavaRuntime.create(PARITY_ARCH, randomWeights(PARITY_SEED));
}

export async function runParityCase(runtime: LlavaRuntime, parityCase: ParityCase): Promise<ParityResult> {
  const reducer = reducerFromFlags(parityCase.reduce, parityCase.flags);
  const events: GenerationEvent[] = [];
  for await (const event of generate(runtime, PARITY_INPUT, {
    maxNewTokens: PARITY_NEW_TOKENS,
    sampling: { kind: 'greedy' },
    stopStrings: [],
    eosTokenIds: [],
    decoder: { push: () => '' },
    reducer,
  })) {
    events.push(event);
  }
  const prefill = events.find((e) => e.type === 'prefill')!;
  if (prefill.type !== 'prefill') throw new Error('no prefill event');
  return {
    stages: prefill.reduction!.stages.map((s) => ({
      ...(s.where ? { where: s.where } : { afterLayer: s.afterLayer! }),
      keptImageTokens: [...s.keptImageTokens],
      created: s.created.map((t) => [...t.members]),
      order: [...s.order],
      ...(s.detail ? { detail: s.detail } : {}),
    })),
    logits: Array.from(prefill.logits),
    tokens: events.flatMap((e) => (e.type === 'token' ? [e.id] : [])),
    decodeLogits: events.flatMap((e) => (e.type === 'token' ? [Array.from(e.logits)] : [])).slice(1),
  };
}

/** Writes weights.safetensors (every tensor), inputs.safetensors (input embeddings [T, D], pixel values) and cases.json. */
export async function dumpParityInputs(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const runtime = await createParityRuntime();
  try {
    writeSafetensors(
      join(dir, 'weights.safetensors'),
      llavaTensorList(PARITY_ARCH).map((s) => ({ name: s.name, dtype: 'F32' as const, shape: s.shape, data: randomTensor(PARITY_SEED, s.name, s.shape) })),
    );
    const D = PARITY_ARCH.text.hiddenSize;
    const image = await encodeImage(runtime, PARITY_INPUT.pixelValues!);
    const prompt = expandImageMarker(PARITY_INPUT.inputIds, PARITY_ARCH.imageTokenId, image.tokens);
    const embeddings = runtime.embedTokens(prompt.ids);
    embeddings.set(image.embeddings, prompt.imageTokenRange![0] * D);
    writeSafetensors(join(dir, 'inputs.safetensors'), [
      { name: 'inputs_embeds', dtype: 'F32', shape: [prompt.ids.length, D], data: embeddings },
      { name: 'pixel_values', dtype: 'F32', shape: [...PARITY_INPUT.pixelValues!.shape], data: PARITY_INPUT.pixelValues!.data },
    ]);
    const t = PARITY_ARCH.text;
    const v = PARITY_ARCH.vision;
    writeFileSync(
      join(dir, 'cases.json'),
      JSON.stringify(
        {
          imageStart: prompt.imageTokenRange![0],
          imageTokens: image.tokens,
          newTokens: PARITY_NEW_TOKENS,
          text: { layers: t.numLayers, heads: t.numHeads, kvHeads: t.numKvHeads, headDim: t.headDim, rmsNormEps: t.rmsNormEps, ropeTheta: t.ropeTheta },
          vision: { layers: v.numLayers, heads: v.numHeads, headDim: v.headDim, patchSize: v.patchSize, layerNormEps: v.layerNormEps, hiddenAct: v.hiddenAct },
          projectorBias: PARITY_ARCH.projectorBias,
          cases: PARITY_CASES.map((c) => ({ family: c.family, name: c.name, reduce: c.reduce, options: reducerFromFlags(c.reduce, c.flags)!.options })),
        },
        null,
        1,
      ),
    );
  } finally {
    await runtime.release();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: node --import tsx src/tools/reduction-parity.ts OUT_DIR');
  await dumpParityInputs(dir);
}
