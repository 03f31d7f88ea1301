// One chat completion: `prepare` checks everything a request can get wrong before it queues (the
// body, the model name, the token budget, the strategy, the image's bytes and pixels, the prompt's
// length against the context), and `runCompletion` runs it through the model's own `generate`
// once it holds a slot, handing each event on and reporting what the strategy kept.
import type { LlavaModel } from '../generate/model.js';
import type { GenerationEvent, StopReason } from '../generate/events.js';
import type { AnyresPixelValues, PixelValues } from '../generate/vision.js';
import { nextImageTokenCount } from '../image/index.js';
import type { ReduceFlags } from '../reduce/registry.js';
import type { TokenReducer } from '../reduce/types.js';
import type { ReductionRecord } from '../generate/prefill.js';
import { VisdropError } from '../errors.js';
import { ApiError, invalidRequest, toApiError } from './api-error.js';
import { parseChatRequest, type ChatRequest } from './chat-request.js';
import { resolveImage, type CheckedImage, type ImageLimits } from './image-input.js';
import { chooseStrategy, type StrategyChoice, type StrategyOptionKey } from './strategy-options.js';

export type PrefillEvent = Extract<GenerationEvent, { type: 'prefill' }>;

/** What the layers below serve compute for a report (handed in by the CLI: flops/ and show/). */
export interface ReductionReporting {
  /** FLOPs of this prefill over the same prefill keeping every image token (full accounting), or null when not countable. */
  flopsRatio(model: LlavaModel, prefill: PrefillEvent, reducer: TokenReducer | null): number | null;
  /** `visdrop show`'s picture of the patches each stage kept, as PNG bytes. */
  picture(model: LlavaModel, pixels: PixelValues | AnyresPixelValues, reduction: ReductionRecord): Promise<Uint8Array>;
}

export interface CompletionSettings extends ImageLimits {
  readonly modelId: string;
  /** Ceiling and default of max_tokens (--max-tokens). */
  readonly maxTokens: number;
  readonly strategyKeys: readonly StrategyOptionKey[];
  readonly defaultStrategy: ReduceFlags;
  readonly reporting?: ReductionReporting;
}

export interface PreparedCompletion {
  readonly chat: ChatRequest;
  readonly image: CheckedImage | null;
  readonly strategy: StrategyChoice;
  readonly maxNewTokens: number;
}

/** Image tokens the decoder will see for an image of this size, before any reduction. */
function imageTokens(model: LlavaModel, image: CheckedImage): number {
  const { arch } = model;
  if (!arch.anyres) return arch.imageTokensPerImage;
  return nextImageTokenCount([image.height, image.width], arch.anyres.pinpoints, arch.vision.imageSize, arch.vision.gridSize);
}

export async function prepareCompletion(model: LlavaModel, body: unknown, settings: CompletionSettings): Promise<PreparedCompletion> {
  const chat = parseChatRequest(body);
  if (chat.model !== settings.modelId) {
    throw new ApiError(404, 'invalid_request_error', `model: expected ${JSON.stringify(settings.modelId)} (GET /v1/models), found ${JSON.stringify(chat.model)}`, 'model', 'model_not_found');
  }
  const maxNewTokens = chat.maxTokens ?? settings.maxTokens;
  if (maxNewTokens > settings.maxTokens) throw invalidRequest(chat.maxTokensParam, `at most ${settings.maxTokens} (the server's --max-tokens)`, String(maxNewTokens));
  const strategy = chooseStrategy(chat.visdrop, settings.strategyKeys, settings.defaultStrategy, model.arch.text.numLayers);
  if (strategy.reducer && !chat.image) throw invalidRequest('visdrop.reduce', 'an image whose tokens to reduce (an image_url part), or "none"', JSON.stringify(strategy.name));
  const image = chat.image ? await resolveImage(chat.image, settings) : null;
  let textTokens: number;
  try {
    textTokens = model.encodePrompt({ messages: chat.messages }, image !== null).inputIds.length;
  } catch (error) {
    if (error instanceof VisdropError) throw invalidRequest('messages', error.expected, error.found);
    throw error;
  }
  // The image marker is one of the text ids and becomes the image's tokens.
  const promptTokens = textTokens + (image ? imageTokens(model, image) - 1 : 0);
  const context = model.arch.text.maxPositions;
  if (promptTokens >= context) {
    throw invalidRequest('messages', `a prompt shorter than the context (${context} tokens, max_position_embeddings), image tokens included`, `${promptTokens} tokens`, 'context_length_exceeded');
  }
  return { chat, image, strategy, maxNewTokens };
}

