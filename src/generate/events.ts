// What generation streams to its caller, in order: one `prefill` event, a `token` event per new
// token (and possibly a final `text` event), then one `done` event.
import type { ReductionRecord } from './prefill.js';

export interface PrefillTimings {
  /** Vision tower and projector. */
  readonly visionMs: number;
  /** Decoder over the whole prompt, up to the first logits. */
  readonly prefillMs: number;
}

export interface GenerationTimings extends PrefillTimings {
  /** Mean time of one decode step (0 when fewer than two tokens were generated). */
  readonly decodeMsPerToken: number;
}

export type StopReason = 'eos' | 'stop-string' | 'max-new-tokens' | 'context-full';

export type GenerationEvent =
  | {
      readonly type: 'prefill';
      /** The tokenizer's ids for the prompt, the image marker as one token. */
      readonly inputIds: readonly number[];
      /** [start, end) of the image tokens in the expanded sequence the decoder sees (null without an image). */
      readonly imageTokenRange: readonly [number, number] | null;
      /** Length of the expanded sequence. */
      readonly promptTokens: number;
      /** Logits [V] at the last prompt position. */
      readonly logits: Float32Array;
      /** What the token-reduction strategy kept, or null without one. */
      readonly reduction: ReductionRecord | null;
      readonly timings: PrefillTimings;
    }
  | {
      readonly type: 'token';
      readonly id: number;
      readonly text: string;
      /** The logits [V] this token was chosen from. */
      readonly logits: Float32Array;
    }
  /** Text held back in case it began a stop string, released at the end. */
  | { readonly type: 'text'; readonly text: string }
  | {
      readonly type: 'done';
      readonly reason: StopReason;
      readonly tokens: readonly number[];
      readonly text: string;
      readonly timings: GenerationTimings;
    };
