// Parity of DART and DivPrune with their authors' code, on a tiny seeded model. This file holds the
// model, the prompt and the two settings of each method; `runParityCase` runs visdrop on them, and
// run directly (`node --import tsx src/tools/reduction-parity.ts DIR`) it writes what the by-hand
// script tools/python/dart_divprune_parity.py feeds to its torch re-implementation of the authors'
// code: the decoder's weights, the prompt's input embeddings as visdrop builds them (text rows and
// the projected image tokens) and the cases. That script writes test-fixtures/parity/dart-divprune.json,
// which src/reduce/dart-divprune-parity.test.ts compares visdrop with.
// Legend: T prompt tokens, D decoder hidden.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { normalizeLlavaConfig } from '../config/llava.js';
import { writeSafetensors } from '../checkpoint/write.js';
import type { GenerationEvent } from '../generate/events.js';
import { expandImageMarker, generate, type GenerationInput } from '../generate/loop.js';
import { encodeImage } from '../generate/vision.js';
import { DECODER_PREFIX, EMBED_WEIGHT, FINAL_NORM_WEIGHT, LM_HEAD_WEIGHT } from '../models/llama/decoder.js';
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

export const PARITY_NEW_TOKENS = 3;

export interface ParityCase {
  readonly name: string;
  readonly reduce: StrategyName;
  readonly flags: ReduceFlags;
}

/** Two settings of each method: DART with a maximum and with the ratio branch; DivPrune's default ratio and another. */
export const PARITY_CASES: readonly ParityCase[] = [
  { name: 'dart layer 2, 4+4 pivots, M 32', reduce: 'dart', flags: { dartLayer: 2, dartPivotImage: 4, dartPivotText: 4, dartMaxTokens: 32 } },
  { name: 'dart layer 1, 3+2 pivots, ratio 0.6', reduce: 'dart', flags: { dartLayer: 1, dartPivotImage: 3, dartPivotText: 2, dartMaxTokens: null, dartRatio: 0.6 } },
  { name: 'divprune ratio 0.098', reduce: 'divprune', flags: {} },
  { name: 'divprune ratio 0.3', reduce: 'divprune', flags: { divpruneRatio: 0.3 } },
];

export interface ParityResult {
  readonly stages: readonly { readonly afterLayer: number; readonly keptImageTokens: readonly number[]; readonly detail?: Readonly<Record<string, unknown>> }[];
  /** Last prompt position's logits [V]. */
  readonly logits: readonly number[];
  /** Greedy tokens. */
  readonly tokens: readonly number[];
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
    stages: prefill.reduction!.stages.map((s) => ({ afterLayer: s.afterLayer!, keptImageTokens: [...s.keptImageTokens], ...(s.detail ? { detail: s.detail } : {}) })),
    logits: Array.from(prefill.logits),
    tokens: events.flatMap((e) => (e.type === 'token' ? [e.id] : [])),
  };
}

/** Writes weights.safetensors (decoder, norm, lm_head), inputs.safetensors (input embeddings [T, D]) and cases.json. */
export async function dumpParityInputs(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const runtime = await createParityRuntime();
  try {
    const decoderNames = llavaTensorList(PARITY_ARCH).filter(
      (s) => s.name.startsWith(`${DECODER_PREFIX}.layers.`) || [EMBED_WEIGHT, FINAL_NORM_WEIGHT, LM_HEAD_WEIGHT].includes(s.name),
    );
    writeSafetensors(
      join(dir, 'weights.safetensors'),
      decoderNames.map((s) => ({ name: s.name, dtype: 'F32' as const, shape: s.shape, data: randomTensor(PARITY_SEED, s.name, s.shape) })),
    );
    const D = PARITY_ARCH.text.hiddenSize;
    const image = await encodeImage(runtime, PARITY_INPUT.pixelValues!);
    const prompt = expandImageMarker(PARITY_INPUT.inputIds, PARITY_ARCH.imageTokenId, image.tokens);
    const embeddings = runtime.embedTokens(prompt.ids);
    embeddings.set(image.embeddings, prompt.imageTokenRange![0] * D);
    writeSafetensors(join(dir, 'inputs.safetensors'), [{ name: 'inputs_embeds', dtype: 'F32', shape: [prompt.ids.length, D], data: embeddings }]);
    const t = PARITY_ARCH.text;
    writeFileSync(
      join(dir, 'cases.json'),
      JSON.stringify(
        {
          imageStart: prompt.imageTokenRange![0],
          imageTokens: image.tokens,
          newTokens: PARITY_NEW_TOKENS,
          text: { layers: t.numLayers, heads: t.numHeads, kvHeads: t.numKvHeads, headDim: t.headDim, rmsNormEps: t.rmsNormEps, ropeTheta: t.ropeTheta },
          cases: PARITY_CASES.map((c) => ({ name: c.name, reduce: c.reduce, options: reducerFromFlags(c.reduce, c.flags)!.options })),
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
