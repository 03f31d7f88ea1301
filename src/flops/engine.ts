// Analytical work of a LLaVA forward pass as the engine's graphs compute it: multiply-adds count 2
// FLOPs, and only MatMuls and the patch convolution are counted (norms, softmax and activations are
// a fraction of a percent at these sizes). Also the bytes of weights one decode step has to read.
// Legend: T tokens, D hidden, H heads, Hk kv heads, Hd head dim, I MLP width, V vocab, S vision tokens.
import type { LlavaArch, TextArch } from '../config/llava.js';
import { queryBlocks } from '../models/llama/attention.js';

const F32_BYTES = 4;

/** Output widths of the q, k and v projections (grouped-query: k and v have Hk heads). */
function qkvWidth(t: TextArch): number {
  return (t.numHeads + 2 * t.numKvHeads) * t.headDim;
}

/** Weights of one decoder layer's MatMuls, as multiply-adds per token row. */
function decoderLayerMacsPerToken(t: TextArch): number {
  const { hiddenSize: D, numHeads: H, headDim: Hd, intermediateSize: I } = t;
  return D * qkvWidth(t) + H * Hd * D + 3 * D * I; // q, k, v, o; gate, up, down
}

/**
 * Query-key pairs a prefill's attention computes: each block of query rows against every key up to
 * its last row (models/llama/attention.ts), masked afterwards. T x T up to one block (1024 rows).
 */
function attentionPairs(tokens: number): number {
  return queryBlocks(tokens).reduce((pairs, [start, end]) => pairs + (end - start) * end, 0);
}

/**
 * FLOPs of one decoder layer over `tokens` rows in a prefill: the projections and the MLP, and the
 * attention's scores and weighted sum over the query-key pairs the graphs compute (attentionPairs).
 */
export function decoderLayerFlops(t: TextArch, tokens: number): number {
  const T = tokens;
  return 2 * T * decoderLayerMacsPerToken(t) + 2 * 2 * attentionPairs(T) * t.numHeads * t.headDim;
}

/** FLOPs of the lm_head for the last prompt row, the only logits a prefill computes. */
export function lastRowLogitsFlops(t: TextArch): number {
  return 2 * t.hiddenSize * t.vocabSize;
}

/**
 * FLOPs of a prefill of `tokens` rows through the text config's decoder layers and the lm_head for
 * the last row (what the engine's prefill timing covers).
 */
export function decoderPrefillFlops(t: TextArch, tokens: number): number {
  return t.numLayers * decoderLayerFlops(t, tokens) + lastRowLogitsFlops(t);
}

/**
 * FLOPs of scoring `rows` query rows as the next layer would, without running it (the runtime's
 * attentionScores, PyramidDrop's ranking): that layer's q, k and v projections over all `tokens`
 * rows (its attention-input graph computes the three), then one score per row, key and head.
 */
export function nextLayerScoresFlops(t: TextArch, tokens: number, rows: number): number {
  return 2 * tokens * t.hiddenSize * qkvWidth(t) + 2 * rows * tokens * t.numHeads * t.headDim;
}

/**
 * FLOPs of encoding images into `imageTokens` decoder tokens as the engine's vision timing covers
 * it: the patch convolution and the CLIP layers that run (`visionLayersUsed`, over S = patches +
 * class token) once per image, and the projector. An image gives `imageTokensPerImage` tokens, so
 * without `crops` larger counts (LLaVA-NeXT's: 2880 = 5 x 576) are taken as
 * ceil(tokens / imageTokensPerImage) tower runs and the projector runs over the tokens. With
 * LLaVA-NeXT's `crops` (base + tiles) the tower runs once per crop and the projector over every
 * crop's full grid, since unpadding and newlines come after it.
 */
