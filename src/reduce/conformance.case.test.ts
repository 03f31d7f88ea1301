// The conformance suite every token-reduction strategy passes (each strategy's test file calls
// runStrategyConformance). It runs the real runtime on a small random model with an image:
// - a plan keeping everything leaves the logits bit-identical to no strategy;
// - plans are ascending, unique, in range, and only image tokens go;
// - image tokens per layer are as the strategy declares;
// - a cached decode step after reduction gives the logits of a fresh prefill of the longer
//   sequence with the same plans replayed, which checks decode positions and per-layer caches.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeLlavaConfig } from '../config/llava.js';
import { randomWeights } from '../models/random-weights.js';
import { LlavaRuntime } from '../runtime/llava-runtime.js';
import { generate, type GenerationInput } from '../generate/loop.js';
import type { GenerationEvent } from '../generate/events.js';
import { mulberry32 } from '../util/prng.js';
import type { ImagePlan, PrefillSequence, TokenReducer } from './types.js';

/** 6 decoder layers, 4 heads over 2 kv heads; a 28-pixel image of 7-pixel patches: 16 image tokens. */
export const CONFORMANCE_ARCH = normalizeLlavaConfig({
  model_type: 'llava',
  image_token_index: 60,
  vision_config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 3, num_attention_heads: 2, image_size: 28, patch_size: 7 },
  text_config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 6, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 64 },
});

const IMAGE_TOKENS = CONFORMANCE_ARCH.imageTokensPerImage;
const INPUT: GenerationInput = {
  inputIds: [1, 7, 9, 60, 13, 15, 17, 19],
  pixelValues: (() => {
    const next = mulberry32(5);
    return { data: Float32Array.from({ length: 3 * 28 * 28 }, () => next() * 4 - 2), shape: [1, 3, 28, 28] as [1, 3, number, number] };
  })(),
};

type PrefillEvent = Extract<GenerationEvent, { type: 'prefill' }>;
type TokenEvent = Extract<GenerationEvent, { type: 'token' }>;

async function run(runtime: LlavaRuntime, reducer: TokenReducer | null, input = INPUT, maxNewTokens = 2) {
  const events: GenerationEvent[] = [];
  for await (const event of generate(runtime, input, {
    maxNewTokens,
    sampling: { kind: 'greedy' },
    stopStrings: [],
    eosTokenIds: [],
    decoder: { push: () => '' },
    reducer,
  })) {
    events.push(event);
  }
  return {
    prefill: events.find((e): e is PrefillEvent => e.type === 'prefill')!,
    tokens: events.filter((e): e is TokenEvent => e.type === 'token'),
  };
}

/**
 * Wraps `strategy` so it still ranks everywhere but merges nothing and keeps every image token (a
 * feature stage: the patch tokens, as LLaVA's `default` feature selection feeds them).
 */
function keepingEverything(strategy: TokenReducer): TokenReducer {
  const { vision, features } = strategy;
  return {
    ...strategy,
    ...(strategy.forPrompt ? { forPrompt: (input: PrefillSequence, numLayers: number) => keepingEverything(strategy.forPrompt!(input, numLayers)) } : {}),
    ...(features
      ? {
          features: {
            ...features,
            select(image) {
              features.select(image);
              return { tokens: Array.from({ length: image.classAttention.length / image.numHeads - 1 }, (_, p) => p + 1) };
            },
          },
        }
      : {}),
    ...(vision
      ? {
          vision: {
            ...vision,
            merge(images) {
              vision.merge(images);
              return undefined;
            },
          },
        }
      : {}),
    async onBoundary(context) {
      await strategy.onBoundary(context);
      return { keep: context.sequence.imageTokens.map((_, i) => i) };
    },
  };
}

/** Wraps `strategy` so every plan it returns is kept, by the boundary it was made at. */
function capturing(strategy: TokenReducer, plans: Map<number, ImagePlan>): TokenReducer {
  return {
    ...strategy,
    ...(strategy.forPrompt ? { forPrompt: (input: PrefillSequence, numLayers: number) => capturing(strategy.forPrompt!(input, numLayers), plans) } : {}),
    async onBoundary(context) {
      const plan = await strategy.onBoundary(context);
      if (plan) plans.set(context.layer, plan);
      return plan;
    },
  };
}

/**
 * Replays captured plans: at each boundary the same plan again. Plans name places in the current
 * image span, which a longer text after the image leaves where they were.
 */
function replaying(strategy: TokenReducer, plans: ReadonlyMap<number, ImagePlan>): TokenReducer {
  const { forPrompt: _ignored, ...rest } = strategy;
  return {
    ...rest,
    boundaries: [...plans.keys()],
    attentionRowsBefore: undefined,
    async onBoundary({ layer }) {
      return plans.get(layer)!;
    },
  };
}

