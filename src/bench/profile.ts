// Where a prefill's time goes: every part the runtime times as it runs (each layer's three graphs,
// the cache writes, the scoring graphs a strategy runs, the lm_head row), and the JavaScript between
// them as the rest of the prefill's wall time (embedding lookup, feeds, applying reduction plans).
import type { DecoderPart, PartTimer } from '../runtime/llava-runtime.js';
import { median } from './stats.js';

/** The runtime's parts, then `js`: the prefill's wall time that no timed part covers. */
export const PROFILE_PARTS = ['attention-input', 'attention', 'attention-output', 'scores', 'cache-write', 'lm-head', 'js'] as const;
export type ProfilePart = (typeof PROFILE_PARTS)[number];

export interface PrefillProfile {
  /** ms per part over the whole prefill. */
  readonly parts: Readonly<Record<ProfilePart, number>>;
  /** ms of the attention graph in each decoder layer (it shrinks with the tokens a strategy drops). */
  readonly attentionMsPerLayer: readonly number[];
}

/** Collects one prefill's parts from the runtime's part timer. */
export class PartRecorder {
  private readonly totals = new Map<DecoderPart, number>();
  private readonly attention: number[];

  constructor(layers: number) {
    this.attention = Array<number>(layers).fill(0);
  }

  readonly timer: PartTimer = (part, layer, ms) => {
    this.totals.set(part, (this.totals.get(part) ?? 0) + ms);
    if (part === 'attention') this.attention[layer]! += ms;
  };

  /** The parts so far, with `js` the rest of `prefillMs`. */
  profile(prefillMs: number): PrefillProfile {
    const timed = (part: DecoderPart) => this.totals.get(part) ?? 0;
    const covered = [...this.totals.values()].reduce((a, b) => a + b, 0);
    const parts = Object.fromEntries(PROFILE_PARTS.map((part) => [part, part === 'js' ? prefillMs - covered : timed(part)]));
    return { parts: parts as Record<ProfilePart, number>, attentionMsPerLayer: [...this.attention] };
  }
}

/** Part by part and layer by layer, the median over runs. */
export function medianProfile(profiles: readonly PrefillProfile[]): PrefillProfile {
  const parts = Object.fromEntries(PROFILE_PARTS.map((part) => [part, median(profiles.map((p) => p.parts[part]))]));
  const layers = profiles[0]!.attentionMsPerLayer.length;
  return {
    parts: parts as Record<ProfilePart, number>,
    attentionMsPerLayer: Array.from({ length: layers }, (_, layer) => median(profiles.map((p) => p.attentionMsPerLayer[layer]!))),
  };
}
