// Validation of `visdrop flops` options, shared by the CLI (flags arrive as text) and the API: every
// bad value becomes an OptionError naming the flag, what it accepts and what it got, before any
// count. Text is parsed strictly, so "1.5", "4x" or "" never pass as a count.
import { normalizeLlavaConfig, loadLlavaConfig, type LlavaArch } from '../config/llava.js';
import { OptionError } from '../errors.js';
import type { TokenReducer } from '../reduce/types.js';
import { ACCOUNTINGS, type Accounting, type FlopsInput } from './count.js';
import { FLOPS_PRESETS } from './presets.js';

export interface FlopsOptionsInput {
  /** A name in FLOPS_PRESETS; exactly one of preset and model. */
  readonly preset?: string;
  /** A checkpoint directory whose config.json gives the shapes. */
  readonly model?: string;
  readonly imageTokens?: number | string;
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
  const imageTokens = wholeNumber('--image-tokens', options.imageTokens, 1);
  if (imageTokens === undefined) throw new OptionError({ subject: '--image-tokens', expected: 'a whole number >= 1', found: 'nothing' });
  const arch = options.model !== undefined ? loadLlavaConfig(options.model) : presetArch(options.preset!);
  return {
    model: options.model ?? options.preset!,
    arch,
    input: {
      text: arch.text,
      ...(options.vision ? { vision: arch } : {}),
      imageTokens,
      textTokens: wholeNumber('--text-tokens', options.textTokens, 0) ?? DEFAULT_TEXT_TOKENS[accounting],
      accounting,
      reducer: options.reducer ?? null,
    },
  };
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
