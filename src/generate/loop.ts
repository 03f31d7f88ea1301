// The generation story in one loop: encode the image, splice its features into the prompt's
// embeddings, prefill the decoder, then decode one token at a time until a stop condition, yielding
// typed events as it goes.
import { OptionError, PromptError } from '../errors.js';
import type { LlavaRuntime } from '../runtime/llava-runtime.js';
import { KvCache } from '../runtime/kv-cache.js';
import type { GenerationEvent, StopReason } from './events.js';
import { createSampler, type SamplingOptions } from './sampling.js';
import { StopStringFilter } from './stop-strings.js';
import { encodeImage, type AnyresPixelValues, type PixelValues } from './vision.js';
import { prefill } from './prefill.js';
import type { TokenReducer } from '../reduce/types.js';

/** Turns token ids into text incrementally (see text/stream-decoder.ts). */
export interface IncrementalDecoder {
  /** Adds one token; returns the text it completes (possibly empty). */
  push(id: number): string;
}

export interface GenerationInput {
  /** Prompt ids with at most one image marker (`arch.imageTokenId`), not expanded. */
  readonly inputIds: readonly number[];
  readonly pixelValues: PixelValues | AnyresPixelValues | null;
}

export interface GenerationSettings {
  readonly maxNewTokens: number;
  readonly sampling: SamplingOptions;
  readonly stopStrings: readonly string[];
  readonly eosTokenIds: readonly number[];
  readonly decoder: IncrementalDecoder;
  /** A token-reduction strategy, or null for none. */
  readonly reducer?: TokenReducer | null;
  /**
   * Stops the generation (a server's client went away): checked before the vision tower, between
   * prefill segments and before every decode step, so at most one step runs after an abort; the
   * generator then throws the signal's reason.
   */
  readonly signal?: AbortSignal;
}

/** The prompt with the image marker replaced by the image's tokens. */
export interface ExpandedPrompt {
  readonly ids: number[];
  readonly imageTokenRange: readonly [number, number] | null;
}

export function expandImageMarker(inputIds: readonly number[], imageTokenId: number, imageTokens: number): ExpandedPrompt {
  const at = inputIds.indexOf(imageTokenId);
  if (at < 0) return { ids: [...inputIds], imageTokenRange: null };
  const ids = [...inputIds.slice(0, at), ...new Array<number>(imageTokens).fill(imageTokenId), ...inputIds.slice(at + 1)];
  return { ids, imageTokenRange: [at, at + imageTokens] };
}

export async function* generate(runtime: LlavaRuntime, input: GenerationInput, settings: GenerationSettings): AsyncGenerator<GenerationEvent> {
  const { arch } = runtime;
  const D = arch.text.hiddenSize;
  const sample = createSampler(settings.sampling);
  const hasMarker = input.inputIds.includes(arch.imageTokenId);
  if (hasMarker !== (input.pixelValues !== null)) {
    throw new PromptError({
      subject: 'prompt',
      expected: input.pixelValues ? 'an image marker where the image goes' : 'no image marker, since no image is given',
      found: hasMarker ? 'an image marker' : 'no image marker',
    });
  }

  const signal = settings.signal;
  signal?.throwIfAborted();
  const reducer = settings.reducer ?? null;
  if (reducer?.anyresUnsupported && arch.anyres && input.pixelValues) {
    throw new OptionError({ subject: `--reduce ${reducer.name}`, expected: 'a LLaVA-1.5 model', found: `LLaVA-NeXT: ${reducer.anyresUnsupported}` });
  }
  const visionStart = performance.now();
  const features = input.pixelValues ? await encodeImage(runtime, input.pixelValues, reducer?.vision ?? null, reducer?.features ?? null) : null;
  const visionMs = performance.now() - visionStart;

  const prompt = expandImageMarker(input.inputIds, arch.imageTokenId, features?.tokens ?? 0);
  const T = prompt.ids.length;
  if (T > arch.text.maxPositions) {
    throw new PromptError({
      subject: 'prompt',
      expected: `at most ${arch.text.maxPositions} tokens (max_position_embeddings), image tokens included`,
      found: `${T} tokens (${input.inputIds.length} text + ${features?.tokens ?? 0} image)`,
    });
  }

  const prefillStart = performance.now();
  const embeddings = runtime.embedTokens(prompt.ids); // [T, D]
  if (features && prompt.imageTokenRange) embeddings.set(features.embeddings, prompt.imageTokenRange[0] * D);
  const cache = new KvCache(arch.text.numLayers, arch.text.numKvHeads, arch.text.headDim);
  const [imageStart, imageEnd] = prompt.imageTokenRange ?? [0, 0];
  const prefilled = await prefill(
    runtime,
    {
      hidden: embeddings,
      positions: Array.from({ length: T }, (_, i) => i),
      imageStart,
      imageTokens: Array.from({ length: imageEnd - imageStart }, (_, i) => i),
      keyTokens: features?.vision?.keySet ?? [],
    },
    cache,
    reducer,
    features?.stage ?? null,
    signal,
  );
  let logits = await runtime.logits(prefilled.lastHidden, 1);
  const prefillMs = performance.now() - prefillStart;
  yield {
    type: 'prefill',
    inputIds: input.inputIds,
    imageTokenRange: prompt.imageTokenRange,
    promptTokens: T,
    logits,
    reduction: prefilled.reduction && features?.vision ? { ...prefilled.reduction, vision: features.vision } : prefilled.reduction,
    timings: { visionMs, prefillMs },
  };
  // After a reduction, layers hold different tokens at different positions: each layer's decode
  // tokens continue right after the last position it has cached (the full prompt length when
  // positions were kept, the layer's own length when they were renumbered).
  const positions = reducer?.decodePositions ?? 'continue-cache';

  const tokens: number[] = [];
  const stops = new StopStringFilter(settings.stopStrings);
  let text = '';
  let reason: StopReason = 'max-new-tokens';
  let decodeMs = 0;
  let decodeSteps = 0;
  while (tokens.length < settings.maxNewTokens) {
    const id = sample(logits);
    tokens.push(id);
    if (settings.eosTokenIds.includes(id)) {
      reason = 'eos';
      break;
    }
    const shown = stops.push(settings.decoder.push(id));
    text += shown;
    yield { type: 'token', id, text: shown, logits };
    if (stops.stopped) {
      reason = 'stop-string';
      break;
    }
    if (tokens.length >= settings.maxNewTokens) break;
    const position = T + tokens.length - 1;
    if (position >= arch.text.maxPositions) {
      reason = 'context-full';
      break;
    }
    signal?.throwIfAborted();
    const stepStart = performance.now();
    const step = await runtime.decoderLayers(0, arch.text.numLayers, { hidden: runtime.embedTokens([id]), positions: [position] }, cache, { positions });
    logits = await runtime.logits(step.state.hidden, 1);
    decodeMs += performance.now() - stepStart;
    decodeSteps++;
  }
  const rest = stops.flush();
  if (rest) {
    text += rest;
    yield { type: 'text', text: rest };
  }
  yield {
    type: 'done',
    reason,
    tokens,
    text,
    timings: { visionMs, prefillMs, decodeMsPerToken: decodeSteps > 0 ? decodeMs / decodeSteps : 0 },
  };
}
