// Validation of `visdrop flops` options, shared by the CLI (flags arrive as text) and the API: every
// bad value becomes an OptionError naming the flag, what it accepts and what it got, before any
// count. Text is parsed strictly, so "1.5", "4x" or "" never pass as a count, nor "640x" as a size.
// The image tokens are given, or counted from an image size as LLaVA-NeXT's processor counts them.
import { normalizeLlavaConfig, loadLlavaConfig, type LlavaArch } from '../config/llava.js';
import { ImageError, OptionError } from '../errors.js';
import { gridShape, nextImageTokenCount } from '../image/index.js';
import type { TokenReducer } from '../reduce/types.js';
import { ACCOUNTINGS, type Accounting, type FlopsInput } from './count.js';
import { FLOPS_PRESETS } from './presets.js';

export interface FlopsOptionsInput {
  /** A name in FLOPS_PRESETS; exactly one of preset and model. */
  readonly preset?: string;
  /** A checkpoint directory whose config.json gives the shapes. */
  readonly model?: string;
  /** Exactly one of imageTokens and imageSize. */
  readonly imageTokens?: number | string;
  /** "WIDTHxHEIGHT" in pixels (LLaVA-NeXT models only): the image tokens its anyres tiling gives. */
  readonly imageSize?: string;
  /** Default: 36 with the `fastv` accounting (the FastV paper's 612 = 576 + 36), else 40. */
  readonly textTokens?: number | string;
  readonly accounting?: string;
  /** Count the vision tower and projector too (`full` only). */
  readonly vision?: boolean;
  readonly reducer?: TokenReducer | null;
}

export interface ResolvedFlopsOptions {
  /** The preset name or the checkpoint directory, for display. */
  readonly model: string;
  readonly arch: LlavaArch;
  readonly input: FlopsInput;
  /** With --image-size: the image and the tile grid its token count comes from. */
  readonly image?: NextImage;
}

/** An image as LLaVA-NeXT tiles it, for display. */
export interface NextImage {
  readonly width: number;
  readonly height: number;
  /** The canvas chosen among the pinpoints, in 336-pixel tiles. */
  readonly tileRows: number;
  readonly tileCols: number;
}

export const DEFAULT_TEXT_TOKENS: Readonly<Record<Accounting, number>> = { fastv: 36, pdrop: 40, full: 40 };

export function resolveFlopsOptions(options: FlopsOptionsInput): ResolvedFlopsOptions {
  if ((options.preset === undefined) === (options.model === undefined)) {
    throw new OptionError({ subject: '--preset / --model', expected: 'exactly one of them', found: options.preset === undefined ? 'neither' : 'both' });
  }
  const accounting = options.accounting;
  if (!isAccounting(accounting)) {
    throw new OptionError({
      subject: '--accounting',
      expected: `one of ${ACCOUNTINGS.join(', ')}`,
      found: accounting === undefined ? 'nothing' : JSON.stringify(accounting),
    });
  }
  if ((options.imageTokens === undefined) === (options.imageSize === undefined)) {
    throw new OptionError({
      subject: '--image-tokens / --image-size',
      expected: 'exactly one of them',
      found: options.imageTokens === undefined ? 'neither' : 'both',
    });
  }
  const imageTokens = wholeNumber('--image-tokens', options.imageTokens, 1);
  const size = options.imageSize !== undefined ? parseImageSize(options.imageSize) : undefined;
  const arch = options.model !== undefined ? loadLlavaConfig(options.model) : presetArch(options.preset!);
  const model = options.model ?? options.preset!;
  const next = size ? nextImage(arch, model, size) : undefined;
  return {
    model,
    arch,
    ...(next ? { image: next.image } : {}),
    input: {
      text: arch.text,
      ...(options.vision ? { vision: arch } : {}),
      // Each crop (the base image and every tile) goes through the tower.
      ...(next ? { imageTokens: next.tokens, crops: 1 + next.image.tileRows * next.image.tileCols } : { imageTokens: imageTokens! }),
      textTokens: wholeNumber('--text-tokens', options.textTokens, 0) ?? DEFAULT_TEXT_TOKENS[accounting],
      accounting,
      reducer: options.reducer ?? null,
      anyres: arch.anyres !== null,
    },
  };
}

/** "640x480" -> [640, 480]; both sides whole numbers >= 1 (the bench's --image-size too). */
export function parseImageSize(text: string): [width: number, height: number] {
  const match = /^(\d+)x(\d+)$/i.exec(text.trim());
  const sides = match ? [Number(match[1]), Number(match[2])] : [];
  if (sides.length !== 2 || !sides.every((n) => Number.isSafeInteger(n) && n >= 1)) {
    throw new OptionError({ subject: '--image-size', expected: 'WIDTHxHEIGHT in pixels, two whole numbers >= 1 (e.g. 640x480)', found: JSON.stringify(text) });
  }
  return [sides[0]!, sides[1]!];
}

/**
 * The tile grid and image token count of a `width` x `height` image on a LLaVA-NeXT model: the
 * processor's count, with the tower's input side as the crop size (336 in every llava-hf NeXT).
 */
export function nextImage(arch: LlavaArch, model: string, [width, height]: [number, number]): { image: NextImage; tokens: number } {
  if (!arch.anyres) {
    throw new OptionError({
      subject: '--image-size',
      expected: 'a LLaVA-NeXT model (--preset llava-next-7b, or a llava_next config.json); give --image-tokens otherwise',
      found: `${model} (model_type "${arch.modelType}")`,
    });
  }
  const { imageSize: crop, gridSize } = arch.vision;
  try {
    const [tileRows, tileCols] = gridShape([height, width], arch.anyres.pinpoints, crop);
    return { image: { width, height, tileRows, tileCols }, tokens: nextImageTokenCount([height, width], arch.anyres.pinpoints, crop, gridSize) };
  } catch (error) {
    // An image too thin for every canvas keeps no feature row or column after unpadding.
    if (!(error instanceof ImageError)) throw error;
    throw new OptionError({ subject: '--image-size', expected: error.expected, found: `${width}x${height}: ${error.found}`, cause: error });
  }
}

function isAccounting(name: string | undefined): name is Accounting {
  return (ACCOUNTINGS as readonly (string | undefined)[]).includes(name);
}

function presetArch(name: string): LlavaArch {
  const config = FLOPS_PRESETS[name];
  if (!config) {
    throw new OptionError({ subject: '--preset', expected: `one of ${Object.keys(FLOPS_PRESETS).join(', ')}`, found: JSON.stringify(name) });
  }
  return normalizeLlavaConfig(config);
}

function wholeNumber(flag: string, given: number | string | undefined, min: number): number | undefined {
  if (given === undefined) return undefined;
  // Text must be plain digits: Number() alone would take '' as 0 and '0x10' or '1e1' as counts.
  const value = typeof given === 'string' ? (/^\d+$/.test(given.trim()) ? Number(given) : NaN) : given;
  if (!Number.isInteger(value) || value < min) {
    throw new OptionError({ subject: flag, expected: `a whole number >= ${min}`, found: typeof given === 'string' ? JSON.stringify(given) : String(given) });
  }
  return value;
}