function maxRelativeDifference(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

export interface ConformanceOptions {
  /** Tests this strategy cannot meet, each with the reason. */
  readonly skip?: ReadonlyArray<{ readonly test: string; readonly reason: string }>;
}

export function runStrategyConformance(label: string, make: () => TokenReducer, options: ConformanceOptions = {}): void {
  const skipped = (test: string) => options.skip?.find((s) => s.test === test)?.reason;
  const check = (test: string, body: () => Promise<void>) => {
    const reason = skipped(test);
    it(test, reason ? { skip: reason } : {}, body);
  };

  describe(`conformance: ${label}`, () => {
    let runtime: LlavaRuntime;
    before(async () => {
      runtime = await LlavaRuntime.create(CONFORMANCE_ARCH, randomWeights(21));
    });
    after(() => runtime.release());

    check('a plan keeping everything gives bit-identical logits to no strategy', async () => {
      const plain = await run(runtime, null);
      const kept = await run(runtime, keepingEverything(make()));
      assert.deepEqual(kept.prefill.logits, plain.prefill.logits);
      assert.deepEqual(kept.tokens[1]!.logits, plain.tokens[1]!.logits);
    });

    check('plans are ascending, unique, in range, and only image tokens go', async () => {
      const { prefill } = await run(runtime, make(), INPUT, 1);
      const record = prefill.reduction!;
      assert.ok(record.stages.length > 0, 'at least one stage');
      const [imageStart, imageEnd] = prefill.imageTokenRange!;
      const imageTokens = imageEnd - imageStart; // fewer than the patches when a vision stage merged
      assert.equal(imageStart, 3);
      assert.ok(imageTokens <= IMAGE_TOKENS);
      let previous: readonly number[] = Array.from({ length: IMAGE_TOKENS }, (_, i) => i);
      const members = new Map<string, readonly number[]>();
      for (const stage of record.stages) {
        const kept = stage.keptImageTokens;
        kept.forEach((index, i) => {
          assert.ok(Number.isInteger(index) && index >= 0 && index < IMAGE_TOKENS, `index ${index} in range`);
          if (i > 0) assert.ok(index > kept[i - 1]!, 'ascending and unique');
        });
        assert.ok(kept.every((index) => previous.includes(index)), 'a dropped token never comes back');
        for (const c of stage.created) {
          assert.ok(c.members.length > 0 && c.members.every((m, i) => i === 0 || m > c.members[i - 1]!), `${c.id}: ascending members`);
          members.set(c.id, c.members);
        }
        // The order names each kept token and built token once, and no original twice.
        const numbers = stage.order.filter((t): t is number => typeof t === 'number');
        assert.deepEqual([...numbers].sort((a, b) => a - b), [...kept], 'the order holds exactly the kept originals');
        const covered = stage.order.flatMap((t) => (typeof t === 'number' ? [t] : t === 'cls' ? [] : [...members.get(t)!]));
        assert.equal(new Set(covered).size, covered.length, 'no original stands in two tokens');
        previous = kept;
      }
      assert.equal(prefill.promptTokens, INPUT.inputIds.length - 1 + imageTokens, 'text tokens all stay');
    });

    check('image tokens per layer are as declared', async () => {
      const strategy = make();
      const { prefill } = await run(runtime, strategy, INPUT, 1);
      const record = prefill.reduction!;
      const [imageStart, imageEnd] = prefill.imageTokenRange!;
      assert.ok(strategy.plannedImageTokensPerLayer, 'the strategy declares its counts (skip with a reason if they depend on the data)');
      assert.deepEqual(record.imageTokensPerLayer, strategy.plannedImageTokensPerLayer(imageEnd - imageStart, CONFORMANCE_ARCH.text.numLayers));
      const lastStage = record.stages.at(-1)!;
      assert.equal(lastStage.order.length, record.imageTokensPerLayer.at(-1));
    });

    check('a cached decode step equals a fresh prefill of the longer sequence with the plans replayed', async () => {
      const strategy = make();
      const plans = new Map<number, ImagePlan>();
      const reduced = await run(runtime, capturing(strategy, plans));
      const first = reduced.tokens[0]!.id;
      const replay = await run(runtime, replaying(strategy, plans), { ...INPUT, inputIds: [...INPUT.inputIds, first] }, 1);
      const difference = maxRelativeDifference(reduced.tokens[1]!.logits, replay.prefill.logits);
      assert.ok(difference < 1e-4, `decode-step logits differ from the replayed prefill by ${difference.toExponential(2)}`);
    });
  });
}
