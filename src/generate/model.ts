// The public entry point: `loadModel(dir)` opens a llava-hf checkpoint directory (config,
// preprocessor, tokenizer, chat template, weights) and returns a model whose `generate` streams
// events. Everything a request can get wrong is checked before any heavy work starts.
import { CONFIG_FILE, loadLlavaConfig, type LlavaArch } from '../config/llava.js';
import { loadPreprocessorConfig, type ImagePreprocessing } from '../config/preprocessor.js';
import { openCheckpoint } from '../checkpoint/index.js';
import { OptionError } from '../errors.js';
import { anyresPixelValues, decodeImage, decodeImageBuffer, loadLlavaNextPreprocessorConfig, preprocessImage, type AnyresPreprocessing, type DecodeLimits } from '../image/index.js';
import { llavaWeights, storedName } from '../models/llava/weight-names.js';
import { llavaTensorList } from '../models/llava/tensor-list.js';
import { LlavaRuntime, type LoadProgress } from '../runtime/llava-runtime.js';
import { GraphCache, type CachedGraphOpener, type GraphCacheOptions } from '../runtime/graph-cache.js';
import type { SessionSettings } from '../runtime/session.js';
import { linearPlan } from '../quant/format.js';
import { buildPrompt, loadChatTemplate, loadTokenizer, StreamDecoder, type ChatMessage, type ChatTemplate, type TextTokenizer } from '../text/index.js';
import type { GenerationEvent } from './events.js';
import { generate } from './loop.js';
import type { SamplingOptions } from './sampling.js';
import type { TokenReducer } from '../reduce/types.js';
import type { AnyresPixelValues, PixelValues } from './vision.js';
import type { WeightFormatOptions } from '../quant/format.js';

/** `weights` picks f32, q8 or q4 Linear layers (see WeightFormatOptions); default f32. */
export interface LoadOptions extends WeightFormatOptions {
  /**
   * The converted-model cache of q8 and q4 graphs (runtime/graph-cache.ts): on by default, in
   * defaultCacheDir(); `false` turns it off. f32 graphs are the checkpoint's weights as stored, so
   * they are never cached.
   */
  readonly cache?: false | GraphCacheOptions;
  /** Told about what the load worked around (a corrupt cache entry, a full disk); default: process.emitWarning. */
  readonly onWarning?: (message: string) => void;
  /** Threads per operator (default: onnxruntime's choice, the machine's cores). */
  readonly threads?: number;
  /** Pad images to a square with the mean colour before resizing (original LLaVA's `pad` mode). */
  readonly padToSquare?: boolean;
  readonly onProgress?: (progress: LoadProgress) => void;
}

export interface GenerateRequest {
  /** An image file path or its encoded bytes (JPEG, PNG, WebP, ...). */
  readonly image?: string | Uint8Array;
  /** Pre-computed pixel values instead of `image`: [1, 3, H, W], or LLaVA-NeXT's crops with the image size. */
  readonly pixelValues?: PixelValues | AnyresPixelValues;
  /** A question, rendered with the checkpoint's chat template. */
  readonly prompt?: string;
  /** Text used verbatim; its `<image>` marks where the image goes. */
  readonly rawPrompt?: string;
  /** A conversation rendered with the chat template (exactly one of prompt, rawPrompt, messages). */
  readonly messages?: readonly ChatMessage[];
  readonly maxNewTokens?: number;
  /** 0 or absent: greedy. */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly seed?: number;
  readonly stop?: readonly string[];
  /**
   * A token-reduction strategy, e.g. `pyramidDrop({ layers: [8, 16, 24], ratios: [0.5, 0.25, 0.125] })`
   * or `fastV({ k: 2, r: 0.5 })`; absent or null: none.
   */
  readonly reduce?: TokenReducer | null;
  /** Aborting stops the generation within one step; the generator then throws the signal's reason. */
  readonly signal?: AbortSignal;
}

export const DEFAULT_MAX_NEW_TOKENS = 128;

export class LlavaModel {
  private constructor(
    readonly dir: string,
    readonly arch: LlavaArch,
    readonly preprocessing: ImagePreprocessing,
    /** LLaVA-NeXT's tiling settings; null for LLaVA-1.5. */
    readonly anyresPreprocessing: AnyresPreprocessing | null,
    readonly tokenizer: TextTokenizer,
    readonly template: ChatTemplate | null,
    readonly runtime: LlavaRuntime,
    /** Wall time to open the checkpoint and build every session. */
    readonly loadMs: number,
    /** Weight graphs read from the converted-model cache (0: all built from the checkpoint). */
    readonly cachedGraphs: number,
  ) {}

