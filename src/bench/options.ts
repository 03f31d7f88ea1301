// Validation of the benchmark's options, shared by the CLI (flags arrive as text) and the API
// (numbers): every bad value becomes an OptionError naming the flag, what it accepts and what it got.
// Text is parsed strictly, so "1.5", "4x", "0x10" or "" never pass as a count.
import { normalizeLlavaConfig, type LlavaArch } from '../config/llava.js';
import { OptionError } from '../errors.js';
import { nextImage, parseImageSize, type NextImage } from '../flops/index.js';
import { PRESETS, type RawLlavaConfig } from '../config/presets.js';
import { benchStrategies, type BenchStrategy, type ScaledList, type StrategyFlags } from './strategies.js';

/** The strategy flags (--reduce lists several) come as generate's, with --mustdrop-budgets added. */
export interface BenchOptionsInput extends StrategyFlags {
  /** A preset name (see PRESETS), or a label for `config`. */
  readonly preset: string;
  /** A raw config.json to run instead of the named preset (tests, custom shapes). */
  readonly config?: RawLlavaConfig;
  /** Decoder layers to build, from the first; default: all of them. */
  readonly layers?: number | string;
  /** Measured runs after the warm-up; default 3. */
  readonly runs?: number | string;
  /** Decode steps timed per run; default 8. */
  readonly decodeTokens?: number | string;
  /** LLaVA-NeXT only: the image's "WIDTHxHEIGHT"; default two tower sides square (672x672). */
  readonly imageSize?: string;
  /** Also break each prefill into its parts and time the attention kernels at two lengths. */
  readonly profile?: boolean;
}

/** The image a LLaVA-NeXT bench feeds: its size and tile grid, crops (base + tiles), image tokens. */
export interface BenchImage extends NextImage {
  readonly crops: number;
  readonly tokens: number;
}

export interface ResolvedBenchOptions {
  readonly preset: string;
  readonly config: RawLlavaConfig;
  readonly layers: number;
  /** The config's full decoder depth, for "layers of total". */
  readonly totalLayers: number;
  readonly runs: number;
  readonly decodeTokens: number;
  /** `none` first, then the strategies to compare with it. */
  readonly strategies: readonly BenchStrategy[];
  /** Default layer lists scaled to `layers` (empty at full depth or when every list was given). */
  readonly scaledLists: readonly ScaledList[];
  /** LLaVA-NeXT's image; null for LLaVA-1.5, whose one image is the tower's square. */
  readonly image: BenchImage | null;
  readonly profile: boolean;
}

export const DEFAULT_RUNS = 3;
export const DEFAULT_DECODE_TOKENS = 8;

export function resolveBenchOptions(input: BenchOptionsInput): ResolvedBenchOptions {
  const config = input.config ?? PRESETS[input.preset];
  if (!config) {
    throw new OptionError({
      subject: '--preset',
      expected: `one of ${Object.keys(PRESETS).join(', ')}`,
      found: JSON.stringify(input.preset),
    });
  }
  const arch = normalizeLlavaConfig(config);
  const image = benchImage(input.preset, arch, input.imageSize);
  const totalLayers = arch.text.numLayers;
  const layers = wholeNumber('--layers', input.layers, totalLayers, 1, totalLayers);
  const { strategies, scaled } = benchStrategies(input, layers, totalLayers);
  return {
    preset: input.preset,
    config,
    totalLayers,
    layers,
    runs: wholeNumber('--runs', input.runs, DEFAULT_RUNS, 1),
    decodeTokens: wholeNumber('--decode-tokens', input.decodeTokens, DEFAULT_DECODE_TOKENS, 1),
    strategies,
    scaledLists: scaled,
    image,
    profile: input.profile === true,
  };
}

/** The NeXT image: the size given, else 2x2 tiles of the tower's side (672x672, 2928 tokens on a 336 tower). */
function benchImage(preset: string, arch: LlavaArch, given: string | undefined): BenchImage | null {
  if (!arch.anyres) {
    if (given === undefined) return null;
    throw new OptionError({
      subject: '--image-size',
      expected: 'a LLaVA-NeXT preset (llava-next-7b); LLaVA-1.5 takes one image of the tower’s size',
      found: `--preset ${preset} (model_type "${arch.modelType}")`,
    });
  }
  const side = 2 * arch.vision.imageSize;
  const { image, tokens } = nextImage(arch, preset, given !== undefined ? parseImageSize(given) : [side, side]);
  return { ...image, crops: 1 + image.tileRows * image.tileCols, tokens };
}

/** A count from a flag (strict digits when text) or `fallback` when absent, within [min, max]. */
export function wholeNumber(flag: string, given: number | string | undefined, fallback: number, min: number, max = Infinity): number {
  if (given === undefined) return fallback;
  // Text must be plain digits: Number() alone would take '' as 0 and '0x10' or '1e1' as counts.
  const value = typeof given === 'string' ? (/^\d+$/.test(given.trim()) ? Number(given) : NaN) : given;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new OptionError({
      subject: flag,
      expected: max === Infinity ? `a whole number >= ${min}` : `a whole number in [${min}, ${max}]`,
      found: typeof given === 'string' ? JSON.stringify(given) : String(given),
    });
  }
  return value;
}
