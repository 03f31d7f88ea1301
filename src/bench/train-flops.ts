// Model FLOPs of one training micro-batch as the training graphs compute it (multiply-adds count 2;
// MatMuls and the patch projection only). Forward: the frozen vision tower, the projector, each
// decoder layer over the tokens it sees (full T x T attention scores and weighted sums: the
// training path masks, it does not skip), the lm_head on the labelled rows only. Backward: for
// every MatMul above the lowest trainable part, the input gradient (2x its forward work) and, for
// trainable weights, the weight gradient (another 2x); attention's backward is twice its forward.
// The per-layer forward recomputation of activation checkpointing is not model work: excluded.
// Legend: T tokens, D hidden, I MLP width, V vocab, P patches, Dv vision hidden, L labelled rows.
import type { LlavaArch } from '../config/llava.js';
import type { TrainableParts } from '../runtime/training-runtime.js';

export interface TrainingShape {
  /** Decoder tokens entering each layer (text + image tokens still present). */
  readonly tokensPerLayer: readonly number[];
  /** Positions the loss is taken at. */
  readonly labelled: number;
}

export interface TrainingFlops {
  readonly forward: number;
  readonly backward: number;
  readonly total: number;
}

export function trainingStepFlops(arch: LlavaArch, shape: TrainingShape, trainable: TrainableParts): TrainingFlops {
  const { text: t, vision: v } = arch;
  const D = t.hiddenSize;
  const qkv = (t.numHeads + 2 * t.numKvHeads) * t.headDim;
  const layerMacs = D * qkv + t.numHeads * t.headDim * D + 3 * D * t.intermediateSize;
  const P = v.numPatches;
  const S = P + 1;
  const Dv = v.hiddenSize;

  // Vision tower (forward only unless trained): patch projection, then each layer used.
  const visionLayerMacs = 4 * Dv * Dv + 2 * Dv * v.intermediateSize;
  const visionForward = 2 * P * 3 * v.patchSize * v.patchSize * Dv + arch.visionLayersUsed * (2 * S * visionLayerMacs + 4 * S * S * Dv);
  const projectorMacs = P * (Dv * D + D * D);

  let forward = visionForward + 2 * projectorMacs;
  let backward = trainable.vision ? 2 * visionForward : 0;
  // The projector: weight gradients when trained, plus the input gradient of its second Linear;
  // of its first only when the tower below trains.
  if (trainable.projector || trainable.vision) backward += 2 * projectorMacs * (trainable.projector ? 1 : 0) + 2 * P * D * D + (trainable.vision ? 2 * P * Dv * D : 0);
  // Every decoder layer passes gradients down when anything below its input trains (embed_tokens
  // is part of the LLM, so with the LLM trained that is every layer).
  const passesGradients = trainable.llm || trainable.vision || trainable.projector;
  for (const T of shape.tokensPerLayer) {
    const linear = 2 * T * layerMacs;
    const attention = 4 * T * T * t.numHeads * t.headDim;
    forward += linear + attention;
    if (passesGradients) backward += linear + 2 * attention;
    if (trainable.llm) backward += linear;
  }
  const head = 2 * shape.labelled * D * t.vocabSize;
  forward += head;
  backward += head + (trainable.llm ? head : 0);
  return { forward, backward, total: forward + backward };
}