  static async load(dir: string, options: LoadOptions = {}): Promise<LlavaModel> {
    const start = performance.now();
    const arch = loadLlavaConfig(dir);
    const preprocessing = { ...loadPreprocessorConfig(dir), ...(options.padToSquare ? { padToSquare: true } : {}) };
    const anyresPreprocessing = arch.anyres ? loadLlavaNextPreprocessorConfig(dir) : null;
    const tokenizer = loadTokenizer(dir);
    const template = loadChatTemplate(dir);
    const checkpoint = openCheckpoint(dir);
    const settings = options.threads ? { intraOpThreads: options.threads } : {};
    const graphs = cachedGraphOpener(dir, checkpoint.fileNames(), options, settings);
    try {
      // Every tensor is checked before the first graph is built, so a bad checkpoint fails in
      // milliseconds rather than minutes into a load.
      for (const { name, shape } of llavaTensorList(arch)) checkpoint.checkFloatTensor(storedName(checkpoint, name), shape);
      const runtime = await LlavaRuntime.create(arch, llavaWeights(checkpoint), {
        ...settings,
        ...(options.weights ? { weights: options.weights } : {}),
        ...(options.q4BlockSize ? { q4BlockSize: options.q4BlockSize } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(graphs ? { graphs } : {}),
      });
      await graphs?.finish();
      const loadMs = performance.now() - start;
      return new LlavaModel(dir, arch, preprocessing, anyresPreprocessing, tokenizer, template, runtime, loadMs, graphs?.hits ?? 0);
    } catch (error) {
      graphs?.abandon();
      throw error;
    } finally {
      checkpoint.close();
    }
  }

  /** Decodes and preprocesses an image as the checkpoint's image processor does (anyres tiling for LLaVA-NeXT). */
  async pixelValues(image: string | Uint8Array, limits: DecodeLimits = {}): Promise<PixelValues | AnyresPixelValues> {
    const rgb = typeof image === 'string' ? await decodeImage(image) : await decodeImageBuffer(image, 'image bytes', limits);
    return this.anyresPreprocessing ? anyresPixelValues(rgb, this.anyresPreprocessing) : preprocessImage(rgb, this.preprocessing);
  }

  /** The prompt text and its ids (image marker as one token), as the decoder will see them. */
  encodePrompt(request: Pick<GenerateRequest, 'prompt' | 'rawPrompt' | 'messages'>, hasImage: boolean): { text: string; inputIds: number[] } {
    const built = buildPrompt({
      tokenizer: this.tokenizer,
      template: this.template,
      imageTokenId: this.arch.imageTokenId,
      hasImage,
      ...(request.prompt !== undefined ? { prompt: request.prompt } : {}),
      ...(request.rawPrompt !== undefined ? { rawPrompt: request.rawPrompt } : {}),
      ...(request.messages !== undefined ? { messages: request.messages } : {}),
    });
    return { text: built.text, inputIds: built.inputIds };
  }

  /** Streams the answer to `request` as events; see GenerationEvent. */
  async *generate(request: GenerateRequest): AsyncGenerator<GenerationEvent> {
    const settings = this.settings(request);
    if (request.image !== undefined && request.pixelValues !== undefined) {
      throw new OptionError({ subject: 'image input', expected: 'either an image or pixel values', found: 'both' });
    }
    const hasImage = request.image !== undefined || request.pixelValues !== undefined;
    const { inputIds } = this.encodePrompt(request, hasImage);
    const pixelValues = request.pixelValues ?? (request.image !== undefined ? await this.pixelValues(request.image) : null);
    yield* generate(this.runtime, { inputIds, pixelValues }, settings);
  }

  release(): Promise<void> {
    return this.runtime.release();
  }

  private settings(request: GenerateRequest) {
    const maxNewTokens = request.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) {
      throw new OptionError({ subject: 'max-new-tokens', expected: 'a whole number >= 1', found: String(maxNewTokens) });
    }
    const temperature = request.temperature ?? 0;
    const sampling: SamplingOptions =
      temperature === 0
        ? { kind: 'greedy' }
        : {
            kind: 'sample',
            temperature,
            seed: request.seed ?? 0,
            ...(request.topK !== undefined ? { topK: request.topK } : {}),
            ...(request.topP !== undefined ? { topP: request.topP } : {}),
          };
    const eos = new Set([...this.arch.text.eosTokenIds, ...(this.tokenizer.eosTokenId !== undefined ? [this.tokenizer.eosTokenId] : [])]);
    return {
      maxNewTokens,
      sampling,
      stopStrings: request.stop ?? [],
      eosTokenIds: [...eos],
      decoder: new StreamDecoder(this.tokenizer),
      reducer: request.reduce ?? null,
      ...(request.signal ? { signal: request.signal } : {}),
    };
  }
}

/** The cache's opener for a quantised load, or null (f32, or the cache turned off). */
function cachedGraphOpener(dir: string, files: readonly string[], options: LoadOptions, settings: SessionSettings): CachedGraphOpener | null {
  const plan = linearPlan(options); // validates the format options before anything touches the cache
  const format = options.weights ?? 'f32';
  if (format === 'f32' || options.cache === false) return null;
  const warn = options.onWarning ?? ((message: string) => process.emitWarning(message, 'VisdropWarning'));
  const cache = new GraphCache({ ...options.cache, onWarning: warn });
  // The graphs depend on the config and the weights, and on the format's plan of encodings.
  return cache.opener(GraphCache.source(dir, [CONFIG_FILE, ...files], { weights: format, plan }), settings);
}

/**
 * Opens a llava-hf checkpoint directory.
 * @example
 * const model = await loadModel('llava-1.5-7b-hf');
 * for await (const event of model.generate({ image: 'cat.jpg', prompt: 'What is in the picture?' })) {
 *   if (event.type === 'token') process.stdout.write(event.text);
 * }
 */
export function loadModel(dir: string, options: LoadOptions = {}): Promise<LlavaModel> {
  return LlavaModel.load(dir, options);
}
