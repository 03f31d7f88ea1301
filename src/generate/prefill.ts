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
  /** Checked before each segment: an aborted request stops at the next strategy boundary. */
  signal?: AbortSignal,
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
    signal?.throwIfAborted();
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
        keysBefore: () => cachedKeys(cache, boundary - 1),
        finalNormWeight: runtime.finalNormWeight,
        cosineDistances: (vectors, count) => runtime.cosineDistances(vectors, count),
        anyres: runtime.arch.anyres !== null,
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

/** The post-rotary keys [Hk, Hd, length] decoder layer `layer` has cached, without spare slots. */
function cachedKeys(cache: KvCache, layer: number): { keysT: Float32Array; numKvHeads: number; headDim: number } {
  if (layer < 0) throw new OptionError({ subject: 'keys of the layer before', expected: 'a boundary after at least one decoder layer', found: 'boundary 0' });
  const kv = cache.layer(layer);
  const { numKvHeads, headDim } = kv;
  const { keysT } = kv.buffers();
  const C = kv.capacity;
  const T = kv.length;
  const out = new Float32Array(numKvHeads * headDim * T);
  for (let row = 0; row < numKvHeads * headDim; row++) out.set(keysT.subarray(row * C, row * C + T), row * T);
  return { keysT: out, numKvHeads, headDim };
}
