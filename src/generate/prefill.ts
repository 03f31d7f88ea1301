// Prefill in segments: the decoder runs from one strategy boundary to the next; at each boundary
// the strategy ranks and returns a plan, and the runtime's applyImagePlan applies it before the
// next segment. What was kept is recorded for results and pictures.
// Legend: T tokens, D hidden, N image tokens.
import { OptionError } from '../errors.js';
import { applyImagePlan, checkImagePlan, rowsSurvivingIn, type PrefillSequence } from '../runtime/image-tokens.js';
import type { KvCache } from '../runtime/kv-cache.js';
import type { LlavaRuntime } from '../runtime/llava-runtime.js';
import type { TokenReducer } from '../reduce/types.js';
import { StageRecorder, type ReductionRecord, type ReductionStage } from './reduction-record.js';

export type { ReductionRecord, ReductionStage };

export interface PrefillResult {
  /** Hidden state of the last prompt token after the last layer: [D]. */
  readonly lastHidden: Float32Array;
  readonly reduction: ReductionRecord | null;
}

/** Runs every decoder layer over the prompt, dropping image tokens where `reducer` says. */
export async function prefill(
  runtime: LlavaRuntime,
  start: PrefillSequence,
  cache: KvCache,
  reducer: TokenReducer | null,
  /** The vision-side stage's entry, when one ran: its `order` names the image span `start` holds. */
  visionStage: ReductionStage | null = null,
): Promise<PrefillResult> {
  const { numLayers: L, hiddenSize: D, numHeads } = runtime.arch.text;
  if (reducer && start.imageTokens.length === 0) {
    throw new OptionError({ subject: `--reduce ${reducer.name}`, expected: 'an image whose tokens to reduce', found: 'no image' });
  }
  reducer?.checkModel(L);
  if (reducer?.forPrompt) reducer = reducer.forPrompt(start, L);
  const recorder = new StageRecorder(start.imageTokens.length, visionStage);
  const imageTokensPerLayer: number[] = [];
  const sequenceOfLayer: PrefillSequence[] = [];
  let sequence = start;
  let from = 0;
  for (const boundary of [...(reducer?.boundaries ?? []), L]) {
    const rows = reducer && boundary < L ? reducer.attentionRowsBefore?.(boundary, sequence) : undefined;
    const ran = await runtime.decoderLayers(from, boundary, sequence, cache, rows ? { attentionRows: new Map([[boundary - 1, rows]]) } : {});
    for (let layer = from; layer < boundary; layer++) {
      imageTokensPerLayer.push(sequence.imageTokens.length);
      sequenceOfLayer.push(sequence);
    }
    sequence = { ...sequence, hidden: ran.state.hidden };
    if (reducer && boundary < L) {
      const current = sequence;
      const plan = await reducer.onBoundary({
        layer: boundary,
        originalImageTokens: start.imageTokens.length,
        sequence: current,
        numHeads,
        attention: ran.attentions.get(boundary - 1),
        scoresAtNextLayer: (queryRows) => runtime.attentionScores(boundary, current, queryRows),
      });
      if (plan) {
        checkImagePlan(plan, current.imageTokens.length, reducer.name);
        sequence = applyImagePlan(current, plan, D, reducer.positionPolicy, recorder.nextIdentity);
        recorder.decoderStage(boundary, plan, current.imageTokens, sequence.imageTokens);
      }
    }
    from = boundary;
  }
  const shrink = reducer?.shrinkCachesAfterPrefill;
  if (shrink) {
    for (let layer = shrink.from; layer < shrink.to; layer++) cache.layer(layer).keep(rowsSurvivingIn(sequenceOfLayer[layer]!, sequence));
  }
  const T = sequence.positions.length;
  return {
    lastHidden: sequence.hidden.slice((T - 1) * D, T * D),
    reduction: reducer ? { strategy: reducer.name, options: reducer.options, stages: recorder.stages, imageTokensPerLayer } : null,
  };
}