export function visionFlops(arch: LlavaArch, imageTokens = arch.imageTokensPerImage, crops?: number): number {
  const v = arch.vision;
  const S = v.numPatches + 1;
  const Dv = v.hiddenSize;
  const patchEmbedding = 2 * v.numPatches * Dv * 3 * v.patchSize * v.patchSize;
  const perLayer = 2 * S * (4 * Dv * Dv + 2 * Dv * v.intermediateSize) + 2 * 2 * S * S * Dv;
  const Dt = arch.text.hiddenSize;
  const projectedRows = crops === undefined ? imageTokens : crops * arch.imageTokensPerImage;
  const projector = 2 * projectedRows * (Dv * Dt + Dt * Dt);
  const images = crops ?? Math.ceil(imageTokens / arch.imageTokensPerImage);
  return images * (patchEmbedding + arch.visionLayersUsed * perLayer) + projector;
}

/**
 * Bytes of f32 weights one decode step reads: every decoder layer's matrices and norm vectors, the
 * final norm and the lm_head. The KV cache it also reads is left out (a few percent at ~600 tokens).
 */
export function decoderWeightBytes(t: TextArch): number {
  const perLayer = decoderLayerMacsPerToken(t) + 2 * t.hiddenSize; // + input and post-attention norms
  return F32_BYTES * (t.numLayers * perLayer + t.hiddenSize + t.vocabSize * t.hiddenSize);
}

/**
 * Bytes of f32 weights the runtime holds for `arch`: the vision embeddings and the CLIP layers that
 * run, the projector, the decoder (decoderWeightBytes) and the embedding table looked up in JS.
 */
export function modelWeightBytes(arch: LlavaArch): number {
  const v = arch.vision;
  const Dv = v.hiddenSize;
  const Dt = arch.text.hiddenSize;
  const embeddings = Dv * 3 * v.patchSize * v.patchSize + Dv + (v.numPatches + 1) * Dv + 2 * Dv; // + pre-layernorm
  // q, k, v, out projections and fc1, fc2 with their biases, and two layer norms.
  const visionLayer = 4 * (Dv * Dv + Dv) + 2 * Dv * v.intermediateSize + v.intermediateSize + Dv + 2 * 2 * Dv;
  const projector = Dv * Dt + Dt * Dt + (arch.projectorBias ? 2 * Dt : 0);
  const embedTable = arch.text.vocabSize * Dt;
  // Every CLIP layer is held (strategies may need the attention of layers past the feature layer).
  const visionAndText = embeddings + arch.vision.numLayers * visionLayer + projector + embedTable;
  return F32_BYTES * visionAndText + decoderWeightBytes(arch.text);
}

/**
 * DART's selection (reduce/dart.ts): the L1 norm of every row's key (H x Hd values, grouped-query
 * heads repeated), the final norm's weight on the image rows and the text pivots, then per pivot a
 * cosine (dot product and norm, 4 FLOPs a value) against a pool that loses `(kept - P_I) / pivots`
 * tokens after each pivot. `tokens` rows, `imageTokens` of them image tokens, `kept` kept.
 */
export function dartScoringFlops(t: TextArch, counts: { tokens: number; imageTokens: number; kept: number }, pivotImage: number, pivotText: number): number {
  const D = t.hiddenSize;
  const pivots = pivotImage + pivotText;
  const picks = (counts.kept - pivotImage) / pivots;
  let cosines = 0;
  for (let i = 0; i < pivots; i++) cosines += counts.imageTokens - pivotImage - i * picks;
  return counts.tokens * t.numHeads * t.headDim + (counts.imageTokens + pivotText) * D + 4 * D * cosines;
}

/**
 * DivPrune's selection (reduce/divprune.ts): the row norms and the N x N cosine matrix of the image
 * tokens' embeddings (models/similarity.ts), then k greedy steps each updating N running minima.
 */
export function divPruneScoringFlops(t: TextArch, imageTokens: number, kept: number): number {
  const N = imageTokens;
  return 3 * N * t.hiddenSize + 2 * N * N * t.hiddenSize + N * N + kept * N;
}
