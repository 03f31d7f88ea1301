// LlavaForConditionalGeneration in float64: CLIP features from the configured layer, projected,
// spliced over the image-token embeddings, then the Llama decoder; plus KV-cache-free greedy decoding.
import type { LlavaArch } from '../../config/llava.js';
import { OptionError, PromptError } from '../../errors.js';
import { referenceVision } from './clip.js';
import { referenceDecoder, referenceEmbed } from './llama.js';
import { referenceProjector } from './projector.js';
import type { WeightLookup } from './weights.js';

/** hiddenStates[visionLayersUsed], minus the class token under 'default', projected: [imageTokensPerImage, Dt]. */
export function referenceImageFeatures(arch: LlavaArch, w: WeightLookup, pixelValues: Float32Array): Float64Array {
  const state = referenceVision(arch, w, pixelValues).hiddenStates[arch.visionLayersUsed]!;
  const selected = arch.selectStrategy === 'default' ? state.subarray(arch.vision.hiddenSize) : state;
  return referenceProjector(arch, w, selected, arch.imageTokensPerImage);
}

/**
 * Embeds inputIds and overwrites the rows at image-token positions, in order, with imageFeatures
 * [imageTokensPerImage, Dt] (HF's masked_scatter). Image-token ids are never looked up.
 */
export function referenceMergeEmbeddings(
  arch: LlavaArch,
  w: WeightLookup,
  inputIds: readonly number[],
  imageFeatures: Float64Array,
): Float64Array {
  const dim = arch.text.hiddenSize;
  const imagePositions = inputIds.flatMap((id, t) => (id === arch.imageTokenId ? [t] : []));
  if (imagePositions.length !== arch.imageTokensPerImage) {
    throw new PromptError({
      subject: 'input ids',
      expected: `${arch.imageTokensPerImage} image tokens (id ${arch.imageTokenId}) for one image`,
      found: String(imagePositions.length),
    });
  }
  // Token 0 stands in for image tokens, whose id may lie outside the vocabulary; those rows are replaced.
  const embeddings = referenceEmbed(
    arch,
    w,
    inputIds.map((id) => (id === arch.imageTokenId ? 0 : id)),
  );
  imagePositions.forEach((t, row) => embeddings.set(imageFeatures.subarray(row * dim, (row + 1) * dim), t * dim));
  return embeddings;
}

/** Full multimodal forward at positions 0..T-1; logits and hiddenStates as referenceDecoder's. */
export function referenceLlava(
  arch: LlavaArch,
  w: WeightLookup,
  inputIds: readonly number[],
  pixelValues: Float32Array,
  options: { readonly lastRowLogits?: boolean } = {},
): { logits: Float64Array; hiddenStates: Float64Array[] } {
  const embeddings = referenceMergeEmbeddings(arch, w, inputIds, referenceImageFeatures(arch, w, pixelValues));
  return referenceDecoder(arch, w, embeddings, positionsUpTo(inputIds.length), options);
}

/**
 * Greedy decoding (argmax, first index on ties) that reruns the whole sequence each step. Returns
 * only the new tokens, ending with the EOS token when one was produced. The image is encoded once,
 * and features go only where the prompt put image tokens: generated tokens are always embedded,
 * as in HF, where pixel values are merged on the first step only.
 */
export function referenceGreedy(
  arch: LlavaArch,
  w: WeightLookup,
  inputIds: readonly number[],
  pixelValues: Float32Array,
  maxNewTokens: number,
  eosTokenIds: readonly number[],
): number[] {
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new OptionError({ subject: 'maxNewTokens', expected: 'a whole number ≥ 0', found: String(maxNewTokens) });
  }
  const dim = arch.text.hiddenSize;
  const vocab = arch.text.vocabSize;
  let embeddings = referenceMergeEmbeddings(arch, w, inputIds, referenceImageFeatures(arch, w, pixelValues));
  const generated: number[] = [];
  while (generated.length < maxNewTokens) {
    const tokens = embeddings.length / dim;
    const { logits } = referenceDecoder(arch, w, embeddings, positionsUpTo(tokens), { lastRowLogits: true });
    const next = argmax(logits);
    generated.push(next);
    if (eosTokenIds.includes(next)) break;
    const longer = new Float64Array(embeddings.length + dim);
    longer.set(embeddings);
    longer.set(referenceEmbed(arch, w, [next]), embeddings.length);
    embeddings = longer;
  }
  return generated;
}

function positionsUpTo(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

function argmax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