/** What the response reports about the strategy and the run (the `visdrop` object). */
export interface CompletionReport {
  readonly strategy: string;
  readonly options: Readonly<Record<string, unknown>>;
  /** Image tokens the decoder received (after a vision-stage merge), null without an image. */
  readonly image_tokens: number | null;
  /** Image tokens kept after each stage, in order. */
  readonly kept_image_tokens: readonly number[];
  /** Image tokens the decoder sees after each stage (built tokens counted), and where the stage ran. */
  readonly stages: readonly { readonly where?: 'vision'; readonly after_layer?: number; readonly kept_image_tokens: number }[];
  readonly flops_ratio: number | null;
  readonly timings: { readonly queue_ms: number; readonly vision_ms: number; readonly prefill_ms: number; readonly decode_ms_per_token: number; readonly total_ms: number };
  /** The kept-patch picture as a PNG data: URL, when the request asked for it (`visdrop.picture`). */
  readonly picture?: string;
}

export interface CompletionResult {
  readonly text: string;
  readonly finishReason: 'stop' | 'length';
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly report: CompletionReport;
}

const FINISH_REASONS: Readonly<Record<StopReason, 'stop' | 'length'>> = { eos: 'stop', 'stop-string': 'stop', 'max-new-tokens': 'length', 'context-full': 'length' };

/**
 * Runs a prepared completion; `onText` gets each piece of the answer as it streams. Throws the
 * signal's reason when aborted, an ApiError otherwise.
 */
export async function runCompletion(
  model: LlavaModel,
  prepared: PreparedCompletion,
  settings: CompletionSettings,
  options: { readonly signal: AbortSignal; readonly queueMs: number; readonly onText?: (text: string) => void; readonly onPrefill?: () => void },
): Promise<CompletionResult> {
  const start = performance.now();
  const { chat, strategy } = prepared;
  let pixels: PixelValues | AnyresPixelValues | undefined;
  let prefill: PrefillEvent | undefined;
  try {
    if (prepared.image) pixels = await model.pixelValues(prepared.image.bytes, { maxPixels: settings.maxImagePixels });
    for await (const event of model.generate({
      messages: chat.messages,
      ...(pixels ? { pixelValues: pixels } : {}),
      maxNewTokens: prepared.maxNewTokens,
      ...(chat.temperature !== undefined ? { temperature: chat.temperature } : {}),
      ...(chat.topP !== undefined ? { topP: chat.topP } : {}),
      ...(chat.seed !== undefined ? { seed: chat.seed } : {}),
      stop: chat.stop,
      reduce: strategy.reducer,
      signal: options.signal,
    })) {
      if (event.type === 'prefill') {
        prefill = event;
        options.onPrefill?.();
      } else if (event.type === 'token' || event.type === 'text') {
        if (event.text) options.onText?.(event.text);
      } else {
        const reduction = prefill?.reduction ?? null;
        const picture =
          strategy.picture && reduction && pixels && settings.reporting ? Buffer.from(await settings.reporting.picture(model, pixels, reduction)).toString('base64') : undefined;
        const range = prefill?.imageTokenRange;
        return {
          text: event.text,
          finishReason: FINISH_REASONS[event.reason],
          promptTokens: prefill?.promptTokens ?? 0,
          completionTokens: event.tokens.length,
          report: {
            strategy: strategy.name,
            options: reduction?.options ?? {},
            image_tokens: range ? range[1] - range[0] : null,
            kept_image_tokens: reduction?.stages.map((s) => s.order.length) ?? [],
            stages: reduction?.stages.map((s) => ({ ...(s.where ? { where: s.where } : { after_layer: s.afterLayer }), kept_image_tokens: s.order.length })) ?? [],
            flops_ratio: prefill && range && settings.reporting ? settings.reporting.flopsRatio(model, prefill, strategy.reducer) : null,
            timings: {
              queue_ms: options.queueMs,
              vision_ms: event.timings.visionMs,
              prefill_ms: event.timings.prefillMs,
              decode_ms_per_token: event.timings.decodeMsPerToken,
              total_ms: performance.now() - start,
            },
            ...(picture ? { picture: `data:image/png;base64,${picture}` } : {}),
          },
        };
      }
    }
  } catch (error) {
    if (options.signal.aborted) throw options.signal.reason;
    throw toApiError(error, error instanceof VisdropError && error.code === 'E_IMAGE' && chat.image ? chat.image.param : null);
  }
  throw new ApiError(500, 'server_error', 'generation ended without a done event');
}
